/**
 * A reference model of the ledger for the property tests: plain maps and arrays, no database.
 * Quota and count are recomputed from the payments each time, so the model shares no bookkeeping
 * with the ledger it checks.
 */
import { HoldState, Period, type SpendingPolicy } from '../../../proto/gen/biopay/v1/ledger.js';
import { periodStartUnixMs } from '../../../core/policy/index.js';

export interface ModelAccount {
  balanceMinor: bigint;
  heldMinor: bigint;
  timeZone: string;
}

export interface ModelPayment {
  paymentId: string;
  accountId: string;
  credentialId: string;
  amountMinor: bigint;
  state: HoldState;
  capturedMinor: bigint;
  refundedMinor: bigint;
  atUnixMs: number;
  expiresUnixMs: number;
}

export interface Usage {
  amountMinor: bigint;
  count: number;
}

export class LedgerModel {
  readonly accounts = new Map<string, ModelAccount>();
  readonly policies = new Map<string, SpendingPolicy | undefined>();
  readonly credentialAccount = new Map<string, string>();
  readonly payments: ModelPayment[] = [];

  available(accountId: string): bigint {
    const account = this.accounts.get(accountId)!;
    return account.balanceMinor - account.heldMinor;
  }

  usage(credentialId: string, period: Period, atUnixMs: number): Usage {
    const timeZone = this.accounts.get(this.credentialAccount.get(credentialId)!)!.timeZone;
    const sinceUnixMs = periodStartUnixMs(period, atUnixMs, timeZone);
    const usage: Usage = { amountMinor: 0n, count: 0 };
    for (const payment of this.payments) {
      if (payment.credentialId !== credentialId || payment.atUnixMs < sinceUnixMs) continue;
      if (payment.state === HoldState.HOLD_STATE_AUTHORIZED) {
        usage.amountMinor += payment.amountMinor;
        usage.count += 1;
      } else if (payment.state === HoldState.HOLD_STATE_CAPTURED && payment.capturedMinor > payment.refundedMinor) {
        usage.amountMinor += payment.capturedMinor - payment.refundedMinor;
        usage.count += 1;
      }
    }
    return usage;
  }

  /** The refusal codes the ledger must give, computed from the rules themselves. */
  expectedRefusals(credentialId: string, amountMinor: bigint, atUnixMs: number): string[] {
    const accountId = this.credentialAccount.get(credentialId)!;
    const policy = this.policies.get(credentialId);
    const codes: string[] = [];
    if (policy?.restricted) {
      if (policy.maxPerPaymentMinor > 0n && amountMinor > policy.maxPerPaymentMinor) codes.push('MAX_PER_PAYMENT');
      for (const quota of policy.quotas) {
        if (this.usage(credentialId, quota.period, atUnixMs).amountMinor + amountMinor > quota.amountMinor) codes.push(`QUOTA_${periodName(quota.period)}`);
      }
      for (const limit of policy.counts) {
        if (this.usage(credentialId, limit.period, atUnixMs).count + 1 > limit.count) codes.push(`COUNT_${periodName(limit.period)}`);
      }
    }
    if (this.available(accountId) < amountMinor) codes.push('INSUFFICIENT_FUNDS');
    return codes.sort();
  }

  expire(nowUnixMs: number): number {
    let expired = 0;
    for (const payment of this.payments) {
      if (payment.state !== HoldState.HOLD_STATE_AUTHORIZED || payment.expiresUnixMs > nowUnixMs) continue;
      payment.state = HoldState.HOLD_STATE_EXPIRED;
      this.accounts.get(payment.accountId)!.heldMinor -= payment.amountMinor;
      expired += 1;
    }
    return expired;
  }
}

function periodName(period: Period): string {
  return { [Period.PERIOD_DAY]: 'DAY', [Period.PERIOD_WEEK]: 'WEEK', [Period.PERIOD_MONTH]: 'MONTH', [Period.PERIOD_LIFETIME]: 'LIFETIME' }[period as 1 | 2 | 3 | 4];
}
