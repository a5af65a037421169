/**
 * `biopay load`: drives a running network (--nats URL) or the embedded one with open-loop
 * payments from virtual terminals, reports latency, throughput and outcomes (JSON and HTML), and
 * checks the ledger afterwards. A run whose ledger check fails exits 1, loudly.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ActorSystem } from '../core/actors/index.js';
import { candidateCounts } from '../core/biometrics/match-engine.js';
import { matcherKernelSetting } from '../core/biometrics/mcc-matcher.js';
import { BATCH_INTERVAL_MS_MAX, GROUP_COMMIT_DEFAULTS } from '../core/ledger/index.js';
import { ENROLL_IMPRESSIONS_MAX } from '../core/biometrics/template-selection.js';
import { assertSchemaName, dropSchema, redactUrl } from '../core/db/index.js';
import { asBiopayError, BiopayError, ErrorCode } from '../core/errors.js';
import { DEFAULT_ENROLL_IMPRESSIONS, DEFAULT_MIX, LOOP_STALL_MS, describeCpuByComponent, describeNodeProcessCpu, describeSwitchesByComponent, parseMix, reportJson, runLoad, writeReports, type LoadOptions, type LoadReport, type LoadTarget } from '../core/load/index.js';
import { createLogger, silentLogger } from '../core/log.js';
import { parseAmount } from '../core/money.js';
import { collectNodeStatuses } from '../core/status/status-client.js';
import { connectNats } from '../core/transport/nats.js';
import { DEFAULT_MATCH_WORKERS } from '../nodes/association/node.js';
import { DEFAULT_IDENTIFY_WAIT_TARGET_MS, IDENTIFY_WAIT_TARGET_MS_MAX } from '../nodes/terminal/node.js';
import { startEmbedded } from './embedded.js';
import { ExitCode, type CommandIo } from './io.js';

/** Settings of the embedded network: refused with --nats rather than silently not applied. */
const EMBEDDED_ONLY_FLAGS = ['database', 'schema', 'match-workers', 'candidates', 'hinted-candidates', 'brownout', 'commit-interval-ms', 'identify-wait-target-ms'] as const;

const HELP = `Usage: biopay load [options]

Drives a biopay network with many virtual terminals publishing sensor events, at a set rate of
open-loop arrivals (a slow network cannot slow the load down), then checks the ledger. Sets up its
own population: accounts with deposits, synthetic fingers enrolled (some with restricted
credentials, some on accounts without funds), merchants and terminals (one jammed dispenser per
community). Writes a JSON and a self-contained HTML report.

  --rate N          payments per second (ramp: the first step's rate)       (default 50)
  --duration S      measured seconds (ramp: per step)                         (default 30)
  --warmup S        seconds of load before measuring (ramp: per step)         (default 5)
  --arrival KIND    constant | poisson                                        (default poisson)
  --enrolled N      synthetic fingers enrolled                                (default 1000)
  --accounts N      customer accounts (fingers are spread over them)          (default enrolled / 2)
  --terminals N     virtual terminals (plus one jammed dispenser per community) (default 100)
  --community N     people per merchant community, what a hint narrows to     (default 1000)
  --enroll-impressions N
                    impressions each enrollment offers, as touching the sensor N times; the
                    node keeps the most representative (1-10)                 (default ${DEFAULT_ENROLL_IMPRESSIONS})
  --hint            terminals send their community's hint (1:N within it)     (default)
  --no-hint         full 1:N search over everyone enrolled
  --mix SPEC        e.g. approved=80,restricted=8,insufficient=2,unknown=5,jammed=5 (the default)
  --ramp            step the rate up to find the highest rate meeting --p99-ms with no errors
  --p99-ms N        ramp target for the end-to-end p99                        (default 100)
  --ramp-steps N    ramp steps at most                                        (default 12)
  --max-rate N      ramp never offers more than this                          (default 20000)
  --nats URL        a running network's NATS; without it an embedded network starts in a
                    temporary folder (nats-server child, PGlite, every role in this process)
  --database URL    embedded only: the ledger on PostgreSQL instead of PGlite, in a schema of
                    its own (biopay_load_...) that is dropped after the run
  --schema NAME     embedded only: that schema instead, kept after the run
  --match-workers N embedded only: matcher threads                            (default ${DEFAULT_MATCH_WORKERS})
  --candidates N    embedded only: templates compared in full per identify over everyone,
                    chosen by the candidate index (default 600)
  --hinted-candidates N
                    embedded only: templates compared in full per hinted identify, chosen
                    by the candidate index (default: --candidates when given, else 1500: a
                    community of up to 3,000 is compared whole)
  --brownout        embedded only: once the oldest identify in flight has waited over 20 ms
                    for the matcher threads, new ones compare fewer index candidates (down to
                    a quarter): a shorter queue for a few more payers not found (default off)
  --commit-interval-ms N
                    embedded only: while busy, the ledger starts a transaction at most every
                    N ms, so more payments share one; 0: as soon as the last one ends (default ${GROUP_COMMIT_DEFAULTS.batchIntervalMs})
  --identify-wait-target-ms N
                    embedded only: once the terminal node's identify queue has stood 200 ms
                    (sustained overload), touches that waited longer than N ms are refused at
                    their turn and newer ones served (1-${IDENTIFY_WAIT_TARGET_MS_MAX}; default ${DEFAULT_IDENTIFY_WAIT_TARGET_MS})
  --report-dir DIR  where the JSON and HTML reports go                        (default load-reports)
  --seed N          population and arrival seed                               (default random)
  --in-flight N     payments in flight at most; more are OVERFLOW errors      (default 10000)
  --timeout-ms N    wait for a payment's result before NO_RESULT              (default 15000)
  --settle-wait S   wait for open holds to settle before the ledger check     (default 30)
  --amount DECIMAL  amount of every payment                                   (default 1.00)
  --currency CODE                                                             (default EUR)
  --json            print the report as JSON on stdout
  --verbose         show the embedded nodes' logs
  --help            this text

Exit code 0 when the ledger check passed, 1 when it failed (money lost or made) or the run could
not complete, 2 on a usage error.`;

