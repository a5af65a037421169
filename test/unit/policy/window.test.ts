import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { checkPolicy } from '../../../core/policy/index.js';
import { formatDays, isWithinWindow } from '../../../core/policy/window.js';
import type { TimeWindow } from '../../../proto/gen/biopay/v1/ledger.js';
import { FRI, MON, SAT, SUN, at, context, input, restricted } from './policy-fixtures.js';

const MON_FRI = MON | 2 | 4 | 8 | FRI;
const hm = (h: number, m: number): number => h * 60 + m;

describe('isWithinWindow (weekday 0 = Monday, local minutes)', () => {
  const school: TimeWindow = { days: MON_FRI, startMinute: hm(7, 0), endMinute: hm(15, 0) };
  const friNight: TimeWindow = { days: FRI, startMinute: hm(22, 0), endMinute: hm(2, 0) };
  const sunNight: TimeWindow = { days: SUN, startMinute: hm(23, 0), endMinute: hm(1, 0) };
  const allMonday: TimeWindow = { days: MON, startMinute: 0, endMinute: 0 };
  const noonToNoon: TimeWindow = { days: SAT, startMinute: hm(12, 0), endMinute: hm(12, 0) };
  const table: [string, TimeWindow, number, number, boolean][] = [
    ['school: first minute', school, 0, hm(7, 0), true],
    ['school: a minute early', school, 0, hm(6, 59), false],
    ['school: last minute', school, 4, hm(14, 59), true],
    ['school: end is exclusive', school, 4, hm(15, 0), false],
    ['school: Saturday', school, 5, hm(10, 0), false],
    ['friday night: starts 22:00 Friday', friNight, 4, hm(22, 0), true],
    ['friday night: 23:59 Friday', friNight, 4, hm(23, 59), true],
    ['friday night: 00:00 Saturday', friNight, 5, 0, true],
    ['friday night: last minute 01:59 Saturday', friNight, 5, hm(1, 59), true],
    ['friday night: 02:00 Saturday', friNight, 5, hm(2, 0), false],
    ['friday night: 22:00 Saturday (day bit is the start day)', friNight, 5, hm(22, 0), false],
    ['friday night: 01:00 Friday (belongs to Thursday)', friNight, 4, hm(1, 0), false],
    ['sunday night wraps into Monday', sunNight, 0, hm(0, 30), true],
    ['sunday night: Sunday 00:30 belongs to Saturday', sunNight, 6, hm(0, 30), false],
    ['all Monday: 00:00', allMonday, 0, 0, true],
    ['all Monday: 23:59', allMonday, 0, hm(23, 59), true],
    ['all Monday: Tuesday 00:00', allMonday, 1, 0, false],
    ['noon to noon: Saturday 12:00', noonToNoon, 5, hm(12, 0), true],
    ['noon to noon: Sunday 11:59', noonToNoon, 6, hm(11, 59), true],
    ['noon to noon: Sunday 12:00', noonToNoon, 6, hm(12, 0), false],
    ['noon to noon: Saturday 11:59', noonToNoon, 5, hm(11, 59), false],
  ];
  it.each(table)('%s', (_name, window, weekday, minute, expected) => {
    expect(isWithinWindow(window, weekday, minute)).toBe(expected);
  });

  it('a window covers exactly its length in minutes per start day, over one week', () => {
    const window = fc.record({
      days: fc.integer({ min: 1, max: 127 }),
      startMinute: fc.integer({ min: 0, max: 1439 }),
      endMinute: fc.integer({ min: 0, max: 1439 }),
    });
    fc.assert(fc.property(window, (w) => {
      let covered = 0;
      for (let weekday = 0; weekday < 7; weekday += 1) {
        for (let minute = 0; minute < 1440; minute += 1) if (isWithinWindow(w, weekday, minute)) covered += 1;
      }
      const length = w.endMinute > w.startMinute ? w.endMinute - w.startMinute : 1440 - w.startMinute + w.endMinute;
      let startDays = 0;
      for (let d = 0; d < 7; d += 1) if (w.days & (1 << d)) startDays += 1;
      // Windows of adjacent days may overlap only when longer than a day, which they cannot be.
      expect(covered).toBe(length * startDays);
    }), { numRuns: 40 });
  });

  it('formats days as ranges of three or more', () => {
    expect(formatDays(MON_FRI)).toBe('mon-fri');
    expect(formatDays(SAT | SUN)).toBe('sat,sun');
    expect(formatDays(MON | 4 | FRI | SAT | SUN)).toBe('mon,wed,fri-sun');
    expect(formatDays(127)).toBe('mon-sun');
  });
});

