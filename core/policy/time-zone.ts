/**
 * Wall-clock arithmetic in IANA time zones with Intl.DateTimeFormat only (no dependency).
 * Formatters are costly to build, so they are cached per zone in a bounded map.
 */
import { BiopayError, ErrorCode } from '../errors.js';
import { setBounded } from './bounded-cache.js';

/** Local calendar fields of one instant; month 1-12, weekday 0 = Monday ... 6 = Sunday. */
export interface LocalTime {
  year: number;
  month: number;
  day: number;
  weekday: number;
  hour: number;
  minute: number;
  second: number;
}

const FORMATTERS_MAX = 64;
const formatters = new Map<string, Intl.DateTimeFormat>();
const WEEKDAY_BY_SHORT_NAME: Readonly<Record<string, number>> = {
  Mon: 0, Tue: 1, Wed: 2, Thu: 3, Fri: 4, Sat: 5, Sun: 6,
};
/** Payments happen between 1970 and the end of year 9999 (keeps eras and negative years out). */
const INSTANT_MS_MAX = 253_402_300_799_999;
export const DAY_MS = 86_400_000;

/** An empty zone is UTC (as for accounts opened without one). */
export function zoneOrUtc(timeZone: string): string {
  return timeZone === '' ? 'UTC' : timeZone;
}

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  const zone = zoneOrUtc(timeZone);
  const cached = formatters.get(zone);
  if (cached) return cached;
  let formatter: Intl.DateTimeFormat;
  try {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone: zone, hourCycle: 'h23', weekday: 'short',
      year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric',
    });
  } catch (error) {
    throw new BiopayError(ErrorCode.BadRequest, `unknown time zone "${timeZone}" (use an IANA name such as Europe/Berlin)`, { cause: error });
  }
  return setBounded(formatters, zone, formatter, FORMATTERS_MAX);
}

/** Throws BAD_REQUEST unless the zone is empty (UTC) or a zone Intl knows. */
export function assertTimeZone(timeZone: string): string {
  formatterFor(timeZone);
  return timeZone;
}

/** The zone's canonical spelling ("europe/berlin" -> "Europe/Berlin"); empty stays empty (UTC). */
export function canonicalTimeZone(timeZone: string): string {
  return timeZone === '' ? '' : formatterFor(timeZone).resolvedOptions().timeZone;
}

export function assertInstant(atUnixMs: number): number {
  if (!Number.isInteger(atUnixMs) || atUnixMs < 0 || atUnixMs > INSTANT_MS_MAX) {
    throw new BiopayError(ErrorCode.BadRequest, `instant ${atUnixMs} ms is not a valid time`);
  }
  return atUnixMs;
}

/** Straight from Intl (a few microseconds); local-clock.ts memoizes it for hot paths. */
export function localTimeUncached(atUnixMs: number, timeZone: string): LocalTime {
  return localFields(assertInstant(atUnixMs), timeZone);
}

/** What en-US format() gives for our options, e.g. "Sun, 3/29/2026, 03:00:00". */
const FORMATTED_PATTERN = /^([A-Z][a-z]{2}), (\d{1,2})\/(\d{1,2})\/(\d{4}), (\d{2}):(\d{2}):(\d{2})$/;

/** Unchecked: also used a day either side of the checked range. */
function localFields(atUnixMs: number, timeZone: string): LocalTime {
  const formatter = formatterFor(timeZone);
  // format() is about four times faster than formatToParts(); the parts remain the fallback
  // should another ICU version punctuate differently.
  const match = FORMATTED_PATTERN.exec(formatter.format(atUnixMs));
  const weekday = match ? WEEKDAY_BY_SHORT_NAME[match[1]!] : undefined;
  if (match && weekday !== undefined) {
    return {
      year: Number(match[4]), month: Number(match[2]), day: Number(match[3]), weekday,
      hour: Number(match[5]), minute: Number(match[6]), second: Number(match[7]),
    };
  }
  return fieldsFromParts(formatter, atUnixMs);
}

function fieldsFromParts(formatter: Intl.DateTimeFormat, atUnixMs: number): LocalTime {
  const fields: Record<string, string> = {};
  for (const part of formatter.formatToParts(atUnixMs)) fields[part.type] = part.value;
  return {
    year: Number(fields.year),
    month: Number(fields.month),
    day: Number(fields.day),
    weekday: WEEKDAY_BY_SHORT_NAME[fields.weekday!]!,
    hour: Number(fields.hour),
    minute: Number(fields.minute),
    second: Number(fields.second),
  };
}

/** The zone's offset from UTC at an instant, in ms (whole seconds; sub-second offsets do not exist). */
export function offsetMs(atUnixMs: number, timeZone: string): number {
  const floored = Math.floor(atUnixMs / 1000) * 1000;
  const t = localFields(floored, timeZone);
  return Date.UTC(t.year, t.month - 1, t.day, t.hour, t.minute, t.second) - floored;
}

/**
 * The first instant whose local date is year-month-day (month may overflow, Date.UTC normalizes).
 * Usually local midnight; where midnight is skipped by a DST gap, the instant the gap ends; where
 * midnight happens twice, the earlier one.
 */
export function startOfLocalDayUnixMs(year: number, month: number, day: number, timeZone: string): number {
  const wallMs = Date.UTC(year, month - 1, day);
  // Assumes at most one offset change within a day either side, true of every real zone.
  const offsetBeforeMs = offsetMs(wallMs - DAY_MS, timeZone);
  const offsetAfterMs = offsetMs(wallMs + DAY_MS, timeZone);
  // The usual case: no offset change within a day either side, so the one candidate is right.
  if (offsetBeforeMs === offsetAfterMs) return wallMs - offsetBeforeMs;
  const candidates = [wallMs - offsetBeforeMs, wallMs - offsetAfterMs]
    .filter((at) => at + offsetMs(at, timeZone) === wallMs)
    .sort((a, b) => a - b);
  // No candidate: midnight is inside a gap, and the day starts when the gap ends.
  return candidates[0] ?? wallMs - offsetBeforeMs;
}