const OPTIONS = {
  rate: { type: 'string', default: '50' },
  duration: { type: 'string', default: '30' },
  warmup: { type: 'string', default: '5' },
  arrival: { type: 'string', default: 'poisson' },
  enrolled: { type: 'string', default: '1000' },
  accounts: { type: 'string' },
  terminals: { type: 'string', default: '100' },
  community: { type: 'string', default: '1000' },
  'enroll-impressions': { type: 'string', default: String(DEFAULT_ENROLL_IMPRESSIONS) },
  hint: { type: 'boolean', default: false },
  'no-hint': { type: 'boolean', default: false },
  mix: { type: 'string' },
  ramp: { type: 'boolean', default: false },
  'p99-ms': { type: 'string', default: '100' },
  'ramp-steps': { type: 'string', default: '12' },
  'max-rate': { type: 'string', default: '20000' },
  nats: { type: 'string' },
  database: { type: 'string' },
  schema: { type: 'string' },
  'match-workers': { type: 'string' },
  candidates: { type: 'string' },
  'hinted-candidates': { type: 'string' },
  // No default: an absent flag stays undefined, which the --nats check reads as not given.
  brownout: { type: 'boolean' },
  'commit-interval-ms': { type: 'string' },
  'identify-wait-target-ms': { type: 'string' },
  'report-dir': { type: 'string', default: 'load-reports' },
  seed: { type: 'string' },
  'in-flight': { type: 'string', default: '10000' },
  'timeout-ms': { type: 'string', default: '15000' },
  'settle-wait': { type: 'string', default: '30' },
  amount: { type: 'string', default: '1.00' },
  currency: { type: 'string', default: 'EUR' },
  json: { type: 'boolean', default: false },
  verbose: { type: 'boolean', default: false },
  help: { type: 'boolean', default: false },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS }>>['values'];

interface Parsed {
  readonly options: LoadOptions;
  readonly nats: string | undefined;
  readonly database: string | undefined;
  /** The ledger's PostgreSQL schema, and whether the run made it (then it drops it at the end). */
  readonly schema: { readonly name: string; readonly ownedByRun: boolean } | undefined;
  readonly matchWorkers: number;
  readonly candidates: number | undefined;
  readonly hintedCandidates: number | undefined;
  /** Fewer candidates while identifies queue (MatchEngine `brownout`). */
  readonly brownout: boolean;
  readonly commitIntervalMs: number;
  /** The terminal node's wait target for a standing identify queue; undefined: its default. */
  readonly identifyWaitTargetMs: number | undefined;
  readonly reportDir: string;
  readonly json: boolean;
  readonly verbose: boolean;
}

