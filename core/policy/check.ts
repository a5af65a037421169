/**
 * Checks one payment against a spending policy and names EVERY broken restriction.
 *
 * Each restriction is checked on its own and all must pass (they only ever narrow). In particular
 * places, terminals and merchants are independent: a policy with a geofence and a terminal list
 * allows only listed terminals that are also inside a geofence. Adding a restriction can therefore
 * never allow a payment that was refused before, which is what a parent narrowing a child's policy
 * expects (an OR would let a new terminal list widen an existing geofence).
 */
import { BiopayError, ErrorCode } from '../errors.js';
import { assertPositiveAmount } from '../money.js';
import type { Refusal } from '../../proto/gen/biopay/v1/common.js';
import type { AmountQuota, CountLimit, Period, SpendingPolicy } from '../../proto/gen/biopay/v1/ledger.js';
import { distanceM, isInsideGeofence, isValidGeoPoint } from './geo.js';
import { periodAdjective, periodCode } from './period.js';
import { distanceText, moneyText } from './text.js';
import { localTime } from './local-clock.js';
import { zoneOrUtc } from './time-zone.js';
import { RefusalCode, type PolicyCheckInput, type PolicyUsage } from './types.js';
import { DAY_NAMES, describeWindow, formatMinute, isWithinWindow } from './window.js';

function usageOf<T>(byPeriod: Map<Period, T>, period: Period, what: string): T {
  const used = byPeriod.get(period);
  // Reading a missing entry as zero would let a ledger bug overspend; refuse loudly instead.
  if (used === undefined) throw new BiopayError(ErrorCode.Internal, `policy check: no ${periodAdjective(period)} ${what} usage given`);
  return used;
}

function checkMax(policy: SpendingPolicy, amountMinor: bigint, currency: string): Refusal | undefined {
  const maxMinor = policy.maxPerPaymentMinor;
  if (maxMinor === 0n || amountMinor <= maxMinor) return undefined;
  return {
    code: RefusalCode.MaxPerPayment,
    message: `maximum per payment: ${moneyText(maxMinor, currency)}, ${moneyText(amountMinor, currency)} asked`,
  };
}

function checkQuota(quota: AmountQuota, amountMinor: bigint, currency: string, usage: PolicyUsage): Refusal | undefined {
  const usedMinor = usageOf(usage.amountMinorByPeriod, quota.period, 'amount');
  if (usedMinor + amountMinor <= quota.amountMinor) return undefined;
  const leftMinor = usedMinor >= quota.amountMinor ? 0n : quota.amountMinor - usedMinor;
  return {
    code: `QUOTA_${periodCode(quota.period)}`,
    message: `${periodAdjective(quota.period)} quota: ${moneyText(leftMinor, currency)} left, ${moneyText(amountMinor, currency)} asked`,
  };
}

function checkCount(limit: CountLimit, usage: PolicyUsage): Refusal | undefined {
  const used = usageOf(usage.countByPeriod, limit.period, 'count');
  if (used + 1 <= limit.count) return undefined;
  const plural = limit.count === 1 ? 'payment' : 'payments';
  return {
    code: `COUNT_${periodCode(limit.period)}`,
    message: `${periodAdjective(limit.period)} limit of ${limit.count} ${plural} reached`,
  };
}

function checkPlace(policy: SpendingPolicy, input: PolicyCheckInput): Refusal | undefined {
  if (policy.places.length === 0) return undefined;
  const location = input.context.location;
  if (!isValidGeoPoint(location)) {
    return { code: RefusalCode.Place, message: 'allowed places only, and this terminal sent no valid location' };
  }
  if (policy.places.some((place) => isInsideGeofence(place, location))) return undefined;
  const outsideM = Math.min(...policy.places.map((place) => distanceM(place.center!, location) - place.radiusM));
  return { code: RefusalCode.Place, message: `not an allowed place: ${distanceText(outsideM)} outside the nearest one` };
}

function checkListed(ids: string[], id: string, code: RefusalCode, what: string): Refusal | undefined {
  if (ids.length === 0 || ids.includes(id)) return undefined;
  const shown = id === '' ? `this ${what}` : `${what} ${id}`;
  return { code, message: `${shown} is not one of the allowed ${what}s` };
}

function checkWindows(policy: SpendingPolicy, atUnixMs: number, accountTimeZone: string): Refusal | undefined {
  if (policy.windows.length === 0) return undefined;
  const zone = zoneOrUtc(policy.timeZone || accountTimeZone);
  const t = localTime(atUnixMs, zone);
  const minuteOfDay = t.hour * 60 + t.minute;
  if (policy.windows.some((window) => isWithinWindow(window, t.weekday, minuteOfDay))) return undefined;
  const allowed = policy.windows.map(describeWindow).join('; ');
  return {
    code: RefusalCode.TimeWindow,
    message: `outside the allowed times (${allowed}; ${zone}): now ${DAY_NAMES[t.weekday]} ${formatMinute(minuteOfDay)}`,
  };
}

function instantOf(input: PolicyCheckInput): number {
  const atUnixMs = Number(input.context.atUnixMs);
  if (BigInt(atUnixMs) !== input.context.atUnixMs) throw new BiopayError(ErrorCode.BadRequest, `payment time ${input.context.atUnixMs} ms is out of range`);
  return atUnixMs;
}

/** [] means allowed. Unrestricted policies always allow; limits of those are the balance's job. */
export function checkPolicy(input: PolicyCheckInput): Refusal[] {
  const { policy, amountMinor, currency, usage } = input;
  if (!policy.restricted) return [];
  assertPositiveAmount(amountMinor);
  const atUnixMs = instantOf(input);
  const refusals: (Refusal | undefined)[] = [
    checkMax(policy, amountMinor, currency),
    ...policy.quotas.map((quota) => checkQuota(quota, amountMinor, currency, usage)),
    ...policy.counts.map((limit) => checkCount(limit, usage)),
    checkPlace(policy, input),
    checkListed(policy.terminalIds, input.context.terminalId, RefusalCode.Terminal, 'terminal'),
    checkListed(policy.merchantIds, input.context.merchantId, RefusalCode.Merchant, 'merchant'),
    checkWindows(policy, atUnixMs, input.accountTimeZone),
  ];
  return refusals.filter((refusal): refusal is Refusal => refusal !== undefined);
}
