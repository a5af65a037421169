/**
 * Where a load test's CPU goes, on Linux, from /proc: this process's main thread (the event loop:
 * messaging, ledger client, sagas, and with the embedded network the load tool's own terminals),
 * its matcher threads (named by thread-names.ts), its other threads (V8's compiler and garbage
 * collector helpers, libuv), every `biopay node` process on the machine (the roles run as
 * processes of their own, named by thread-names.ts), and every nats-server and PostgreSQL process
 * on the machine. Read at
 * the start and end of a phase, the differences say per payment which part to work on, which the
 * whole machine's total (machine-cpu.ts) cannot. Elsewhere it is unknown, never guessed.
 *
 * The same reading counts context switches per component: voluntary ones (the thread waited for a
 * socket, a lock or a timer and had to be woken: a wake-up) and involuntary ones (it was preempted).
 * On a virtual machine a wake-up costs tens of microseconds of kernel and hypervisor time, spread
 * over every part, so the count says where fewer wake-ups per payment would pay.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MATCHER_THREAD_NAME, NODE_PROCESS_NAME_PREFIX } from '../thread-names.js';
import { MS_PER_TICK } from './machine-cpu.js';

export const CPU_COMPONENTS = ['mainThread', 'matcherThreads', 'otherThreads', 'biopayNodes', 'natsServer', 'postgres'] as const;
export type CpuComponent = (typeof CPU_COMPONENTS)[number];
/** A number per component. */
export type ComponentCounts = Record<CpuComponent, number>;
/** A number of ms of CPU time (user + system) per component: so far, or per payment in reports. */
export type ComponentCpu = ComponentCounts;
/** Per payment, with what none of the components accounts for when the machine's total is known. */
export type CpuByComponent = ComponentCpu & { readonly restOfMachine?: number };

const LABELS: Record<keyof CpuByComponent, string> = {
  mainThread: 'main thread', matcherThreads: 'matcher threads', otherThreads: 'other threads of this process',
  biopayNodes: 'biopay node processes', natsServer: 'nats-server', postgres: 'PostgreSQL', restOfMachine: 'rest of the machine',
};

/** Processes of these names (their `comm`) are counted, whoever started them. */
const PROCESS_COMPONENTS: ReadonlyMap<string, CpuComponent> = new Map([['nats-server', 'natsServer'], ['postgres', 'postgres']]);
/** Fields after the `(comm)` of a stat line: utime and stime are stat fields 14 and 15. */
const UTIME_AFTER_COMM = 11;
const STIME_AFTER_COMM = 12;
/** Processes read at most per snapshot: a bound on the work, far above a node's machine. */
const PROCESSES_MAX = 65_536;
/** Threads of one counted process read at most per snapshot (nats-server has a dozen or so). */
const THREADS_PER_PROCESS_MAX = 4_096;

export interface StatLine {
  readonly comm: string;
  readonly cpuMs: number;
}

/**
 * The name and CPU time (user + system) of a /proc/.../stat line; undefined if it is not one. The
 * name sits in parentheses and may itself hold spaces and parentheses: the fields start after the
 * last ')'.
 */
export function parseStatLine(text: string): StatLine | undefined {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return undefined;
  const fields = text.slice(close + 1).trim().split(/\s+/);
  const user = Number(fields[UTIME_AFTER_COMM]);
  const system = Number(fields[STIME_AFTER_COMM]);
  if (!Number.isSafeInteger(user) || !Number.isSafeInteger(system) || user < 0 || system < 0) return undefined;
  return { comm: text.slice(open + 1, close), cpuMs: (user + system) * MS_PER_TICK };
}

/** One thread of this process, or one counted process: its component, name and CPU time so far. */
export interface CpuEntry {
  readonly component: CpuComponent;
  readonly cpuMs: number;
  /** Context switches so far (a process: of all its threads); 0 where the status file could not be read. */
  readonly voluntarySwitches: number;
  readonly involuntarySwitches: number;
  /** The process's name (`comm`), for processes. */
  readonly name?: string;
}

/** The counted threads and processes by id (`t` + thread id, `p` + process id), as read at one moment. */
export type CpuSnapshot = ReadonlyMap<string, CpuEntry>;

/**
 * Every counted thread's and process's CPU time now, or undefined where /proc cannot be read.
 * `procRoot` and `selfPid` are for tests.
 */