export async function loadCommand(argv: string[], io: CommandIo): Promise<number> {
  let parsed: Parsed;
  try {
    const { values } = parseArgs({ args: argv, options: OPTIONS, strict: true });
    if (values.help) {
      io.stdout(HELP);
      return ExitCode.Ok;
    }
    parsed = parseOptions(values);
  } catch (error) {
    io.stderr(`biopay load: ${(error as Error).message}\n\n${HELP}`);
    return ExitCode.Usage;
  }
  const progress = (line: string) => io.stderr(line);
  let report: LoadReport;
  try {
    report = await withTarget(parsed, progress, (target) => runLoad(target, parsed.options, progress));
  } catch (error) {
    const reason = asBiopayError(error);
    io.stderr(`biopay load failed: ${reason.code}: ${reason.message}`);
    return ExitCode.Failed;
  }
  const files = writeReports(report, parsed.reportDir);
  progress(`reports written: ${files.json} and ${files.html}`);
  io.stdout(parsed.json ? reportJson(report) : renderSummary(report));
  if (!report.passed) {
    io.stderr(`\n!!! LEDGER CHECK FAILED: ${report.ledgerCheck.problemCount} problem(s); this run lost or made money !!!\n`
      + report.ledgerCheck.problems.map((text) => `  - ${text}`).join('\n'));
    return ExitCode.Failed;
  }
  return ExitCode.Ok;
}

