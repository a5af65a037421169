/**
 * Weekly time windows. `days` is a bitmask of the days a window STARTS on (bit 0 = Monday ...
 * bit 6 = Sunday); minutes count from local midnight; the end is exclusive (07:00-15:00 allows
 * 14:59, refuses 15:00). end < start crosses midnight into the next day, so fri@22:00-02:00 also
 * covers Saturday 00:00-01:59. end == start is a full 24 hours from start (00:00-24:00 is all day).
 */
import type { TimeWindow } from '../../proto/gen/biopay/v1/ledger.js';

export const MINUTES_PER_DAY = 1440;
export const ALL_DAYS_MASK = 0b111_1111;
export const DAY_NAMES: readonly string[] = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];

function startsOn(window: TimeWindow, weekday: number): boolean {
  return (window.days & (1 << weekday)) !== 0;
}

/** weekday 0 = Monday; minuteOfDay 0..1439, both local to the window's zone. */
export function isWithinWindow(window: TimeWindow, weekday: number, minuteOfDay: number): boolean {
  const { startMinute, endMinute } = window;
  if (startMinute < endMinute) {
    return startsOn(window, weekday) && minuteOfDay >= startMinute && minuteOfDay < endMinute;
  }
  const yesterday = (weekday + 6) % 7;
  return (startsOn(window, weekday) && minuteOfDay >= startMinute) || (startsOn(window, yesterday) && minuteOfDay < endMinute);
}

export function formatMinute(minute: number): string {
  return `${String(Math.floor(minute / 60)).padStart(2, '0')}:${String(minute % 60).padStart(2, '0')}`;
}

/** "mon-fri,sun": runs of three or more days as ranges, in Monday-first order. */
export function formatDays(days: number): string {
  const parts: string[] = [];
  let weekday = 0;
  while (weekday < 7) {
    if ((days & (1 << weekday)) === 0) { weekday += 1; continue; }
    let last = weekday;
    while (last + 1 < 7 && (days & (1 << (last + 1))) !== 0) last += 1;
    if (last - weekday >= 2) parts.push(`${DAY_NAMES[weekday]}-${DAY_NAMES[last]}`);
    else for (let d = weekday; d <= last; d += 1) parts.push(DAY_NAMES[d]!);
    weekday = last + 1;
  }
  return parts.join(',');
}

/** The CLI form, which parseWindow reads back: "mon-fri@07:00-15:00", "sat@00:00-24:00". */
export function formatWindow(window: TimeWindow): string {
  const end = window.endMinute === 0 && window.startMinute === 0 ? '24:00' : formatMinute(window.endMinute);
  return `${formatDays(window.days)}@${formatMinute(window.startMinute)}-${end}`;
}

/** For people: "mon-fri 07:00-15:00", "sat,sun 22:00-02:00 next day". */
export function describeWindow(window: TimeWindow): string {
  if (window.startMinute === 0 && window.endMinute === 0) return `${formatDays(window.days)} all day`;
  const end = window.endMinute <= window.startMinute ? `${formatMinute(window.endMinute)} next day` : formatMinute(window.endMinute);
  return `${formatDays(window.days)} ${formatMinute(window.startMinute)}-${end}`;
}
