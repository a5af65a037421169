/**
 * A whole load test against a running network: set up the population, drive it (one rate, or a
 * ramp), check the ledger, and assemble the report. The network is reached only through NATS, as
 * any operator's tool would reach it.
 */
import { randomBytes } from 'node:crypto';
import { arch, cpus, loadavg, platform, totalmem } from 'node:os';
import type { EventLoopUtilization } from 'node:perf_hooks';
import type { NatsConnection, Stats } from '@nats-io/transport-node';
import type { ActorSystem } from '../actors/index.js';
import { businessStepsFromRecords } from '../business/step-lookup.js';
import { countersBetween, describeNodes, summarizeNodes, type NetworkCounters, type NodeStatus, type NodeSummary } from '../status/node-status.js';
import { ActorKind, LedgerProtocol } from '../protocols.js';
import { counted } from './counted.js';
import { LoadDriver } from './driver.js';
import { checkLedger, type LedgerCheckReport } from './ledger-check.js';
import type { PhaseSummary } from './metrics.js';
import type { Mix } from './mix.js';
import { runPhase, type PhaseOutcome } from './phase.js';
import { ramp, type RampResult } from './ramp.js';
import type { ArrivalProcess } from './scheduler.js';
import { componentCpuPerPayment, componentSwitchesPerPayment, cpuSnapshot, nodeProcessCpuPerPayment, type ComponentCounts, type CpuByComponent, type CpuSnapshot } from './cpu-breakdown.js';
import { machineCpu, type MachineCpu } from './machine-cpu.js';
import { setupPopulation, type Population } from './setup.js';

export interface LoadOptions {
  readonly rate: number;
  readonly durationS: number;
  readonly warmupS: number;
  readonly arrival: ArrivalProcess;
  readonly enrolled: number;
  readonly accounts: number;
  readonly terminals: number;
  readonly hint: boolean;
  readonly communitySize: number;
  /** Impressions offered per enrollment (the node keeps the most representative). */
  readonly enrollImpressions: number;
  readonly mix: Mix;
  readonly seed: number;
  readonly inFlightMax: number;
  readonly resultTimeoutMs: number;
  readonly settleWaitS: number;
  readonly currency: string;
  readonly amountMinor: bigint;
  readonly depositMinor: bigint;
  /** Ramp mode: the p99 target and the steps allowed. */
  readonly ramp?: { readonly p99MsMax: number; readonly stepsMax: number; readonly rateMax: number };
  readonly runId?: string;
}

export interface LoadTarget {
  readonly nc: NatsConnection;
  readonly system: ActorSystem;
  /** `embedded` or the NATS URL, for the report. */
  readonly description: string;
  /** The nodes' own NATS connection when they run in this process (embedded): its traffic is reported per payment. */
  readonly nodeConnection?: NatsConnection;
  /**
   * The nodes' status (core/status): read before and after each phase, so that the ledger's
   * transactions per payment and the identifies browned out are reported, embedded or not.
   */
  readonly nodeStatuses?: () => Promise<readonly NodeStatus[]>;
  /** The embedded network's settings (ledger database, matcher threads, candidates, commit cadence), for the report. */
  readonly settings?: Readonly<Record<string, string | number>>;
}

/**
 * Costs per completed payment of the headline phase: NATS messages by connection, the CPU of this
 * process (all its threads; with the embedded network that is every node role and the matcher
 * threads, not nats-server or PostgreSQL) and, on Linux, of the whole machine. CPU per payment
 * holds still on a busy machine where latency does not.
 */
export interface PaymentCosts {
  readonly payments: number;
  readonly load: TrafficPerPayment;
  readonly nodes?: TrafficPerPayment;
  /** Ledger transactions per payment, and requests per transaction (group commit), when the account nodes told them. */
  readonly ledger?: LedgerCommitsPerPayment;
  /** Identifies of the phase that compared fewer candidates than configured (brownout), when the association nodes told them. */
  readonly identifiesBrownedOut?: number;
  readonly processCpuMsPerPayment: number;
  /**
   * Busy CPU of the whole machine (every process and the kernel) per payment, where /proc/stat
   * tells it: on a machine running the whole network, what a payment costs in all. Time the
   * hypervisor stole is not in it: machineStolenMsPerPayment.
   */
  readonly machineCpuMsPerPayment?: number;
  /**
   * CPU time per payment that the machine's virtual CPUs wanted and the host gave to others
   * (/proc/stat steal). Far above 0, the host is crowded: latencies and rates of the run understate
   * what the same machine does alone.
   */
  readonly machineStolenMsPerPayment?: number;
  /** Share of the phase the main thread's event loop was busy (0..1). */
  readonly mainThreadUtilization: number;
  /**
   * The CPU per payment by where it ran (Linux, cpu-breakdown.ts): this process's main thread,
   * matcher threads and other threads, every nats-server and PostgreSQL process on the machine,
   * and the rest of the machine's busy time (kernel work outside those, other programs).
   */
  readonly cpuMsPerPaymentByComponent?: CpuByComponent;
  /** The `biopayNodes` part by process name (`biopay-assoc`, ...), when roles run as processes here. */
  readonly cpuMsPerPaymentByNodeProcess?: Record<string, number>;
  /**
   * Context switches per payment by the same components (Linux): voluntary ones are wake-ups (the
   * thread waited for a socket, a lock or a timer), involuntary ones preemptions. Every wake-up
   * costs kernel (and on a VM hypervisor) time that the CPU breakdown spreads over all parts.
   */
  readonly voluntarySwitchesPerPaymentByComponent?: ComponentCounts;
  readonly involuntarySwitchesPerPaymentByComponent?: ComponentCounts;
}