/** The network to drive: the given NATS, or an embedded one started (and stopped) here. */
async function withTarget<T>(parsed: Parsed, progress: (line: string) => void, work: (target: LoadTarget) => Promise<T>): Promise<T> {
  const name = `biopay-load-${process.pid}`;
  if (parsed.nats) {
    const nc = await connectNats({ servers: parsed.nats, name });
    try {
      return await work({
        nc, system: new ActorSystem({ nodeId: name, nats: nc }), description: parsed.nats,
        // A network whose nodes do not answer (an older release) is still driven; its costs lack these counts.
        nodeStatuses: async () => (await collectNodeStatuses(nc).catch(() => ({ nodes: [] }))).nodes,
      });
    } finally {
      await nc.drain().catch(() => undefined);
    }
  }
  const dataDir = mkdtempSync(join(tmpdir(), 'biopay-load-'));
  const ledgerDatabase = parsed.database ? `PostgreSQL at ${redactUrl(parsed.database)}, schema ${parsed.schema?.name}` : 'PGlite';
  progress(`starting the embedded network (nats-server, ledger on ${ledgerDatabase}, all roles)...`);
  const embedded = await startEmbedded({
    dataDir, grpcPort: 0, log: parsed.verbose ? createLogger() : silentLogger(), matchWorkers: parsed.matchWorkers,
    databaseUrl: parsed.database, databaseSchema: parsed.schema?.name, candidates: parsed.candidates, hintedCandidates: parsed.hintedCandidates,
    brownout: parsed.brownout, commitIntervalMs: parsed.commitIntervalMs, identifyWaitTargetMs: parsed.identifyWaitTargetMs,
  }).catch(async (error: unknown) => {
    await dropRunSchema(parsed);
    throw error;
  });
  // Interrupted (Ctrl-C), the run still stops its nats-server child and removes its folder.
  const onSignal = (signal: NodeJS.Signals) => {
    progress(`${signal}: stopping the embedded network...`);
    void embedded.stop().catch(() => undefined).then(() => dropRunSchema(parsed)).finally(() => {
      rmSync(dataDir, { recursive: true, force: true });
      process.exit(ExitCode.Failed);
    });
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    // Its own connection, as a separate client would have: the load does not share the nodes' one.
    const nc = await connectNats({ servers: embedded.nats.url, name });
    const settings = embeddedSettings(parsed);
    try {
      return await work({
        nc, system: new ActorSystem({ nodeId: name, nats: nc }), description: `embedded (${embedded.nats.url}; ledger on ${parsed.database ? 'PostgreSQL' : 'PGlite'}; ${parsed.matchWorkers} match workers, kernel ${settings.matcherKernel}; identify: ${describeCandidates(parsed)}; ledger commits every ${parsed.commitIntervalMs} ms at most while busy; a standing identify queue serves touches within ${settings.identifyWaitTargetMs} ms)`,
        nodeConnection: embedded.network.nc,
        nodeStatuses: async () => [embedded.network.status()],
        settings,
      });
    } finally {
      await nc.drain().catch(() => undefined);
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    progress('stopping the embedded network...');
    await embedded.stop();
    rmSync(dataDir, { recursive: true, force: true });
    await dropRunSchema(parsed, progress);
  }
}

/** Drops the schema the run made; a failure is reported, never thrown over the run's own result. */
async function dropRunSchema(parsed: Parsed, progress?: (text: string) => void): Promise<void> {
  const schema = parsed.schema;
  if (!parsed.database || !schema?.ownedByRun) return;
  progress?.(`dropping the run's ledger schema ${schema.name}...`);
  await dropSchema(parsed.database, schema.name).catch((error: unknown) => {
    progress?.(`could not drop schema ${schema.name}: ${(error as Error).message}`);
  });
}

function parseOptions(values: Values): Parsed {
  if (values.hint && values['no-hint']) throw usage('--hint and --no-hint contradict each other');
  const embeddedOnly = EMBEDDED_ONLY_FLAGS.filter((flag) => values[flag] !== undefined);
  if (values.nats !== undefined && embeddedOnly.length > 0) {
    throw usage(`${embeddedOnly.map((flag) => `--${flag}`).join(', ')}: embedded network only; a running network (--nats) keeps its own settings`);
  }
  const arrival = values.arrival;
  if (arrival !== 'constant' && arrival !== 'poisson') throw usage('--arrival must be constant or poisson');
  const enrolled = integer(values.enrolled, 'enrolled', 1, 1_000_000);
  const currency = values.currency.toUpperCase();
  const rateMax = number(values['max-rate'], 'max-rate', 1, 1_000_000);
  const options: LoadOptions = {
    rate: number(values.rate, 'rate', 0.1, rateMax),
    durationS: number(values.duration, 'duration', 1, 86_400),
    warmupS: number(values.warmup, 'warmup', 0, 3_600),
    arrival,
    enrolled,
    accounts: values.accounts === undefined ? Math.max(1, Math.floor(enrolled / 2)) : integer(values.accounts, 'accounts', 1, 1_000_000),
    terminals: integer(values.terminals, 'terminals', 1, 10_000),
    hint: !values['no-hint'],
    communitySize: integer(values.community, 'community', 1, 1_000_000),
    enrollImpressions: integer(values['enroll-impressions'], 'enroll-impressions', 1, ENROLL_IMPRESSIONS_MAX),
    mix: values.mix === undefined ? DEFAULT_MIX : parseMix(values.mix),
    seed: values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : integer(values.seed, 'seed', 0, 2 ** 31),
    inFlightMax: integer(values['in-flight'], 'in-flight', 1, 1_000_000),
    resultTimeoutMs: integer(values['timeout-ms'], 'timeout-ms', 100, 600_000),
    settleWaitS: number(values['settle-wait'], 'settle-wait', 0, 3_600),
    currency,
    amountMinor: parseAmount(values.amount, currency),
    depositMinor: 0n,
    ramp: values.ramp ? {
      p99MsMax: number(values['p99-ms'], 'p99-ms', 1, 600_000),
      stepsMax: integer(values['ramp-steps'], 'ramp-steps', 1, 100),
      rateMax,
    } : undefined,
  };
  if (options.amountMinor <= 0n) throw usage('--amount must be positive');
  return {
    options: { ...options, depositMinor: depositFor(options) },
    nats: values.nats, database: values.database, schema: ledgerSchema(values),
    matchWorkers: values['match-workers'] === undefined ? DEFAULT_MATCH_WORKERS : integer(values['match-workers'], 'match-workers', 0, 64),
    candidates: values.candidates === undefined ? undefined : integer(values.candidates, 'candidates', 1, 1_000_000),
    hintedCandidates: values['hinted-candidates'] === undefined ? undefined : integer(values['hinted-candidates'], 'hinted-candidates', 1, 1_000_000),
    brownout: values.brownout === true,
    commitIntervalMs: values['commit-interval-ms'] === undefined ? GROUP_COMMIT_DEFAULTS.batchIntervalMs : integer(values['commit-interval-ms'], 'commit-interval-ms', 0, BATCH_INTERVAL_MS_MAX),
    identifyWaitTargetMs: values['identify-wait-target-ms'] === undefined
      ? undefined : integer(values['identify-wait-target-ms'], 'identify-wait-target-ms', 1, IDENTIFY_WAIT_TARGET_MS_MAX),
    reportDir: values['report-dir'], json: values.json, verbose: values.verbose,
  };
}

/**
 * A run on PostgreSQL gets a schema of its own: the population of one run (thousands of accounts,
 * every payment and entry) must neither pile up in the database run after run, slowing the next
 * runs down, nor mix with another network's ledger.
 */
function ledgerSchema(values: Values): Parsed['schema'] {
  if (values.schema !== undefined) {
    if (values.database === undefined) throw usage('--schema needs --database');
    try {
      return { name: assertSchemaName(values.schema), ownedByRun: false };
    } catch (error) {
      throw usage(`--schema: ${(error as Error).message}`);
    }
  }
  if (values.database === undefined) return undefined;
  return { name: `biopay_load_${randomBytes(6).toString('hex')}`, ownedByRun: true };
}

/** Enough for every payment of the run to land on one account, twice over: funds never run out by accident. */
function depositFor(options: LoadOptions): bigint {
  const steps = options.ramp ? options.ramp.stepsMax : 1;
  const rate = options.ramp ? options.ramp.rateMax : options.rate;
  const payments = Math.ceil(rate * (options.durationS + options.warmupS) * steps / options.accounts) * 2 + 100;
  return options.amountMinor * BigInt(payments);
}

/**
 * The event loop the timeline sampled: the nodes' main thread in the embedded network (every role
 * runs on it), the load tool's own against a running network, where a stall delays its sends and
 * the stamps of its results, so the latency it reports includes the tool's own delays.
 */
function describeEventLoop(report: LoadReport): string {
  const loop = report.run.eventLoop;
  const whose = report.network ? 'event loop of this process (every node role runs on it)' : "the load tool's own event loop";
  const line = `${whose}: longest delay ${loop.delayMaxMs} ms (second ${loop.delayMaxAtS}), ${loop.stalledSeconds} second(s) with a delay of `
    + `${LOOP_STALL_MS} ms or more, busy ${Math.round(loop.utilizationMean * 100)}% on average`;
  if (report.network || loop.stalledSeconds === 0) return line;
  return `${line}\nWARNING: the load tool's own event loop stalled; latencies include up to ${loop.delayMaxMs} ms of its delays (run fewer terminals per load process, or a faster machine for the load tool)`;
}

function renderSummary(report: LoadReport): string {
  const run = report.run;
  const stages = run.latency.stages;
  const lines = [
    '', 'biopay load: summary', '',
    `workload: ${report.workload}`,
    `target:   ${report.target}`,
    '',
    `offered ${report.rate}/s for ${run.durationS} s: ${run.sent} sent, ${run.completed} completed, ${run.approvedPerSecond} approved/s`,
    `end to end (from due): p50 ${run.p50Ms} ms  p90 ${run.p90Ms} ms  p99 ${run.p99Ms} ms  p99.9 ${run.p999Ms} ms  max ${run.maxMs} ms`,
    `stages p50/p99 ms: identify ${stages.identify.p50Ms}/${stages.identify.p99Ms}  authorize ${stages.authorize.p50Ms}/${stages.authorize.p99Ms}  `
      + `business ${stages.business.p50Ms}/${stages.business.p99Ms}  settle ${stages.settle.p50Ms}/${stages.settle.p99Ms}`,
    `templates compared per identify (mean): ${run.identifyComparisons.perIdentify} (payer found ${run.identifyComparisons.whenMatched}, nobody found ${run.identifyComparisons.whenNoMatch})`,
    `outcomes: approved ${run.outcomes.approved}, refused ${run.outcomes.refused}, voided ${run.outcomes.voided}, errors ${run.outcomes.error}`,
    `refusals: ${JSON.stringify(run.refusals)}`,
    `errors:   ${JSON.stringify(run.errors)}`,
    ...Object.entries(run.errorCauses).sort((a, b) => b[1] - a[1]).map(([cause, count]) => `  ${count} x ${cause}`),
    `categories (as expected/sent): ${Object.entries(run.categories).map(([name, counts]) => `${name} ${counts.asExpected}/${counts.sent}`).join(', ')}`,
  ];
  lines.push(describeEventLoop(report));
  const traffic = report.costsPerPayment;
  lines.push(`NATS messages per payment: load tool out ${traffic.load.outMsgs} in ${traffic.load.inMsgs}`
    + (traffic.nodes ? `; nodes out ${traffic.nodes.outMsgs} in ${traffic.nodes.inMsgs}` : '')
    + `; this process: ${traffic.processCpuMsPerPayment} ms CPU per payment, main thread ${Math.round(traffic.mainThreadUtilization * 100)}% busy`
    + (traffic.machineCpuMsPerPayment !== undefined ? `; whole machine: ${traffic.machineCpuMsPerPayment} ms CPU per payment` : '')
    + (traffic.machineStolenMsPerPayment ? ` (and ${traffic.machineStolenMsPerPayment} ms stolen by the hypervisor: a crowded host)` : ''));
  if (traffic.ledger) {
    lines.push(`ledger: ${traffic.ledger.transactionsPerPayment} transactions per payment, ${traffic.ledger.operationsPerTransaction} requests per transaction`);
  }
  if (traffic.identifiesBrownedOut) lines.push(`identifies browned out (fewer candidates while the matcher queue stood): ${traffic.identifiesBrownedOut}`);
  if (traffic.cpuMsPerPaymentByComponent) lines.push(`CPU ms per payment by where it ran: ${describeCpuByComponent(traffic.cpuMsPerPaymentByComponent)}`);
  if (traffic.cpuMsPerPaymentByNodeProcess) {
    lines.push(`  of it, biopay node processes: ${describeNodeProcessCpu(traffic.cpuMsPerPaymentByNodeProcess)}`);
  }
  if (traffic.voluntarySwitchesPerPaymentByComponent && traffic.involuntarySwitchesPerPaymentByComponent) {
    lines.push(`context switches per payment, woken/preempted: ${describeSwitchesByComponent({
      voluntary: traffic.voluntarySwitchesPerPaymentByComponent, involuntary: traffic.involuntarySwitchesPerPaymentByComponent })}`);
  }
  if (report.ramp) {
    lines.push('', `ramp (p99 <= ${report.ramp.p99MsMax} ms, no errors): best ${report.ramp.bestRate ?? 'none'}/s`);
    for (const step of report.ramp.steps) {
      const cpu = step.machineCpuMsPerPayment === undefined ? '' : `  ${step.machineCpuMsPerPayment} ms CPU/payment`;
      lines.push(`  ${String(step.rate).padStart(6)}/s  ${step.passed ? 'pass' : 'FAIL'}  p99 ${step.p99Ms} ms  ${step.completedPerSecond}/s done${cpu}  ${step.reason}`);
    }
  }
  const check = report.ledgerCheck;
  lines.push('', `ledger check: ${check.passed ? 'passed' : 'FAILED'} (${check.capturedOnce}/${check.approvedChecked} approved captured once, `
    + `${check.voidedChecked} voided checked, ${check.accountsChecked} accounts reconciled, `
    + `${check.businessStepsChecked} captures reconciled with business records, open holds ${check.openHolds}, `
    + `${check.ledgerProblems.length} ledger problems)`);
  return lines.join('\n');
}

function usage(message: string): BiopayError {
  return new BiopayError(ErrorCode.BadRequest, message);
}

function number(text: string, flag: string, low: number, high: number): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || value < low || value > high) throw usage(`--${flag} must be a number in [${low}, ${high}], got "${text}"`);
  return value;
}

