import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Period } from '../../../proto/gen/biopay/v1/ledger.js';
import { nextPeriodStartUnixMs, periodStartUnixMs, periodsUsed } from '../../../core/policy/index.js';
import { isBiopayError } from '../../../core/errors.js';
import { restricted, unrestricted } from './policy-fixtures.js';

const { PERIOD_DAY: DAY, PERIOD_WEEK: WEEK, PERIOD_MONTH: MONTH, PERIOD_LIFETIME: LIFETIME } = Period;
const iso = (ms: number): string => new Date(ms).toISOString();

describe('periodStartUnixMs / nextPeriodStartUnixMs', () => {
  // [zone, period, instant, expected start, expected next start] — all UTC instants.
  const table: [string, Period, string, string, string][] = [
    ['UTC', DAY, '2026-06-10T10:00:00.000Z', '2026-06-10T00:00:00.000Z', '2026-06-11T00:00:00.000Z'],
    ['', DAY, '2026-06-10T23:59:59.999Z', '2026-06-10T00:00:00.000Z', '2026-06-11T00:00:00.000Z'],
    ['Europe/Berlin', DAY, '2026-06-10T21:59:59.999Z', '2026-06-09T22:00:00.000Z', '2026-06-10T22:00:00.000Z'],
    ['Europe/Berlin', DAY, '2026-06-10T22:00:00.000Z', '2026-06-10T22:00:00.000Z', '2026-06-11T22:00:00.000Z'],
    // Berlin spring forward 2026-03-29 02:00 -> 03:00: a 23-hour day.
    ['Europe/Berlin', DAY, '2026-03-29T12:00:00.000Z', '2026-03-28T23:00:00.000Z', '2026-03-29T22:00:00.000Z'],
    ['Europe/Berlin', DAY, '2026-03-29T00:59:59.999Z', '2026-03-28T23:00:00.000Z', '2026-03-29T22:00:00.000Z'],
    ['Europe/Berlin', DAY, '2026-03-29T01:00:00.000Z', '2026-03-28T23:00:00.000Z', '2026-03-29T22:00:00.000Z'],
    // Berlin fall back 2026-10-25 03:00 -> 02:00: a 25-hour day.
    ['Europe/Berlin', DAY, '2026-10-25T00:30:00.000Z', '2026-10-24T22:00:00.000Z', '2026-10-25T23:00:00.000Z'],
    ['Europe/Berlin', DAY, '2026-10-25T01:30:00.000Z', '2026-10-24T22:00:00.000Z', '2026-10-25T23:00:00.000Z'],
    ['Europe/Berlin', DAY, '2026-10-25T22:59:59.999Z', '2026-10-24T22:00:00.000Z', '2026-10-25T23:00:00.000Z'],
    // New York spring forward 2026-03-08 02:00 -> 03:00, fall back 2026-11-01 02:00 -> 01:00.
    ['America/New_York', DAY, '2026-03-08T12:00:00.000Z', '2026-03-08T05:00:00.000Z', '2026-03-09T04:00:00.000Z'],
    ['America/New_York', DAY, '2026-03-08T04:59:59.999Z', '2026-03-07T05:00:00.000Z', '2026-03-08T05:00:00.000Z'],
    ['America/New_York', DAY, '2026-11-01T05:30:00.000Z', '2026-11-01T04:00:00.000Z', '2026-11-02T05:00:00.000Z'],
    ['America/New_York', DAY, '2026-11-01T06:30:00.000Z', '2026-11-01T04:00:00.000Z', '2026-11-02T05:00:00.000Z'],
    // Weeks start on Monday local: 2026-06-10 is a Wednesday; 2026-03-29 a Sunday (DST day).
    ['Europe/Berlin', WEEK, '2026-06-10T10:00:00.000Z', '2026-06-07T22:00:00.000Z', '2026-06-14T22:00:00.000Z'],
    ['Europe/Berlin', WEEK, '2026-03-29T21:59:59.999Z', '2026-03-22T23:00:00.000Z', '2026-03-29T22:00:00.000Z'],
    ['Europe/Berlin', WEEK, '2026-03-29T22:00:00.000Z', '2026-03-29T22:00:00.000Z', '2026-04-05T22:00:00.000Z'],
    ['UTC', WEEK, '2026-06-08T00:00:00.000Z', '2026-06-08T00:00:00.000Z', '2026-06-15T00:00:00.000Z'],
    ['UTC', WEEK, '2026-06-07T23:59:59.999Z', '2026-06-01T00:00:00.000Z', '2026-06-08T00:00:00.000Z'],
    // A week spanning the year end.
    ['America/New_York', WEEK, '2027-01-01T12:00:00.000Z', '2026-12-28T05:00:00.000Z', '2027-01-04T05:00:00.000Z'],
    // Months: across DST, across the year end, in February of a leap year.
    ['Europe/Berlin', MONTH, '2026-03-31T21:59:59.999Z', '2026-02-28T23:00:00.000Z', '2026-03-31T22:00:00.000Z'],
    ['Europe/Berlin', MONTH, '2026-03-31T22:00:00.000Z', '2026-03-31T22:00:00.000Z', '2026-04-30T22:00:00.000Z'],
    ['America/New_York', MONTH, '2026-12-31T23:00:00.000Z', '2026-12-01T05:00:00.000Z', '2027-01-01T05:00:00.000Z'],
    ['UTC', MONTH, '2028-02-29T12:00:00.000Z', '2028-02-01T00:00:00.000Z', '2028-03-01T00:00:00.000Z'],
    // Chile skips local midnight (24:00 -> 01:00) on 2026-09-06: the day starts at 01:00 local.
    ['America/Santiago', DAY, '2026-09-06T12:00:00.000Z', '2026-09-06T04:00:00.000Z', '2026-09-07T03:00:00.000Z'],
    ['America/Santiago', DAY, '2026-09-05T12:00:00.000Z', '2026-09-05T04:00:00.000Z', '2026-09-06T04:00:00.000Z'],
    // A zone with a 45-minute offset and a date-line zone.
    ['Asia/Kathmandu', DAY, '2026-06-10T18:14:59.999Z', '2026-06-09T18:15:00.000Z', '2026-06-10T18:15:00.000Z'],
    ['Pacific/Kiritimati', DAY, '2026-06-10T10:00:00.000Z', '2026-06-10T10:00:00.000Z', '2026-06-11T10:00:00.000Z'],
  ];

  it.each(table)('%s %s at %s starts %s, next %s', (zone, period, instant, start, next) => {
    const atMs = Date.parse(instant);
    expect(iso(periodStartUnixMs(period, atMs, zone))).toBe(start);
    expect(iso(nextPeriodStartUnixMs(period, atMs, zone))).toBe(next);
  });

  it('lifetime starts at 0 and never ends', () => {
    expect(periodStartUnixMs(LIFETIME, Date.parse('2026-06-10T10:00:00Z'), 'Europe/Berlin')).toBe(0);
    expect(nextPeriodStartUnixMs(LIFETIME, 5, 'UTC')).toBe(Number.POSITIVE_INFINITY);
  });

  it('the start of the epoch day is 0 in UTC', () => {
    expect(periodStartUnixMs(DAY, 0, 'UTC')).toBe(0);
    expect(periodStartUnixMs(MONTH, 12345, '')).toBe(0);
  });

  it.each([
    ['unknown zone', () => periodStartUnixMs(DAY, 0, 'Mars/Olympus')],
    ['unspecified period', () => periodStartUnixMs(Period.PERIOD_UNSPECIFIED, 0, 'UTC')],
    ['fractional instant', () => periodStartUnixMs(DAY, 1.5, 'UTC')],
    ['negative instant', () => periodStartUnixMs(DAY, -1, 'UTC')],
    ['instant after year 9999', () => periodStartUnixMs(DAY, 253_402_300_800_000, 'UTC')],
  ])('refuses %s with BAD_REQUEST', (_name, call) => {
    expect(call).toThrow(expect.objectContaining({ code: 'BAD_REQUEST' }));
    try { call(); } catch (error) { expect(isBiopayError(error, 'BAD_REQUEST')).toBe(true); }
  });
});