interface TrafficPerPayment {
  readonly outMsgs: number;
  readonly inMsgs: number;
  readonly outBytes: number;
  readonly inBytes: number;
}

export interface LoadReport {
  readonly tool: 'biopay load';
  readonly runId: string;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly target: string;
  readonly machine: Record<string, unknown>;
  readonly config: Record<string, unknown>;
  /** The embedded network's settings; absent for a running network (--nats), whose settings the tool cannot see. */
  readonly network?: Readonly<Record<string, string | number>>;
  /** The nodes that answered the status service when the run began: roles, version, partitions and matcher threads. */
  readonly nodes?: readonly NodeSummary[];
  readonly workload: string;
  readonly setup: Record<string, unknown>;
  readonly mix: Mix;
  readonly approvedPerSecond: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  readonly outcomes: PhaseSummary['outcomes'];
  readonly errorCount: number;
  readonly ledgerCheck: LedgerCheckReport;
  readonly rate: number;
  readonly run: PhaseSummary;
  readonly warmup: PhaseOutcome['warmup'];
  readonly scheduler: PhaseOutcome['scheduler'];
  readonly lateResults: number;
  readonly ramp?: RampResult;
  readonly costsPerPayment: PaymentCosts;
  /** The ledger check passed (a run that loses money never passes). */
  readonly passed: boolean;
}

export async function runLoad(target: LoadTarget, options: LoadOptions, progress: (line: string) => void): Promise<LoadReport> {
  const startedAt = new Date().toISOString();
  const runId = options.runId ?? randomBytes(4).toString('hex');
  const nodes = target.nodeStatuses ? summarizeNodes(await target.nodeStatuses()) : undefined;
  if (nodes) progress(`network: ${describeNodes(nodes)}`);
  const population = await setupPopulation(target.system, {
    runId, seed: options.seed, currency: options.currency, amountMinor: options.amountMinor, depositMinor: options.depositMinor,
    accounts: options.accounts, enrolled: options.enrolled, terminals: options.terminals, communitySize: options.communitySize,
    mix: options.mix, hint: options.hint, enrollImpressions: options.enrollImpressions, progress,
  });
  progress(`setup done in ${(population.setupMs / 1000).toFixed(1)} s: ${describePopulation(population)}`);
  const driver = new LoadDriver(target.nc, population, { mix: options.mix, seed: options.seed + 1, resultTimeoutMs: options.resultTimeoutMs, runId });
  driver.start();
  let headline: PhaseOutcome;
  const traffic = new Map<PhaseOutcome, PaymentCosts>();
  let rampResult: RampResult | undefined;
  try {
    const phase = async (rate: number, label?: string) => {
      const statusesBefore = await target.nodeStatuses?.();
      const before = snapshot(target);
      const outcome = await runPhase(driver, {
        rate, warmupS: options.warmupS, durationS: options.durationS, arrival: options.arrival,
        inFlightMax: options.inFlightMax, seed: options.seed + 2 + Math.round(rate), label, progress,
      });
      const after = snapshot(target);
      const statusesAfter = await target.nodeStatuses?.();
      const counters = statusesBefore && statusesAfter ? countersBetween(statusesBefore, statusesAfter) : {};
      traffic.set(outcome, perPayment(before, after, counters, outcome.measured.completed + outcome.warmup.completed));
      return outcome;
    };
    if (options.ramp) {
      const stepCosts: PaymentCosts[] = [];
      const ramped = await ramp({ startRate: options.rate, p99MsMax: options.ramp.p99MsMax, stepsMax: options.ramp.stepsMax, rateMax: options.ramp.rateMax },
        async (rate) => {
          const outcome = await phase(rate, `ramp ${rate}/s`);
          stepCosts.push(traffic.get(outcome)!);
          progress(`ramp ${rate}/s: p99 ${outcome.measured.p99Ms} ms, ${outcome.measured.completedPerSecond}/s completed, ${outcome.measured.errorCount} errors`);
          return outcome;
        });
      // Steps and costs are in the same order: one phase per step.
      const steps = ramped.result.steps.map((step, index) => ({ ...step, machineCpuMsPerPayment: stepCosts[index]?.machineCpuMsPerPayment }));
      rampResult = { ...ramped.result, steps };
      headline = ramped.best ?? ramped.first;
    } else {
      headline = await phase(options.rate);
    }
  } finally {
    await driver.stop();
  }
  progress(`checking the ledger (${driver.ledgerLog.length} payments, ${population.customers.length + population.merchants.length} accounts)...`);
  const ledgerCheck = await checkLedger({
    ledger: target.system.client(ActorKind.Ledger, LedgerProtocol), payments: driver.ledgerLog, amountMinor: options.amountMinor,
    customers: population.customers, merchants: population.merchants, settleWaitMs: options.settleWaitS * 1000,
    businessSteps: businessStepsFromRecords(target.nc),
  });
  const run = headline.measured;
  return {
    tool: 'biopay load', runId, startedAt, finishedAt: new Date().toISOString(), target: target.description,
    machine: machine(), config: configOf(options), ...(target.settings ? { network: target.settings } : {}), ...(nodes ? { nodes } : {}), workload: describeWorkload(options, population), setup: setupOf(population),
    mix: driver.mix, approvedPerSecond: run.approvedPerSecond, p50Ms: run.p50Ms, p90Ms: run.p90Ms, p99Ms: run.p99Ms, p999Ms: run.p999Ms,
    outcomes: run.outcomes, errorCount: run.errorCount, ledgerCheck, rate: headline.rate, run, warmup: headline.warmup,
    scheduler: headline.scheduler, lateResults: driver.lateResults, ramp: rampResult, costsPerPayment: traffic.get(headline)!,
    passed: ledgerCheck.passed,
  };
}

