/** The memoized local clock and period bounds must agree with Intl everywhere, DST days included. */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Period } from '../../../proto/gen/biopay/v1/ledger.js';
import { localTime } from '../../../core/policy/local-clock.js';
import { localTimeUncached, startOfLocalDayUnixMs } from '../../../core/policy/time-zone.js';
import { nextPeriodStartUnixMs, periodStartUnixMs } from '../../../core/policy/index.js';

const ZONES = ['UTC', 'Europe/Berlin', 'America/New_York', 'America/Santiago', 'Australia/Lord_Howe', 'Asia/Kathmandu'];
const HOUR_MS = 3_600_000;

/** Walks of instants that stay near each other (cache hits) and sometimes jump (misses). */
const walk = fc.tuple(
  fc.constantFrom(...ZONES),
  // Start on or near DST change days of 2026 as often as anywhere else.
  fc.oneof(
    fc.integer({ min: Date.UTC(2000, 0, 1), max: Date.UTC(2040, 0, 1) }),
    fc.constantFrom('2026-03-29T00:00:00Z', '2026-10-25T00:00:00Z', '2026-03-08T04:00:00Z', '2026-11-01T04:00:00Z', '2026-09-05T22:00:00Z', '2026-04-04T12:00:00Z')
      .map((iso) => Date.parse(iso)),
  ),
  fc.array(fc.oneof(fc.integer({ min: 0, max: 2 * HOUR_MS }), fc.integer({ min: 0, max: 40 * 24 * HOUR_MS })), { minLength: 1, maxLength: 40 }),
);

describe('local time from Intl', () => {
  it('agrees with formatToParts field by field', () => {
    const weekdays = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'];
    fc.assert(fc.property(fc.constantFrom(...ZONES), fc.integer({ min: 0, max: Date.UTC(9999, 11, 31) }), (zone, atMs) => {
      const parts = new Intl.DateTimeFormat('en-GB', {
        timeZone: zone, hourCycle: 'h23', weekday: 'long', year: 'numeric', month: '2-digit', day: '2-digit',
        hour: '2-digit', minute: '2-digit', second: '2-digit',
      }).formatToParts(atMs);
      const field = (type: string): string => parts.find((part) => part.type === type)!.value;
      expect(localTimeUncached(atMs, zone)).toEqual({
        year: Number(field('year')), month: Number(field('month')), day: Number(field('day')),
        weekday: weekdays.indexOf(field('weekday')),
        hour: Number(field('hour')), minute: Number(field('minute')), second: Number(field('second')),
      });
    }), { numRuns: 500 });
  });
});

describe('memoized local time', () => {
  it('equals Intl on every step of a walk', () => {
    fc.assert(fc.property(walk, ([zone, startMs, steps]) => {
      let atMs = startMs;
      for (const step of steps) {
        atMs += step;
        expect(localTime(atMs, zone)).toEqual(localTimeUncached(atMs, zone));
      }
    }), { numRuns: 300 });
  });

  it('period bounds equal a fresh computation on every step of a walk', () => {
    const fresh = (period: Period, atMs: number, zone: string): [number, number] => {
      const t = localTimeUncached(atMs, zone);
      if (period === Period.PERIOD_DAY) return [startOfLocalDayUnixMs(t.year, t.month, t.day, zone), startOfLocalDayUnixMs(t.year, t.month, t.day + 1, zone)];
      if (period === Period.PERIOD_WEEK) {
        const monday = t.day - t.weekday;
        return [startOfLocalDayUnixMs(t.year, t.month, monday, zone), startOfLocalDayUnixMs(t.year, t.month, monday + 7, zone)];
      }
      return [startOfLocalDayUnixMs(t.year, t.month, 1, zone), startOfLocalDayUnixMs(t.year, t.month + 1, 1, zone)];
    };
    fc.assert(fc.property(walk, fc.constantFrom(Period.PERIOD_DAY, Period.PERIOD_WEEK, Period.PERIOD_MONTH), ([zone, startMs, steps], period) => {
      let atMs = startMs;
      for (const step of steps) {
        atMs += step;
        expect([periodStartUnixMs(period, atMs, zone), nextPeriodStartUnixMs(period, atMs, zone)]).toEqual(fresh(period, atMs, zone));
      }
    }), { numRuns: 300 });
  });

  it('still refuses a bad instant when the period is cached', () => {
    periodStartUnixMs(Period.PERIOD_DAY, 1000, 'UTC');
    expect(() => periodStartUnixMs(Period.PERIOD_DAY, 1000.5, 'UTC')).toThrow(expect.objectContaining({ code: 'BAD_REQUEST' }));
    localTime(1000, 'UTC');
    expect(() => localTime(1000.5, 'UTC')).toThrow(expect.objectContaining({ code: 'BAD_REQUEST' }));
  });
});