describe('TIME_WINDOW in checkPolicy (zones)', () => {
  const school = restricted({ windows: [{ days: MON_FRI, startMinute: hm(7, 0), endMinute: hm(15, 0) }], timeZone: 'Europe/Berlin' });
  const friNight = restricted({ windows: [{ days: FRI, startMinute: hm(22, 0), endMinute: hm(2, 0) }] });
  const codes = (policy: typeof school, iso: string, accountTimeZone = 'Europe/Berlin'): string[] =>
    checkPolicy(input(policy, { context: context({ atUnixMs: at(iso) }), accountTimeZone })).map((r) => r.code);

  it.each([
    // 2026-06-10 is a Wednesday; Berlin is UTC+2 in summer, UTC+1 in winter.
    ['Wednesday 07:00 Berlin', '2026-06-10T05:00:00Z', []],
    ['Wednesday 06:59 Berlin', '2026-06-10T04:59:59Z', ['TIME_WINDOW']],
    ['Wednesday 14:59:59 Berlin (last minute)', '2026-06-10T12:59:59Z', []],
    ['Wednesday 15:00 Berlin', '2026-06-10T13:00:00Z', ['TIME_WINDOW']],
    ['winter Monday 07:00 Berlin', '2026-01-05T06:00:00Z', []],
    ['winter Monday 06:59 Berlin', '2026-01-05T05:59:00Z', ['TIME_WINDOW']],
    ['Saturday noon', '2026-06-13T10:00:00Z', ['TIME_WINDOW']],
  ])('school window (policy zone Europe/Berlin): %s', (_name, iso, expected) => {
    // The account zone is ignored because the policy names its own.
    expect(codes(school, iso, 'America/New_York')).toEqual(expected);
  });

  it.each([
    ['Friday 22:00 account zone', '2026-06-12T20:00:00Z', []],
    ['Saturday 01:59 account zone', '2026-06-12T23:59:00Z', []],
    ['Saturday 02:00 account zone', '2026-06-13T00:00:00Z', ['TIME_WINDOW']],
    ['Friday 21:59 account zone', '2026-06-12T19:59:00Z', ['TIME_WINDOW']],
  ])('friday night window (account zone Europe/Berlin): %s', (_name, iso, expected) => {
    expect(codes(friNight, iso)).toEqual(expected);
  });

  it('uses UTC when neither the policy nor the account names a zone', () => {
    expect(codes(friNight, '2026-06-12T22:30:00Z', '')).toEqual([]);
    expect(codes(friNight, '2026-06-12T20:30:00Z', '')).toEqual(['TIME_WINDOW']);
  });

  it('a window on a DST day follows the wall clock (New York 2026-03-08 02:00 -> 03:00)', () => {
    const early = restricted({ windows: [{ days: SUN, startMinute: hm(1, 0), endMinute: hm(4, 0) }], timeZone: 'America/New_York' });
    expect(codes(early, '2026-03-08T06:59:00Z')).toEqual([]); // 01:59 EST
    expect(codes(early, '2026-03-08T07:00:00Z')).toEqual([]); // 03:00 EDT
    expect(codes(early, '2026-03-08T07:59:00Z')).toEqual([]); // 03:59 EDT
    expect(codes(early, '2026-03-08T08:00:00Z')).toEqual(['TIME_WINDOW']); // 04:00 EDT
  });

  it('tells the person the allowed times and the local time', () => {
    const [refusal] = checkPolicy(input(school, { context: context({ atUnixMs: at('2026-06-13T10:00:00Z') }) }));
    expect(refusal?.message).toBe('outside the allowed times (mon-fri 07:00-15:00; Europe/Berlin): now sat 12:00');
  });
});