export interface LedgerCommitsPerPayment {
  readonly transactionsPerPayment: number;
  readonly operationsPerTransaction: number;
}

type Snapshot = {
  load: Stats; nodes?: Stats; cpu: NodeJS.CpuUsage; machine: MachineCpu | undefined; components: CpuSnapshot | undefined; loop: EventLoopUtilization;
};

function snapshot(target: LoadTarget): Snapshot {
  return {
    load: { ...target.nc.stats() }, nodes: target.nodeConnection ? { ...target.nodeConnection.stats() } : undefined,
    cpu: process.cpuUsage(), machine: machineCpu(), components: cpuSnapshot(), loop: performance.eventLoopUtilization(),
  };
}

function perPayment(before: Snapshot, after: Snapshot, counters: NetworkCounters, payments: number): PaymentCosts {
  const per = (from: Stats, to: Stats): TrafficPerPayment => {
    const each = (field: keyof TrafficPerPayment) => Math.round(((to[field] - from[field]) / Math.max(1, payments)) * 100) / 100;
    return { outMsgs: each('outMsgs'), inMsgs: each('inMsgs'), outBytes: each('outBytes'), inBytes: each('inBytes') };
  };
  const cpu = process.cpuUsage(before.cpu);
  const perPaymentMs = (ms: number) => Math.round((ms / Math.max(1, payments)) * 1000) / 1000;
  const machine = before.machine && after.machine
    ? { busyMs: after.machine.busyMs - before.machine.busyMs, stolenMs: after.machine.stolenMs - before.machine.stolenMs } : undefined;
  return {
    payments, load: per(before.load, after.load), nodes: before.nodes && after.nodes ? per(before.nodes, after.nodes) : undefined,
    ...(counters.ledger ? { ledger: ledgerPerPayment(counters.ledger, payments) } : {}),
    ...(counters.identifiesBrownedOut !== undefined ? { identifiesBrownedOut: counters.identifiesBrownedOut } : {}),
    processCpuMsPerPayment: perPaymentMs((cpu.user + cpu.system) / 1000),
    ...(machine ? { machineCpuMsPerPayment: perPaymentMs(machine.busyMs), machineStolenMsPerPayment: perPaymentMs(machine.stolenMs) } : {}),
    mainThreadUtilization: Math.round(performance.eventLoopUtilization(after.loop, before.loop).utilization * 1000) / 1000,
    ...(before.components && after.components ? cpuBreakdown(before.components, after.components, payments, machine && perPaymentMs(machine.busyMs)) : {}),
  };
}

