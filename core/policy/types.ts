/** The contract between the ledger and the policy checks. */
import type { PaymentContext, Period, SpendingPolicy } from '../../proto/gen/biopay/v1/ledger.js';

/**
 * What this credential has used in the period containing the payment's instant: captured plus
 * currently held. The ledger supplies an entry for every period in periodsUsed(policy); a missing
 * entry is a ledger bug and is refused rather than read as zero.
 */
export interface PolicyUsage {
  amountMinorByPeriod: Map<Period, bigint>;
  countByPeriod: Map<Period, number>;
}

export interface PolicyCheckInput {
  policy: SpendingPolicy;
  amountMinor: bigint;
  /** Currency of the account and of every amount in the policy. */
  currency: string;
  context: PaymentContext;
  /** The account's IANA zone (empty = UTC): quota periods, and windows when the policy has no zone. */
  accountTimeZone: string;
  usage: PolicyUsage;
}

/** Machine-readable refusal codes, one per restriction. */
export const RefusalCode = {
  MaxPerPayment: 'MAX_PER_PAYMENT',
  QuotaDay: 'QUOTA_DAY',
  QuotaWeek: 'QUOTA_WEEK',
  QuotaMonth: 'QUOTA_MONTH',
  QuotaLifetime: 'QUOTA_LIFETIME',
  CountDay: 'COUNT_DAY',
  CountWeek: 'COUNT_WEEK',
  CountMonth: 'COUNT_MONTH',
  CountLifetime: 'COUNT_LIFETIME',
  Place: 'PLACE',
  Terminal: 'TERMINAL',
  Merchant: 'MERCHANT',
  TimeWindow: 'TIME_WINDOW',
} as const;
export type RefusalCode = (typeof RefusalCode)[keyof typeof RefusalCode];
