/**
 * Ledger benchmark. Workload: `accounts` customer accounts (10,000 by default) each with a
 * credential and a balance, and 16 merchant accounts; a payment is an authorize (unrestricted
 * credential, random payer and merchant) followed by a full capture. Measured: authorize+capture
 * pairs per second
 *   - with group commit (many requests per transaction, `window` pairs in flight), and
 *   - with one transaction per request (pairs in flight = twice the pool size),
 * on PGlite (in memory) and on PostgreSQL (DATABASE_URL or 127.0.0.1:5432/test, a fresh schema,
 * dropped afterwards) when reachable. Each figure is the median of `runs`. On a shared machine the
 * wall-clock rate depends on the neighbours, so the CPU each pair costs is reported too: pairs per
 * CPU-second of this process plus, for a local PostgreSQL, its backends serving the bench (from /proc).
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { AccountKind, HoldState } from '../proto/gen/biopay/v1/ledger.js';
import { dropSchema, openDatabase, probePostgres, type SqlClient } from '../core/db/index.js';
import { GROUP_COMMIT_DEFAULTS, Ledger, type GroupCommitOptions } from '../core/ledger/index.js';

export interface LedgerBenchOptions {
  json: boolean;
  runs: number;
  accounts?: number;
  /** Pairs per group-commit run; one-transaction runs use a tenth (they are that much slower). */
  pairs?: number;
  /** Databases to measure; both by default. */
  targets?: readonly ('pglite' | 'postgres')[];
}

const POSTGRES_URL_DEFAULT = 'postgres://postgres@127.0.0.1:5432/test';
const MERCHANTS = 16;
const POOL_SIZE = 8;
const GROUP_WINDOW = 4_000;
/** Group-commit ledgers sharing the database, payers split between them as shards of account nodes. */
const GROUP_SHARDS = Number(process.env.LEDGER_BENCH_SHARDS ?? 2);
const GROUP_COMMIT: GroupCommitOptions = { batchSizeMax: 2_000, lingerMs: 1, queueLengthMax: 20_000, batchIntervalMs: GROUP_COMMIT_DEFAULTS.batchIntervalMs };
const SETUP_CONCURRENCY = 32;
const PAIR_AMOUNT_MINOR = 1n;

interface Population {
  payers: { accountId: string; credentialId: string }[];
  merchants: string[];
}

export async function runLedgerBench(options: LedgerBenchOptions): Promise<Record<string, unknown>> {
  const accounts = options.accounts ?? 10_000;
  const pairs = options.pairs ?? 20_000;
  const result: Record<string, unknown> = {
    workload: `${accounts} payer accounts, ${MERCHANTS} merchants; pair = authorize + full capture; ` +
      `group commit: ${pairs} pairs, ${GROUP_WINDOW} in flight, batch <= ${GROUP_COMMIT.batchSizeMax} every ${GROUP_COMMIT.batchIntervalMs} ms at most, ` +
      `${GROUP_SHARDS} ledgers (payers sharded between them, as account nodes would be; on PostgreSQL one thread each) paying the same merchants; ` +
      `after a warm-up of ${warmUpPairs(pairs)} pairs; one tx per request: ${Math.max(1, Math.floor(pairs / 10))} pairs, ${POOL_SIZE * 2} in flight; median of ${options.runs} runs`,
  };
  const targets = options.targets ?? ['pglite', 'postgres'];
  if (targets.includes('pglite')) {
    result.pglite = await benchTarget('pglite', () => openDatabase({}), undefined, accounts, pairs, options.runs);
  }
  if (!targets.includes('postgres')) return result;
  const url = process.env.DATABASE_URL || POSTGRES_URL_DEFAULT;
  if (await probePostgres(url)) {
    const schema = `bench_${randomBytes(4).toString('hex')}`;
    try {
      // Tagged so the bench can find its own backends' CPU time.
      const tagged = `${url}${url.includes('?') ? '&' : '?'}application_name=${schema}`;
      result.postgres = await benchTarget('postgres', () => openDatabase({ url: tagged, schema, poolSize: POOL_SIZE }), { url: tagged, schema }, accounts, pairs, options.runs);
    } finally {
      await dropSchema(url, schema);
    }
  } else {
    result.postgres = 'unreachable';
  }
  return result;
}