function ledgerPerPayment({ transactions, operations }: NonNullable<NetworkCounters['ledger']>, payments: number): LedgerCommitsPerPayment {
  return {
    transactionsPerPayment: Math.round((transactions / Math.max(1, payments)) * 1000) / 1000,
    operationsPerTransaction: Math.round((operations / Math.max(1, transactions)) * 100) / 100,
  };
}

function cpuBreakdown(before: CpuSnapshot, after: CpuSnapshot, payments: number, machineMsPerPayment: number | undefined):
  Pick<PaymentCosts, 'cpuMsPerPaymentByComponent' | 'cpuMsPerPaymentByNodeProcess' | 'voluntarySwitchesPerPaymentByComponent' | 'involuntarySwitchesPerPaymentByComponent'> {
  const byNodeProcess = nodeProcessCpuPerPayment(before, after, payments);
  const switches = componentSwitchesPerPayment(before, after, payments);
  return {
    cpuMsPerPaymentByComponent: byComponent(before, after, payments, machineMsPerPayment),
    ...(Object.keys(byNodeProcess).length > 0 ? { cpuMsPerPaymentByNodeProcess: byNodeProcess } : {}),
    voluntarySwitchesPerPaymentByComponent: switches.voluntary,
    involuntarySwitchesPerPaymentByComponent: switches.involuntary,
  };
}

/** The components' share and, given the machine's total, what none of them accounts for (never below 0). */
function byComponent(before: CpuSnapshot, after: CpuSnapshot, payments: number, machineMsPerPayment: number | undefined): CpuByComponent {
  const components = componentCpuPerPayment(before, after, payments);
  if (machineMsPerPayment === undefined) return components;
  const attributedMs = Object.values(components).reduce((sum, ms) => sum + ms, 0);
  return { ...components, restOfMachine: Math.max(0, Math.round((machineMsPerPayment - attributedMs) * 1000) / 1000) };
}

function describePopulation(population: Population): string {
  const payers = population.payers;
  return `${population.customers.length} customers, ${counted(population.merchants.length, 'merchant')}, ${population.terminals.length} terminals, `
    + `${payers.approved.length + payers.restricted.length + payers.insufficient.length} fingers enrolled (${payers.restricted.length} restricted, `
    + `${payers.insufficient.length} without funds), ${population.unknown.length} unknown fingers`
    + (Object.keys(population.enrollRefusals).length ? `, enrollments refused: ${JSON.stringify(population.enrollRefusals)}` : '');
}

function describeWorkload(options: LoadOptions, population: Population): string {
  const mix = Object.entries(options.mix).map(([category, weight]) => `${category} ${weight}`).join(', ');
  return `${options.arrival} arrivals at ${options.rate}/s${options.ramp ? ` (ramp to p99 <= ${options.ramp.p99MsMax} ms)` : ''}, `
    + `${options.warmupS} s warm-up + ${options.durationS} s measured; ${options.enrolled} enrolled synthetic fingers `
    + `(${counted(options.enrollImpressions, 'impression')} offered each) over ${options.accounts} accounts, `
    + `${population.terminals.length} terminals, ${counted(population.plan.communities, 'community', 'communities')} of <= ${options.communitySize}, `
    + `hint ${options.hint ? 'on (1:N within the community)' : 'off (1:N over everyone)'}; mix ${mix}`;
}

function setupOf(population: Population): Record<string, unknown> {
  return {
    durationS: Math.round(population.setupMs / 100) / 10,
    customers: population.customers.length,
    merchants: population.merchants.length,
    terminals: population.terminals.length,
    jammedTerminals: population.terminals.filter((terminal) => terminal.jammed).length,
    communities: population.plan.communities,
    enrolled: population.payers.approved.length + population.payers.restricted.length + population.payers.insufficient.length,
    restricted: population.payers.restricted.length,
    withoutFunds: population.payers.insufficient.length,
    unknownFingers: population.unknown.length,
    enrollRefusals: population.enrollRefusals,
  };
}

function configOf(options: LoadOptions): Record<string, unknown> {
  return {
    rate: options.rate, durationS: options.durationS, warmupS: options.warmupS, arrival: options.arrival, enrolled: options.enrolled,
    accounts: options.accounts, terminals: options.terminals, hint: options.hint, communitySize: options.communitySize,
    enrollImpressions: options.enrollImpressions, seed: options.seed,
    inFlightMax: options.inFlightMax, resultTimeoutMs: options.resultTimeoutMs, amountMinor: options.amountMinor.toString(),
    currency: options.currency, ramp: options.ramp,
  };
}

function machine(): Record<string, unknown> {
  return {
    platform: platform(), arch: arch(), cpus: cpus().length, cpuModel: cpus()[0]?.model, memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version, loadAverage1m: loadavg()[0],
  };
}
