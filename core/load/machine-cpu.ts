/**
 * Busy CPU time of the whole machine, from Linux's /proc/stat: every process and the kernel, so a
 * load test on one machine can count what nats-server, PostgreSQL and the kernel's network work
 * cost per payment beside this process. Elsewhere (no /proc/stat) it is unknown, never guessed.
 */
import { readFileSync } from 'node:fs';

const PROC_STAT = '/proc/stat';
/** The aggregate line's fields, in clock ticks: user nice system idle iowait irq softirq steal. */
const IDLE_FIELDS = new Set([3, 4]);
const COUNTED_FIELDS = 8;
/** USER_HZ: Linux reports /proc/stat in hundredths of a second on every architecture it runs on. */
const TICKS_PER_SECOND = 100;

/** Busy milliseconds of all CPUs since boot, or undefined where /proc/stat cannot be read. */
export function machineBusyMs(readStat: () => string = () => readFileSync(PROC_STAT, 'utf8')): number | undefined {
  let text: string;
  try {
    text = readStat();
  } catch {
    return undefined;
  }
  return parseBusyMs(text);
}

/** The busy time in the aggregate `cpu` line of a /proc/stat text (idle and iowait left out). */
export function parseBusyMs(statText: string): number | undefined {
  const line = statText.split('\n').find((candidate) => candidate.startsWith('cpu '));
  if (!line) return undefined;
  const fields = line.trim().split(/\s+/).slice(1, 1 + COUNTED_FIELDS).map(Number);
  if (fields.length < COUNTED_FIELDS || fields.some((value) => !Number.isSafeInteger(value) || value < 0)) return undefined;
  const busyTicks = fields.reduce((sum, value, index) => (IDLE_FIELDS.has(index) ? sum : sum + value), 0);
  return (busyTicks * 1000) / TICKS_PER_SECOND;
}