export function cpuSnapshot(procRoot = '/proc', selfPid = process.pid): CpuSnapshot | undefined {
  const entries = new Map<string, CpuEntry>();
  const taskIds = listDirectory(join(procRoot, String(selfPid), 'task'));
  const processIds = listDirectory(procRoot)?.filter((name) => /^\d+$/.test(name)).slice(0, PROCESSES_MAX);
  if (taskIds === undefined || processIds === undefined) return undefined;
  for (const taskId of taskIds) {
    const taskDirectory = join(procRoot, String(selfPid), 'task', taskId);
    const stat = readStat(join(taskDirectory, 'stat'));
    if (stat === undefined) continue;
    const component = taskId === String(selfPid) ? 'mainThread' : stat.comm === MATCHER_THREAD_NAME ? 'matcherThreads' : 'otherThreads';
    entries.set(`t${taskId}`, { component, cpuMs: stat.cpuMs, ...readSwitches(join(taskDirectory, 'status')) });
  }
  for (const processId of processIds) {
    if (processId === String(selfPid)) continue;
    const stat = readStat(join(procRoot, processId, 'stat'));
    const component = stat === undefined ? undefined : processComponent(stat.comm);
    if (component !== undefined) entries.set(`p${processId}`, { component, cpuMs: stat!.cpuMs, name: stat!.comm, ...processSwitches(procRoot, processId) });
  }
  return entries;
}

export interface ContextSwitches {
  readonly voluntarySwitches: number;
  readonly involuntarySwitches: number;
}

const NO_SWITCHES: ContextSwitches = { voluntarySwitches: 0, involuntarySwitches: 0 };
const VOLUNTARY_LINE = /^voluntary_ctxt_switches:\s*(\d+)$/m;
const INVOLUNTARY_LINE = /^nonvoluntary_ctxt_switches:\s*(\d+)$/m;

/** The context switch counts of a /proc/.../status text; undefined if it holds none. */
export function parseContextSwitches(text: string): ContextSwitches | undefined {
  const voluntary = VOLUNTARY_LINE.exec(text)?.[1];
  const involuntary = INVOLUNTARY_LINE.exec(text)?.[1];
  if (voluntary === undefined || involuntary === undefined) return undefined;
  const counts = { voluntarySwitches: Number(voluntary), involuntarySwitches: Number(involuntary) };
  return Number.isSafeInteger(counts.voluntarySwitches) && Number.isSafeInteger(counts.involuntarySwitches) ? counts : undefined;
}

/**
 * A process's switches are its threads' (its own status file counts only its first thread). A
 * thread that ended between two readings takes its switches with it: a process's count can only be
 * low, never high, and a drop reads as 0 (nats-server and PostgreSQL keep their threads).
 */
function processSwitches(procRoot: string, processId: string): ContextSwitches {
  let voluntarySwitches = 0;
  let involuntarySwitches = 0;
  for (const taskId of listDirectory(join(procRoot, processId, 'task'))?.slice(0, THREADS_PER_PROCESS_MAX) ?? []) {
    const switches = readSwitches(join(procRoot, processId, 'task', taskId, 'status'));
    voluntarySwitches += switches.voluntarySwitches;
    involuntarySwitches += switches.involuntarySwitches;
  }
  return { voluntarySwitches, involuntarySwitches };
}

/**
 * Per component, the CPU spent between two snapshots per payment, in ms (3 decimals). Each thread
 * or process counts by itself: one that started in between counts all its time (a database
 * connection the pool opened), one that ended in between takes its time with it (so a component
 * is never lower than its survivors' work).
 */
export function componentCpuPerPayment(before: CpuSnapshot, after: CpuSnapshot, payments: number): ComponentCpu {
  return perComponent(spentMsBy(before, after, (entry) => entry.component), payments, MS_DECIMALS);
}

/**
 * The `biopay node` processes' part by process name (their role), per payment in ms, largest first;
 * empty when none ran on this machine. Counted as componentCpuPerPayment counts.
 */
export function nodeProcessCpuPerPayment(before: CpuSnapshot, after: CpuSnapshot, payments: number): Record<string, number> {
  const spentMs = spentMsBy(before, after, (entry) => (entry.component === 'biopayNodes' ? entry.name : undefined));
  return Object.fromEntries([...spentMs].sort((a, b) => b[1] - a[1]).map(([name, ms]) => [name, perPaymentMs(ms, payments)]));
}

/** Context switches per payment by component. */
export interface SwitchesByComponent {
  readonly voluntary: ComponentCounts;
  readonly involuntary: ComponentCounts;
}

/** The switches between two snapshots per payment (2 decimals), each thread and process counted as CPU is. */
export function componentSwitchesPerPayment(before: CpuSnapshot, after: CpuSnapshot, payments: number): SwitchesByComponent {
  const per = (field: keyof ContextSwitches) =>
    perComponent(spentBy(before, after, (entry) => entry.component, (entry) => entry[field]), payments, SWITCH_DECIMALS);
  return { voluntary: per('voluntarySwitches'), involuntary: per('involuntarySwitches') };
}

