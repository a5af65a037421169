/**
 * Local time of an instant, memoized per zone by local day. Intl costs several microseconds per
 * call, and the ledger asks for the same day's times over and over; on an ordinary day (24 hours,
 * one offset throughout) local time is plain arithmetic from the day's start. Days with an offset
 * change always go to Intl.
 */
import { setBounded } from './bounded-cache.js';
import {
  DAY_MS, assertInstant, localTimeUncached, startOfLocalDayUnixMs, zoneOrUtc, type LocalTime,
} from './time-zone.js';

interface LocalDay {
  startUnixMs: number;
  nextUnixMs: number;
  /** Midnight of the day; hour, minute and second are added from the instant. */
  midnight: LocalTime;
  uniform: boolean;
}

const DAYS_MAX = 64;
const dayByZone = new Map<string, LocalDay>();
const HOUR_MS = 3_600_000;
const MINUTE_MS = 60_000;

function dayOf(local: LocalTime, timeZone: string): LocalDay {
  const startUnixMs = startOfLocalDayUnixMs(local.year, local.month, local.day, timeZone);
  const nextUnixMs = startOfLocalDayUnixMs(local.year, local.month, local.day + 1, timeZone);
  // An offset change inside the day would make it shorter or longer than 24 hours.
  const uniform = nextUnixMs - startUnixMs === DAY_MS;
  return { startUnixMs, nextUnixMs, midnight: { ...local, hour: 0, minute: 0, second: 0 }, uniform };
}

export function localTime(atUnixMs: number, timeZone: string): LocalTime {
  assertInstant(atUnixMs);
  const zone = zoneOrUtc(timeZone);
  const day = dayByZone.get(zone);
  if (day && day.uniform && atUnixMs >= day.startUnixMs && atUnixMs < day.nextUnixMs) {
    const sinceMs = atUnixMs - day.startUnixMs;
    return {
      ...day.midnight,
      hour: Math.floor(sinceMs / HOUR_MS),
      minute: Math.floor((sinceMs % HOUR_MS) / MINUTE_MS),
      second: Math.floor((sinceMs % MINUTE_MS) / 1000),
    };
  }
  const local = localTimeUncached(atUnixMs, zone);
  if (!day || atUnixMs < day.startUnixMs || atUnixMs >= day.nextUnixMs) setBounded(dayByZone, zone, dayOf(local, zone), DAYS_MAX);
  return local;
}