async function benchTarget(
  name: string,
  open: () => Promise<SqlClient>,
  postgres: PostgresTarget | undefined,
  accounts: number,
  pairs: number,
  runs: number,
): Promise<Record<string, unknown>> {
  const applicationName = postgres?.schema;
  const db = await open();
  try {
    progress(`${name}: creating ${accounts} accounts`);
    const setupLedger = await Ledger.open(db, { groupCommit: GROUP_COMMIT });
    const population = await populate(setupLedger, accounts, pairs * (runs + 1));
    await setupLedger.close();
    const grouped = postgres ? await workerShards(postgres, population) : await inProcessShards(db, population);
    const direct = await Ledger.open(db);
    const groupRates: number[] = [];
    const groupCpuRates: number[] = [];
    const directRates: number[] = [];
    const directCpuRates: number[] = [];
    // Fresh shard threads compile the hot paths first: that is start-up, not throughput.
    await grouped.run(`${name}-warm`, warmUpPairs(pairs));
    const loadAverage1m = loadavg()[0];
    for (let run = 1; run <= runs; run += 1) {
      const group = await measured(db, applicationName, () => grouped.run(`${name}-g${run}`, pairs), pairs);
      groupRates.push(group.rate);
      if (group.perCpuSecond !== undefined) groupCpuRates.push(group.perCpuSecond);
      progress(`${name}: run ${run}/${runs} group commit ${Math.round(group.rate)} pairs/s, ${Math.round(group.perCpuSecond ?? 0)} per CPU-s`);
      const directPairs = Math.max(1, Math.floor(pairs / 10));
      const one = await measured(db, applicationName, () => pairsPerSecond([direct], population, directPairs, POOL_SIZE * 2, `${name}-d${run}`), directPairs);
      directRates.push(one.rate);
      if (one.perCpuSecond !== undefined) directCpuRates.push(one.perCpuSecond);
      progress(`${name}: run ${run}/${runs} one tx per request ${Math.round(one.rate)} pairs/s, ${Math.round(one.perCpuSecond ?? 0)} per CPU-s`);
    }
    await grouped.close();
    await direct.close();
    const report = await direct.checkInvariants();
    if (report.problems.length > 0) throw new Error(`ledger invariants broken after the bench: ${report.problems.slice(0, 3).join('; ')}`);
    await expectCaptured(db, warmUpPairs(pairs) + runs * (pairs + Math.max(1, Math.floor(pairs / 10))));
    const groupMedian = median(groupRates);
    const directMedian = median(directRates);
    return {
      groupCommitPairsPerSecond: Math.round(groupMedian),
      oneTxPerRequestPairsPerSecond: Math.round(directMedian),
      speedup: Number((groupMedian / directMedian).toFixed(1)),
      groupCommitRuns: groupRates.map(Math.round),
      oneTxPerRequestRuns: directRates.map(Math.round),
      ...(groupCpuRates.length === runs ? { groupCommitPairsPerCpuSecond: Math.round(median(groupCpuRates)) } : {}),
      ...(directCpuRates.length === runs ? { oneTxPerRequestPairsPerCpuSecond: Math.round(median(directCpuRates)) } : {}),
      cpuCounted: applicationName ? 'this process + its PostgreSQL backends' : 'this process (PGlite runs inside it)',
      loadAverage1m,
      ...(applicationName ? { poolSize: POOL_SIZE } : {}),
    };
  } finally {
    await db.close();
  }
}

/** Every pair counted was committed: as many captured payments as pairs. */
async function expectCaptured(db: SqlClient, pairs: number): Promise<void> {
  const { rows } = await db.query<{ n: bigint }>('SELECT count(*) AS n FROM ledger_payments WHERE state = $1', [HoldState.HOLD_STATE_CAPTURED]);
  const captured = Number(rows[0]?.n ?? 0);
  if (captured !== pairs) throw new Error(`the bench counted ${pairs} pairs but the ledger holds ${captured} captured payments`);
}

/** The group-commit ledgers of a run: `run` answers pairs per second over all of them. */
interface GroupRunner {
  run(runId: string, pairs: number): Promise<number>;
  close(): Promise<void>;
}

interface PostgresTarget {
  url: string;
  schema: string;
}

/** PGlite lives in one thread: its shards share this one. */
async function inProcessShards(db: SqlClient, population: Population): Promise<GroupRunner> {
  const ledgers = await Promise.all(Array.from({ length: GROUP_SHARDS }, () => Ledger.open(db, { groupCommit: GROUP_COMMIT })));
  return {
    run: (runId, pairs) => pairsPerSecond(ledgers, population, pairs, GROUP_WINDOW, runId),
    async close() {
      for (const ledger of ledgers) await ledger.close();
    },
  };
}

