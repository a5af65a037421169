/**
 * The CLI's policy flags (`biopay enroll` / `biopay policy set`). Early users script these forms,
 * keep them: --quota 30.00/day (day|week|month|lifetime), --count 5/day, --max 10.00,
 * --place LAT,LON,RADIUS_M, --terminal T1, --merchant M1, --window mon-fri@07:00-15:00
 * (also "sat,sun@22:00-02:00", "mon@...", end 24:00 = midnight), --tz Europe/Berlin.
 */
import { BiopayError, ErrorCode } from '../errors.js';
import { formatAmount, parseAmount } from '../money.js';
import type { Geofence, SpendingPolicy, TimeWindow } from '../../proto/gen/biopay/v1/ledger.js';
import { periodFromWord, periodWord } from './period.js';
import { canonicalTimeZone } from './time-zone.js';
import { validatePolicy } from './validate.js';
import { DAY_NAMES, MINUTES_PER_DAY, formatWindow } from './window.js';

export interface PolicyFlags {
  quota?: string[];
  count?: string[];
  max?: string;
  place?: string[];
  terminal?: string[];
  merchant?: string[];
  window?: string[];
  tz?: string;
  restricted: boolean;
}

const FLAG_TEXT_MAX = 200;
const COUNT_PATTERN = /^\d{1,10}$/;
const NUMBER_PATTERN = /^[+-]?\d{1,12}(?:\.\d{1,15})?$/;
const WINDOW_PATTERN = /^([a-z,-]+)@(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$/;

function flagError(flag: string, value: string, why: string, cause?: unknown): BiopayError {
  return new BiopayError(ErrorCode.BadRequest, `--${flag} "${value.slice(0, FLAG_TEXT_MAX)}": ${why}`, { cause });
}

function splitPeriod(flag: string, value: string): [string, SpendingPolicy['quotas'][number]['period']] {
  const slash = value.lastIndexOf('/');
  const period = slash < 0 ? undefined : periodFromWord(value.slice(slash + 1).trim().toLowerCase());
  if (period === undefined) throw flagError(flag, value, 'expected AMOUNT/PERIOD with PERIOD day, week, month or lifetime');
  return [value.slice(0, slash).trim(), period];
}

function parseQuota(value: string, currency: string): SpendingPolicy['quotas'][number] {
  const [amount, period] = splitPeriod('quota', value);
  try {
    const amountMinor = parseAmount(amount, currency);
    if (amountMinor < 0n) throw new BiopayError(ErrorCode.BadRequest, 'a quota cannot be negative');
    return { period, amountMinor };
  } catch (error) {
    throw flagError('quota', value, error instanceof Error ? error.message : String(error), error);
  }
}

function parseCount(value: string): SpendingPolicy['counts'][number] {
  const [count, period] = splitPeriod('count', value);
  if (!COUNT_PATTERN.test(count)) throw flagError('count', value, 'expected a whole number of payments, e.g. 5/day');
  return { period, count: Number(count) };
}

function parseMax(value: string, currency: string): bigint {
  let amountMinor: bigint;
  try {
    amountMinor = parseAmount(value, currency);
  } catch (error) {
    throw flagError('max', value, error instanceof Error ? error.message : String(error), error);
  }
  if (amountMinor <= 0n) throw flagError('max', value, 'the maximum per payment must be more than 0');
  return amountMinor;
}

function parsePlace(value: string): Geofence {
  const parts = value.split(',').map((part) => part.trim());
  if (parts.length !== 3 || !parts.every((part) => NUMBER_PATTERN.test(part))) {
    throw flagError('place', value, 'expected LAT,LON,RADIUS_M in decimal degrees and meters, e.g. 52.52,13.405,150');
  }
  const [latitudeDeg, longitudeDeg, radiusM] = parts.map(Number) as [number, number, number];
  return { center: { latitudeDeg, longitudeDeg }, radiusM };
}

function dayIndex(flag: string, value: string, name: string): number {
  const index = DAY_NAMES.indexOf(name);
  if (index < 0) throw flagError(flag, value, `unknown day "${name}" (use mon, tue, wed, thu, fri, sat, sun)`);
  return index;
}

/** "mon-fri,sun" -> mask; a range may wrap the week end ("fri-mon" = fri,sat,sun,mon). */
function parseDays(value: string, days: string): number {
  let mask = 0;
  for (const item of days.split(',')) {
    const [first, last, extra] = item.split('-');
    if (extra !== undefined || first === undefined) throw flagError('window', value, `bad day range "${item}"`);
    const from = dayIndex('window', value, first);
    const to = last === undefined ? from : dayIndex('window', value, last);
    for (let d = from; ; d = (d + 1) % 7) {
      mask |= 1 << d;
      if (d === to) break;
    }
  }
  return mask;
}

function parseMinute(value: string, hour: string, minute: string, endOfDayAllowed: boolean): number {
  const total = Number(hour) * 60 + Number(minute);
  if (endOfDayAllowed && total === MINUTES_PER_DAY) return 0;
  if (Number(minute) > 59 || total >= MINUTES_PER_DAY) throw flagError('window', value, `bad time ${hour}:${minute} (00:00..23:59, end may be 24:00)`);
  return total;
}

function parseWindow(value: string): TimeWindow {
  const match = WINDOW_PATTERN.exec(value.trim().toLowerCase());
  if (!match) throw flagError('window', value, 'expected DAYS@HH:MM-HH:MM, e.g. mon-fri@07:00-15:00');
  const [, days, startHour, startMinute, endHour, endMinute] = match as unknown as [string, string, string, string, string, string];
  return {
    days: parseDays(value, days),
    startMinute: parseMinute(value, startHour, startMinute, false),
    endMinute: parseMinute(value, endHour, endMinute, true),
  };
}

/** "T1" or "T1,T2" per flag; order kept, blanks refused by validatePolicy. */
function parseIds(values: string[] | undefined): string[] {
  return (values ?? []).flatMap((value) => value.split(',').map((id) => id.trim()));
}

function anyRestrictionFlag(flags: PolicyFlags): string | undefined {
  const lists: [string, unknown[] | undefined][] = [
    ['quota', flags.quota], ['count', flags.count], ['place', flags.place], ['terminal', flags.terminal],
    ['merchant', flags.merchant], ['window', flags.window],
  ];
  for (const [name, list] of lists) if (list && list.length > 0) return name;
  if (flags.max !== undefined) return 'max';
  if (flags.tz !== undefined) return 'tz';
  return undefined;
}

function unrestrictedPolicy(): SpendingPolicy {
  return {
    restricted: false, maxPerPaymentMinor: 0n, quotas: [], counts: [], places: [],
    terminalIds: [], merchantIds: [], windows: [], timeZone: '',
  };
}

/** Builds and validates a policy from CLI flags; amounts are in the account's currency. */
export function parsePolicyFlags(flags: PolicyFlags, currency: string): SpendingPolicy {
  const policy = unrestrictedPolicy();
  if (!flags.restricted) {
    const flag = anyRestrictionFlag(flags);
    if (flag !== undefined) throw new BiopayError(ErrorCode.BadRequest, `--${flag} restricts the credential: add --restricted`);
    return policy;
  }
  policy.restricted = true;
  policy.maxPerPaymentMinor = flags.max === undefined ? 0n : parseMax(flags.max, currency);
  policy.quotas = (flags.quota ?? []).map((value) => parseQuota(value, currency));
  policy.counts = (flags.count ?? []).map(parseCount);
  policy.places = (flags.place ?? []).map(parsePlace);
  policy.terminalIds = parseIds(flags.terminal);
  policy.merchantIds = parseIds(flags.merchant);
  policy.windows = (flags.window ?? []).map(parseWindow);
  policy.timeZone = canonicalTimeZone(flags.tz?.trim() ?? '');
  validatePolicy(policy);
  return policy;
}

/** The flags that parsePolicyFlags turns back into the same policy. */
export function policyToFlags(policy: SpendingPolicy, currency: string): PolicyFlags {
  if (!policy.restricted) return { restricted: false };
  const flags: PolicyFlags = { restricted: true };
  if (policy.maxPerPaymentMinor !== 0n) flags.max = formatAmount(policy.maxPerPaymentMinor, currency);
  if (policy.quotas.length > 0) flags.quota = policy.quotas.map((q) => `${formatAmount(q.amountMinor, currency)}/${periodWord(q.period)}`);
  if (policy.counts.length > 0) flags.count = policy.counts.map((c) => `${c.count}/${periodWord(c.period)}`);
  if (policy.places.length > 0) flags.place = policy.places.map((p) => `${p.center?.latitudeDeg},${p.center?.longitudeDeg},${p.radiusM}`);
  if (policy.terminalIds.length > 0) flags.terminal = [...policy.terminalIds];
  if (policy.merchantIds.length > 0) flags.merchant = [...policy.merchantIds];
  if (policy.windows.length > 0) flags.window = policy.windows.map(formatWindow);
  if (policy.timeZone !== '') flags.tz = policy.timeZone;
  return flags;
}
