/** Quota periods (day, week from Monday, month, lifetime) in a time zone, DST-correct. */
import { BiopayError, ErrorCode } from '../errors.js';
import { Period } from '../../proto/gen/biopay/v1/ledger.js';
import type { SpendingPolicy } from '../../proto/gen/biopay/v1/ledger.js';
import { setBounded } from './bounded-cache.js';
import { localTime } from './local-clock.js';
import { assertInstant, startOfLocalDayUnixMs, zoneOrUtc } from './time-zone.js';

/** The periods a policy may name, in the order refusals and descriptions list them. */
export const PERIODS: readonly Period[] = [Period.PERIOD_DAY, Period.PERIOD_WEEK, Period.PERIOD_MONTH, Period.PERIOD_LIFETIME];

const NAME_BY_PERIOD = new Map<Period, { word: string; adjective: string; code: string }>([
  [Period.PERIOD_DAY, { word: 'day', adjective: 'daily', code: 'DAY' }],
  [Period.PERIOD_WEEK, { word: 'week', adjective: 'weekly', code: 'WEEK' }],
  [Period.PERIOD_MONTH, { word: 'month', adjective: 'monthly', code: 'MONTH' }],
  [Period.PERIOD_LIFETIME, { word: 'lifetime', adjective: 'lifetime', code: 'LIFETIME' }],
]);

export function isKnownPeriod(period: Period): boolean {
  return NAME_BY_PERIOD.has(period);
}

function names(period: Period): { word: string; adjective: string; code: string } {
  const found = NAME_BY_PERIOD.get(period);
  if (!found) throw new BiopayError(ErrorCode.BadRequest, `period must be day, week, month or lifetime, got ${period}`);
  return found;
}

/** "day", "week", "month", "lifetime": the CLI spelling. */
export function periodWord(period: Period): string {
  return names(period).word;
}

/** "daily", "weekly", ...: how sentences for people name it. */
export function periodAdjective(period: Period): string {
  return names(period).adjective;
}

/** "DAY", "WEEK", ...: the suffix of QUOTA_* and COUNT_* refusal codes. */
export function periodCode(period: Period): string {
  return names(period).code;
}

export function periodFromWord(word: string): Period | undefined {
  for (const [period, name] of NAME_BY_PERIOD) if (name.word === word) return period;
  return undefined;
}

interface Bounds {
  startUnixMs: number;
  nextUnixMs: number;
}

/** The last period computed per (period, zone): payments cluster in time, so it nearly always hits. */
const BOUNDS_MAX = 256;
const boundsByKey = new Map<string, Bounds>();

/** Local date (year, month, day) of the first day of the period containing the instant. */
function firstDayOf(period: Period, atUnixMs: number, timeZone: string): [number, number, number] {
  const t = localTime(atUnixMs, timeZone);
  if (period === Period.PERIOD_DAY) return [t.year, t.month, t.day];
  if (period === Period.PERIOD_WEEK) return [t.year, t.month, t.day - t.weekday];
  return [t.year, t.month, 1];
}

function computeBounds(period: Period, atUnixMs: number, timeZone: string): Bounds {
  const [year, month, day] = firstDayOf(period, atUnixMs, timeZone);
  const startUnixMs = startOfLocalDayUnixMs(year, month, day, timeZone);
  if (period === Period.PERIOD_DAY) return { startUnixMs, nextUnixMs: startOfLocalDayUnixMs(year, month, day + 1, timeZone) };
  if (period === Period.PERIOD_WEEK) return { startUnixMs, nextUnixMs: startOfLocalDayUnixMs(year, month, day + 7, timeZone) };
  return { startUnixMs, nextUnixMs: startOfLocalDayUnixMs(year, month + 1, 1, timeZone) };
}

function boundsOf(period: Period, atUnixMs: number, timeZone: string): Bounds {
  names(period);
  assertInstant(atUnixMs);
  if (period === Period.PERIOD_LIFETIME) {
    localTime(atUnixMs, timeZone); // validates the instant and zone like the other periods
    return { startUnixMs: 0, nextUnixMs: Number.POSITIVE_INFINITY };
  }
  const key = `${period}\u0000${zoneOrUtc(timeZone)}`;
  const cached = boundsByKey.get(key);
  if (cached && atUnixMs >= cached.startUnixMs && atUnixMs < cached.nextUnixMs) return cached;
  return setBounded(boundsByKey, key, computeBounds(period, atUnixMs, timeZone), BOUNDS_MAX);
}

/** Start of the day, week (Monday) or month containing the instant in the zone; LIFETIME is 0. */
export function periodStartUnixMs(period: Period, atUnixMs: number, timeZone: string): number {
  return boundsOf(period, atUnixMs, timeZone).startUnixMs;
}

/** Start of the period after the one containing the instant; LIFETIME never ends (Infinity). */
export function nextPeriodStartUnixMs(period: Period, atUnixMs: number, timeZone: string): number {
  return boundsOf(period, atUnixMs, timeZone).nextUnixMs;
}

/** The periods the ledger must compute usage for, each once, in PERIODS order. */
export function periodsUsed(policy: SpendingPolicy): Period[] {
  if (!policy.restricted) return [];
  const used = new Set<Period>([...policy.quotas.map((q) => q.period), ...policy.counts.map((c) => c.period)]);
  return PERIODS.filter((period) => used.has(period));
}