const SHARD_WORKER_KIND = 'biopay-ledger-bench-shard';
const SHARD_POOL_SIZE = 2;

interface ShardData extends PostgresTarget {
  kind: typeof SHARD_WORKER_KIND;
  shard: number;
  shards: number;
  population: Population;
}

type ShardCommand = { type: 'run'; runId: string; pairs: number; window: number } | { type: 'close' };
type ShardReply = { type: 'ready' | 'done' | 'closed' } | { type: 'error'; message: string };

/**
 * On PostgreSQL each shard is a thread with its own ledger, pool and load, as account nodes are
 * processes of their own: one thread would cap every shard at one core.
 */
async function workerShards(target: PostgresTarget, population: Population): Promise<GroupRunner> {
  const workers = Array.from({ length: GROUP_SHARDS }, (_v, shard) => new Worker(new URL(import.meta.url), {
    workerData: { kind: SHARD_WORKER_KIND, ...target, shard, shards: GROUP_SHARDS, population } satisfies ShardData,
  }));
  const ask = (command: ShardCommand | undefined) => Promise.all(workers.map((worker, shard) => {
    const reply = nextReply(worker);
    if (command?.type === 'run') worker.postMessage({ ...command, runId: `${command.runId}-s${shard}`, pairs: shareOf(command.pairs, shard) });
    else if (command) worker.postMessage(command);
    return reply;
  }));
  try {
    await ask(undefined);
  } catch (error) {
    await Promise.all(workers.map((worker) => worker.terminate()));
    throw error;
  }
  return {
    async run(runId, pairs) {
      const startedMs = performance.now();
      await ask({ type: 'run', runId, pairs, window: Math.ceil(GROUP_WINDOW / GROUP_SHARDS) });
      return pairs / ((performance.now() - startedMs) / 1_000);
    },
    async close() {
      await ask({ type: 'close' }).finally(() => Promise.all(workers.map((worker) => worker.terminate())));
    },
  };
}

function warmUpPairs(pairs: number): number {
  return Math.max(1, Math.floor(pairs / 10));
}

function shareOf(pairs: number, shard: number): number {
  return Math.floor(pairs / GROUP_SHARDS) + (shard < pairs % GROUP_SHARDS ? 1 : 0);
}

function nextReply(worker: Worker): Promise<void> {
  return new Promise((resolve, reject) => {
    const onMessage = (reply: ShardReply) => {
      settle();
      if (reply.type === 'error') reject(new Error(`ledger bench shard: ${reply.message}`));
      else resolve();
    };
    const onError = (error: Error) => {
      settle();
      reject(error);
    };
    const settle = () => {
      worker.off('message', onMessage);
      worker.off('error', onError);
    };
    worker.on('message', onMessage);
    worker.on('error', onError);
  });
}

/** A shard thread: its payers (index % shards), all merchants, one group-commit ledger. */
async function serveShard(data: ShardData): Promise<void> {
  const port = parentPort!;
  try {
    const db = await openDatabase({ url: data.url, schema: data.schema, poolSize: SHARD_POOL_SIZE });
    const ledger = await Ledger.open(db, { groupCommit: GROUP_COMMIT });
    const population: Population = {
      payers: data.population.payers.filter((_payer, i) => i % data.shards === data.shard),
      merchants: data.population.merchants,
    };
    const handle = async (command: ShardCommand): Promise<ShardReply> => {
      if (command.type === 'run') {
        await pairsPerSecond([ledger], population, command.pairs, command.window, command.runId);
        return { type: 'done' };
      }
      await ledger.close();
      await db.close();
      return { type: 'closed' };
    };
    port.on('message', (command: ShardCommand) => {
      handle(command).then((reply) => port.postMessage(reply), (error: unknown) => port.postMessage({ type: 'error', message: String(error) }));
    });
    port.postMessage({ type: 'ready' } satisfies ShardReply);
  } catch (error) {
    port.postMessage({ type: 'error', message: String(error) } satisfies ShardReply);
  }
}

if (!isMainThread && (workerData as Partial<ShardData> | null)?.kind === SHARD_WORKER_KIND) void serveShard(workerData as ShardData);