function integer(text: string, flag: string, low: number, high: number): number {
  const value = number(text, flag, low, high);
  if (!Number.isInteger(value)) throw usage(`--${flag} must be a whole number, got "${text}"`);
  return value;
}

/** What the embedded network runs with, as the report records it (bench compare warns when two runs differ). */
function embeddedSettings(parsed: Parsed): {
  ledgerDatabase: string; matchWorkers: number; candidates: number; hintedCandidates: number; brownout: string; commitIntervalMs: number;
  identifyWaitTargetMs: number; matcherKernel: string;
} {
  const { candidates, hintedCandidates } = candidateCounts(parsed);
  return {
    ledgerDatabase: parsed.database ? 'postgresql' : 'pglite', matchWorkers: parsed.matchWorkers, candidates, hintedCandidates,
    brownout: parsed.brownout ? 'on' : 'off', commitIntervalMs: parsed.commitIntervalMs, identifyWaitTargetMs: parsed.identifyWaitTargetMs ?? DEFAULT_IDENTIFY_WAIT_TARGET_MS, matcherKernel: matcherKernelSetting(),
  };
}

/** The candidate counts the embedded network runs with, by the engine's own rule (candidateCounts). */
function describeCandidates(parsed: Pick<Parsed, 'candidates' | 'hintedCandidates' | 'brownout'>): string {
  const { candidates, hintedCandidates } = candidateCounts(parsed);
  const underLoad = parsed.brownout ? ', fewer while identifies queue (brownout)' : '';
  return `${candidates} index candidates, hinted ${hintedCandidates} (a community of up to ${2 * hintedCandidates} compared whole)${underLoad}`;
}