describe('period properties', () => {
  const zones = ['UTC', 'Europe/Berlin', 'America/New_York', 'America/Santiago', 'Asia/Kathmandu', 'Australia/Lord_Howe', 'Pacific/Apia'];
  const zone = fc.constantFrom(...zones);
  const period = fc.constantFrom(DAY, WEEK, MONTH);
  // 1990..2060: covers many historical and scheduled DST rules.
  const instant = fc.integer({ min: Date.UTC(1990, 0, 1), max: Date.UTC(2060, 0, 1) });

  it('start <= at < next start, and both are fixed points', () => {
    fc.assert(fc.property(period, instant, zone, (p, atMs, z) => {
      const start = periodStartUnixMs(p, atMs, z);
      const next = nextPeriodStartUnixMs(p, atMs, z);
      expect(start).toBeLessThanOrEqual(atMs);
      expect(next).toBeGreaterThan(atMs);
      expect(periodStartUnixMs(p, start, z)).toBe(start);
      expect(periodStartUnixMs(p, next, z)).toBe(next);
      // The instant just before the next start is still in this period.
      expect(periodStartUnixMs(p, next - 1, z)).toBe(start);
    }), { numRuns: 300 });
  });

  it('period lengths are plausible (days 22..26 h, weeks 7 days +-2 h, months 28..31 days +-2 h)', () => {
    const hourMs = 3_600_000;
    const bounds = new Map<Period, [number, number]>([
      [DAY, [22 * hourMs, 26 * hourMs]], [WEEK, [166 * hourMs, 170 * hourMs]], [MONTH, [28 * 24 * hourMs - 2 * hourMs, 31 * 24 * hourMs + 2 * hourMs]],
    ]);
    fc.assert(fc.property(period, instant, zone, (p, atMs, z) => {
      const length = nextPeriodStartUnixMs(p, atMs, z) - periodStartUnixMs(p, atMs, z);
      const [min, max] = bounds.get(p)!;
      expect(length).toBeGreaterThanOrEqual(min);
      expect(length).toBeLessThanOrEqual(max);
    }), { numRuns: 300 });
  });

  it('is monotonic: a later instant never has an earlier period start', () => {
    fc.assert(fc.property(period, instant, fc.integer({ min: 0, max: 40 * 86_400_000 }), zone, (p, atMs, laterMs, z) => {
      expect(periodStartUnixMs(p, atMs + laterMs, z)).toBeGreaterThanOrEqual(periodStartUnixMs(p, atMs, z));
    }), { numRuns: 300 });
  });

  it('days nest in weeks and months: a day starts no earlier than its week and month', () => {
    fc.assert(fc.property(instant, zone, (atMs, z) => {
      const day = periodStartUnixMs(DAY, atMs, z);
      expect(periodStartUnixMs(WEEK, atMs, z)).toBeLessThanOrEqual(day);
      expect(periodStartUnixMs(MONTH, atMs, z)).toBeLessThanOrEqual(day);
      expect(periodStartUnixMs(WEEK, day, z)).toBe(periodStartUnixMs(WEEK, atMs, z));
    }), { numRuns: 200 });
  });
});

describe('periodsUsed', () => {
  it('lists each period of a quota or count once, day to lifetime', () => {
    const policy = restricted({
      quotas: [{ period: MONTH, amountMinor: 1n }, { period: DAY, amountMinor: 1n }],
      counts: [{ period: DAY, count: 1 }, { period: LIFETIME, count: 3 }],
    });
    expect(periodsUsed(policy)).toEqual([DAY, MONTH, LIFETIME]);
  });

  it('is empty without quotas and counts, and for unrestricted policies', () => {
    expect(periodsUsed(restricted({ maxPerPaymentMinor: 5n }))).toEqual([]);
    expect(periodsUsed(unrestricted())).toEqual([]);
  });
});
