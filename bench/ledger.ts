/**
 * Ledger benchmark. Workload: `accounts` customer accounts (10,000 by default) each with a
 * credential and a balance, and 16 merchant accounts; a payment is an authorize (unrestricted
 * credential, random payer and merchant) followed by a full capture. Measured: authorize+capture
 * pairs per second
 *   - with group commit (many requests per transaction, `window` pairs in flight), and
 *   - with one transaction per request (pairs in flight = twice the pool size),
 * on PGlite (in memory) and on PostgreSQL (DATABASE_URL or 127.0.0.1:5432/test, a fresh schema,
 * dropped afterwards) when reachable. Each figure is the median of `runs`.
 */
import { randomBytes } from 'node:crypto';
import { AccountKind } from '../proto/gen/biopay/v1/ledger.js';
import { dropSchema, openDatabase, probePostgres, type SqlClient } from '../core/db/index.js';
import { Ledger, type GroupCommitOptions } from '../core/ledger/index.js';

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
const GROUP_COMMIT: GroupCommitOptions = { batchSizeMax: 2_000, lingerMs: 1, queueLengthMax: 20_000 };
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
      `group commit: ${pairs} pairs, ${GROUP_WINDOW} in flight, batch <= ${GROUP_COMMIT.batchSizeMax}, ` +
      `${GROUP_SHARDS} ledgers (payers sharded between them, as account nodes would be); ` +
      `one tx per request: ${Math.max(1, Math.floor(pairs / 10))} pairs, ${POOL_SIZE * 2} in flight; median of ${options.runs} runs`,
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
      result.postgres = await benchTarget('postgres', () => openDatabase({ url, schema, poolSize: POOL_SIZE }), url, accounts, pairs, options.runs);
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
  url: string | undefined,
  accounts: number,
  pairs: number,
  runs: number,
): Promise<Record<string, unknown>> {
  const db = await open();
  try {
    progress(`${name}: creating ${accounts} accounts`);
    const setupLedger = await Ledger.open(db, { groupCommit: GROUP_COMMIT });
    const population = await populate(setupLedger, accounts, pairs * (runs + 1));
    await setupLedger.close();
    const grouped = await Promise.all(Array.from({ length: GROUP_SHARDS }, () => Ledger.open(db, { groupCommit: GROUP_COMMIT })));
    const direct = await Ledger.open(db);
    const groupRates: number[] = [];
    const directRates: number[] = [];
    for (let run = 1; run <= runs; run += 1) {
      groupRates.push(await pairsPerSecond(grouped, population, pairs, GROUP_WINDOW, `${name}-g${run}`));
      progress(`${name}: run ${run}/${runs} group commit ${Math.round(groupRates.at(-1)!)} pairs/s`);
      directRates.push(await pairsPerSecond([direct], population, Math.max(1, Math.floor(pairs / 10)), POOL_SIZE * 2, `${name}-d${run}`));
      progress(`${name}: run ${run}/${runs} one tx per request ${Math.round(directRates.at(-1)!)} pairs/s`);
    }
    for (const ledger of grouped) await ledger.close();
    await direct.close();
    const report = await direct.checkInvariants();
    if (report.problems.length > 0) throw new Error(`ledger invariants broken after the bench: ${report.problems.slice(0, 3).join('; ')}`);
    const groupMedian = median(groupRates);
    const directMedian = median(directRates);
    return {
      groupCommitPairsPerSecond: Math.round(groupMedian),
      oneTxPerRequestPairsPerSecond: Math.round(directMedian),
      speedup: Number((groupMedian / directMedian).toFixed(1)),
      groupCommitRuns: groupRates.map(Math.round),
      oneTxPerRequestRuns: directRates.map(Math.round),
      ...(url ? { poolSize: POOL_SIZE } : {}),
    };
  } finally {
    await db.close();
  }
}

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
