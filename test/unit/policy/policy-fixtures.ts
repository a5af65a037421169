/** Builders shared by the policy tests. */
import { Period } from '../../../proto/gen/biopay/v1/ledger.js';
import type { PaymentContext, SpendingPolicy } from '../../../proto/gen/biopay/v1/ledger.js';
import type { PolicyCheckInput, PolicyUsage } from '../../../core/policy/index.js';

export const ALL_PERIODS = [Period.PERIOD_DAY, Period.PERIOD_WEEK, Period.PERIOD_MONTH, Period.PERIOD_LIFETIME];

/** Keeps the first quota or count of each period (a policy may limit each period once). */
export function uniqueByPeriod<T extends { period: Period }>(items: T[]): T[] {
  return items.filter((item, i) => items.findIndex((other) => other.period === item.period) === i);
}

export function restricted(overrides: Partial<SpendingPolicy> = {}): SpendingPolicy {
  return {
    restricted: true, maxPerPaymentMinor: 0n, quotas: [], counts: [], places: [],
    terminalIds: [], merchantIds: [], windows: [], timeZone: '', ...overrides,
  };
}

export function unrestricted(): SpendingPolicy {
  return { ...restricted(), restricted: false };
}

/** Usage with the same numbers in every period. */
export function usage(amountMinor = 0n, count = 0): PolicyUsage {
  return {
    amountMinorByPeriod: new Map(ALL_PERIODS.map((p) => [p, amountMinor])),
    countByPeriod: new Map(ALL_PERIODS.map((p) => [p, count])),
  };
}

export function context(overrides: Partial<PaymentContext> = {}): PaymentContext {
  return {
    terminalId: 'T1', merchantId: 'M1', location: { latitudeDeg: 52.52, longitudeDeg: 13.405 },
    atUnixMs: BigInt(Date.parse('2026-06-10T10:00:00Z')), ...overrides,
  };
}

export function input(policy: SpendingPolicy, overrides: Partial<PolicyCheckInput> = {}): PolicyCheckInput {
  return {
    policy, amountMinor: 100n, currency: 'EUR', context: context(), accountTimeZone: 'Europe/Berlin',
    usage: usage(), ...overrides,
  };
}

export function at(iso: string): bigint {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) throw new Error(`bad test instant ${iso}`);
  return BigInt(ms);
}

/** Bits of TimeWindow.days: bit 0 = Monday ... bit 6 = Sunday. */
export const MON = 1, TUE = 2, WED = 4, THU = 8, FRI = 16, SAT = 32, SUN = 64;