/** Payers with an unrestricted credential and money for every pair of every run. */
async function populate(ledger: Ledger, accounts: number, totalPairs: number): Promise<Population> {
  const balanceMinor = BigInt(Math.ceil(totalPairs / accounts) * 4 + 10) * PAIR_AMOUNT_MINOR;
  const merchants: string[] = [];
  for (let i = 0; i < MERCHANTS; i += 1) {
    const merchant = await ledger.openAccount({ owner: `merchant ${i}`, currency: 'EUR', kind: AccountKind.ACCOUNT_KIND_MERCHANT, timeZone: '', idempotencyKey: '' });
    merchants.push(merchant.accountId);
  }
  const payers = await inParallel(accounts, SETUP_CONCURRENCY, async (i) => {
    const account = await ledger.openAccount({ owner: `payer ${i}`, currency: 'EUR', kind: AccountKind.ACCOUNT_KIND_CUSTOMER, timeZone: '', idempotencyKey: '' });
    const credentialId = `cred_${account.accountId}`;
    await ledger.registerCredential({ accountId: account.accountId, credentialId });
    if (i > 0 && i % 2_000 === 0) progress(`  ${i} accounts`);
    return { accountId: account.accountId, credentialId };
  });
  await inParallel(accounts, GROUP_WINDOW, (i) => ledger.deposit({ accountId: payers[i]!.accountId, amountMinor: balanceMinor, idempotencyKey: `seed-${payers[i]!.accountId}` }));
  return { payers, merchants };
}

/** Pairs per second; payer n is served by ledgers[n % ledgers.length], its shard's owner. */
async function pairsPerSecond(ledgers: Ledger[], population: Population, pairs: number, window: number, runId: string): Promise<number> {
  const startedMs = performance.now();
  await inParallel(pairs, window, async (i) => {
    const payerIndex = Math.floor(Math.random() * population.payers.length);
    const payer = population.payers[payerIndex]!;
    const ledger = ledgers[payerIndex % ledgers.length]!;
    const paymentId = `${runId}-${i}`;
    const answer = await ledger.authorize({
      paymentId,
      accountId: payer.accountId,
      credentialId: payer.credentialId,
      merchantAccountId: population.merchants[i % population.merchants.length]!,
      amount: { amountMinor: PAIR_AMOUNT_MINOR, currency: 'EUR' },
      context: undefined,
      holdTimeoutMs: 0,
    });
    if (!answer.approved) throw new Error(`bench payment refused: ${answer.refusals.map((r) => r.code).join(', ')}`);
    await ledger.capture({ paymentId, amountMinor: 0n });
  });
  return pairs / ((performance.now() - startedMs) / 1_000);
}

/**
 * The rate `run` returns, and pairs per CPU-second of this process plus the database backends named
 * `applicationName` (undefined when their /proc entries cannot be read: PostgreSQL is elsewhere).
 */
async function measured(
  db: SqlClient,
  applicationName: string | undefined,
  run: () => Promise<number>,
  pairs: number,
): Promise<{ rate: number; perCpuSecond: number | undefined }> {
  const before = applicationName ? backendCpuMs(await backendPids(db, applicationName)) : new Map<number, number>();
  const processBefore = process.cpuUsage();
  const rate = await run();
  const processUsage = process.cpuUsage(processBefore);
  const after = applicationName ? backendCpuMs(await backendPids(db, applicationName)) : new Map<number, number>();
  if (applicationName && after.size === 0) return { rate, perCpuSecond: undefined };
  // A backend opened during the run counts whole; one the pool closed meanwhile had idled 10 s.
  let cpuMs = (processUsage.user + processUsage.system) / 1_000;
  for (const [pid, ms] of after) cpuMs += ms - (before.get(pid) ?? 0);
  return { rate, perCpuSecond: cpuMs > 0 ? pairs / (cpuMs / 1_000) : undefined };
}

async function backendPids(db: SqlClient, applicationName: string): Promise<number[]> {
  const { rows } = await db.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE application_name = $1', [applicationName]);
  return rows.map((row) => Number(row.pid));
}

/** Linux clock ticks are 100 per second on every common kernel build. */
const CLOCK_TICKS_PER_SECOND = 100;

/** CPU milliseconds per backend whose /proc entry is readable (none when PostgreSQL is elsewhere). */
function backendCpuMs(pids: number[]): Map<number, number> {
  const cpuMs = new Map<number, number>();
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      cpuMs.set(pid, ((Number(fields[11]) + Number(fields[12])) * 1_000) / CLOCK_TICKS_PER_SECOND);
    } catch {
      // Gone, or not on this machine.
    }
  }
  return cpuMs;
}

/** Runs task(0..count-1) with at most `window` in flight; results in index order. */
async function inParallel<T>(count: number, window: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const results = new Array<T>(count);
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      results[i] = await task(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(window, count) }, worker));
  return results;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

function progress(message: string): void {
  process.stderr.write(`[ledger bench] ${message}\n`);
}