/** For people, largest total first: "nats-server 9.7/1.6, ..." (voluntary/involuntary). */
export function describeSwitchesByComponent(switches: SwitchesByComponent): string {
  return switchesByComponentRows(switches).map(([label, voluntary, involuntary]) => `${label} ${voluntary}/${involuntary}`).join(', ');
}

/** [label, voluntary, involuntary] per component that switched at all, largest total first. */
export function switchesByComponentRows(switches: SwitchesByComponent): Array<[string, number, number]> {
  return CPU_COMPONENTS
    .map((component): [string, number, number] => [LABELS[component], switches.voluntary[component], switches.involuntary[component]])
    .filter(([, voluntary, involuntary]) => voluntary + involuntary > 0)
    .sort((a, b) => b[1] + b[2] - (a[1] + a[2]));
}

/** CPU ms spent between the snapshots, summed by key (entries whose key is undefined are left out). */
function spentMsBy<Key>(before: CpuSnapshot, after: CpuSnapshot, keyOf: (entry: CpuEntry) => Key | undefined): Map<Key, number> {
  return spentBy(before, after, keyOf, (entry) => entry.cpuMs);
}

/** A counter's growth between the snapshots, summed by key; an entry absent before counts from 0. */
function spentBy<Key>(before: CpuSnapshot, after: CpuSnapshot, keyOf: (entry: CpuEntry) => Key | undefined, valueOf: (entry: CpuEntry) => number): Map<Key, number> {
  const spent = new Map<Key, number>();
  for (const [id, entry] of after) {
    const key = keyOf(entry);
    const earlier = before.get(id);
    if (key !== undefined) spent.set(key, (spent.get(key) ?? 0) + Math.max(0, valueOf(entry) - (earlier === undefined ? 0 : valueOf(earlier))));
  }
  return spent;
}

const MS_DECIMALS = 3;
const SWITCH_DECIMALS = 2;

/** Every component's total per payment, rounded; a component with nothing counted is 0. */
function perComponent(totals: ReadonlyMap<CpuComponent, number>, payments: number, decimals: number): ComponentCounts {
  return Object.fromEntries(CPU_COMPONENTS.map((component) => [component, perPayment(totals.get(component) ?? 0, payments, decimals)])) as ComponentCounts;
}

function perPaymentMs(ms: number, payments: number): number {
  return perPayment(ms, payments, MS_DECIMALS);
}

function perPayment(total: number, payments: number, decimals: number): number {
  const scale = 10 ** decimals;
  return Math.round((total / Math.max(1, payments)) * scale) / scale;
}

/** Each component's label and value, largest first, for people: "main thread 0.99, ...". */
export function describeCpuByComponent(cpu: CpuByComponent): string {
  return describeRows(cpuByComponentRows(cpu));
}

/** The node processes' part by name, for people: "biopay-assoc 1.97, ...". */
export function describeNodeProcessCpu(byNodeProcess: Readonly<Record<string, number>>): string {
  return describeRows(Object.entries(byNodeProcess));
}

/** The table rows of describeCpuByComponent: [label, ms per payment], largest first. */
export function cpuByComponentRows(cpu: CpuByComponent): Array<[string, number]> {
  return (Object.entries(cpu) as Array<[keyof CpuByComponent, number]>).sort((a, b) => b[1] - a[1]).map(([component, ms]) => [LABELS[component], ms]);
}

function describeRows(rows: ReadonlyArray<readonly [string, number]>): string {
  return rows.map(([label, ms]) => `${label} ${ms}`).join(', ');
}

function processComponent(comm: string): CpuComponent | undefined {
  return PROCESS_COMPONENTS.get(comm) ?? (comm.startsWith(NODE_PROCESS_NAME_PREFIX) ? 'biopayNodes' : undefined);
}

function listDirectory(path: string): string[] | undefined {
  try {
    return readdirSync(path);
  } catch {
    return undefined;
  }
}

function readSwitches(path: string): ContextSwitches {
  try {
    return parseContextSwitches(readFileSync(path, 'utf8')) ?? NO_SWITCHES;
  } catch {
    return NO_SWITCHES;
  }
}

function readStat(path: string): StatLine | undefined {
  try {
    return parseStatLine(readFileSync(path, 'utf8'));
  } catch {
    // Gone since the directory was listed (a thread or process that ended): nothing to count.
    return undefined;
  }
}
