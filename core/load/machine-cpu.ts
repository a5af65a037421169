/**
 * Busy CPU time of the whole machine, from Linux's /proc/stat: every process and the kernel, so a
 * load test on one machine can count what nats-server, PostgreSQL and the kernel's network work
 * cost per payment beside this process. Elsewhere (no /proc/stat) it is unknown, never guessed.
 */
import { readFileSync } from 'node:fs';

const PROC_STAT = '/proc/stat';
/** The aggregate line's fields, in clock ticks: user nice system idle iowait irq softirq steal. */
const IDLE_FIELDS = new Set([3, 4]);
const STEAL_FIELD = 7;
const COUNTED_FIELDS = 8;
/** USER_HZ: Linux reports /proc times in hundredths of a second on every architecture it runs on. */
export const MS_PER_TICK = 10;

/** CPU time of all CPUs since boot, in ms: what ran (busy) and what the hypervisor took (stolen). */
export interface MachineCpu {
  /** User, nice, system, irq and softirq time: work done on this machine by anyone. */
  readonly busyMs: number;
  /**
   * Time a virtual CPU wanted to run but the host ran something else. Not work of this machine's:
   * kept apart so that a run on a crowded host does not read as a costlier payment.
   */
  readonly stolenMs: number;
}

/** The machine's CPU time since boot, or undefined where /proc/stat cannot be read. */
export function machineCpu(readStat: () => string = () => readFileSync(PROC_STAT, 'utf8')): MachineCpu | undefined {
  let text: string;
  try {
    text = readStat();
  } catch {
    return undefined;
  }
  return parseMachineCpu(text);
}

/** The busy and stolen time in the aggregate `cpu` line of a /proc/stat text (idle and iowait are neither). */
export function parseMachineCpu(statText: string): MachineCpu | undefined {
  const line = statText.split('\n').find((candidate) => candidate.startsWith('cpu '));
  if (!line) return undefined;
  const fields = line.trim().split(/\s+/).slice(1, 1 + COUNTED_FIELDS).map(Number);
  if (fields.length < COUNTED_FIELDS || fields.some((value) => !Number.isSafeInteger(value) || value < 0)) return undefined;
  const busyTicks = fields.reduce((sum, value, index) => (IDLE_FIELDS.has(index) || index === STEAL_FIELD ? sum : sum + value), 0);
  return { busyMs: busyTicks * MS_PER_TICK, stolenMs: fields[STEAL_FIELD]! * MS_PER_TICK };
}
