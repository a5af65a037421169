/**
 * Where a load test's CPU goes, on Linux, from /proc: this process's main thread (the event loop:
 * messaging, ledger client, sagas, and with the embedded network the load tool's own terminals),
 * its matcher threads (named by thread-names.ts), its other threads (V8's compiler and garbage
 * collector helpers, libuv), every `biopay node` process on the machine (the roles run as
 * processes of their own, named by thread-names.ts), and every nats-server and PostgreSQL process
 * on the machine. Read at
 * the start and end of a phase, the differences say per payment which part to work on, which the
 * whole machine's total (machine-cpu.ts) cannot. Elsewhere it is unknown, never guessed.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MATCHER_THREAD_NAME, NODE_PROCESS_NAME_PREFIX } from '../thread-names.js';
import { MS_PER_TICK } from './machine-cpu.js';

export const CPU_COMPONENTS = ['mainThread', 'matcherThreads', 'otherThreads', 'biopayNodes', 'natsServer', 'postgres'] as const;
export type CpuComponent = (typeof CPU_COMPONENTS)[number];
/** A number of ms of CPU time (user + system) per component: so far, or per payment in reports. */
export type ComponentCpu = Record<CpuComponent, number>;
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
    const stat = readStat(join(procRoot, String(selfPid), 'task', taskId, 'stat'));
    if (stat === undefined) continue;
    const component = taskId === String(selfPid) ? 'mainThread' : stat.comm === MATCHER_THREAD_NAME ? 'matcherThreads' : 'otherThreads';
    entries.set(`t${taskId}`, { component, cpuMs: stat.cpuMs });
  }
  for (const processId of processIds) {
    if (processId === String(selfPid)) continue;
    const stat = readStat(join(procRoot, processId, 'stat'));
    const component = stat === undefined ? undefined : processComponent(stat.comm);
    if (component !== undefined) entries.set(`p${processId}`, { component, cpuMs: stat!.cpuMs, name: stat!.comm });
  }
  return entries;
}

/**
 * Per component, the CPU spent between two snapshots per payment, in ms (3 decimals). Each thread
 * or process counts by itself: one that started in between counts all its time (a database
 * connection the pool opened), one that ended in between takes its time with it (so a component
 * is never lower than its survivors' work).
 */
export function componentCpuPerPayment(before: CpuSnapshot, after: CpuSnapshot, payments: number): ComponentCpu {
  const spentMs = spentMsBy(before, after, (entry) => entry.component);
  return Object.fromEntries(CPU_COMPONENTS.map((component) => [component, perPaymentMs(spentMs.get(component) ?? 0, payments)])) as ComponentCpu;
}

/**
 * The `biopay node` processes' part by process name (their role), per payment in ms, largest first;
 * empty when none ran on this machine. Counted as componentCpuPerPayment counts.
 */
export function nodeProcessCpuPerPayment(before: CpuSnapshot, after: CpuSnapshot, payments: number): Record<string, number> {
  const spentMs = spentMsBy(before, after, (entry) => (entry.component === 'biopayNodes' ? entry.name : undefined));
  return Object.fromEntries([...spentMs].sort((a, b) => b[1] - a[1]).map(([name, ms]) => [name, perPaymentMs(ms, payments)]));
}

/** CPU ms spent between the snapshots, summed by key (entries whose key is undefined are left out). */
function spentMsBy<Key>(before: CpuSnapshot, after: CpuSnapshot, keyOf: (entry: CpuEntry) => Key | undefined): Map<Key, number> {
  const spentMs = new Map<Key, number>();
  for (const [id, entry] of after) {
    const key = keyOf(entry);
    if (key !== undefined) spentMs.set(key, (spentMs.get(key) ?? 0) + Math.max(0, entry.cpuMs - (before.get(id)?.cpuMs ?? 0)));
  }
  return spentMs;
}

function perPaymentMs(ms: number, payments: number): number {
  return Math.round((ms / Math.max(1, payments)) * 1000) / 1000;
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

function readStat(path: string): StatLine | undefined {
  try {
    return parseStatLine(readFileSync(path, 'utf8'));
  } catch {
    // Gone since the directory was listed (a thread or process that ended): nothing to count.
    return undefined;
  }
}
