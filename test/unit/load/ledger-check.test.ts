/**
 * The load tool's ledger check reconciles captures with the business records: a business step that
 * ran for a payment left uncaptured (goods out for nothing) and a capture without one are problems,
 * as is a record that cannot be read. The ledger's answers come from a stand-in client here; the
 * integration tests run the check against real networks.
 */
import { describe, expect, it } from 'vitest';
import { HoldState, type PaymentState } from '../../../proto/gen/biopay/v1/ledger.js';
import { checkLedger, type LedgerCheckInput } from '../../../core/load/ledger-check.js';

const AMOUNT_MINOR = 1_00n;
const payer = { accountId: 'acc-payer', depositMinor: 10_00n };
const merchant = { accountId: 'acc-merchant', depositMinor: 0n };

function payment(paymentId: string, state: HoldState): PaymentState {
  const captured = state === HoldState.HOLD_STATE_CAPTURED ? AMOUNT_MINOR : 0n;
  return { paymentId, state, authorizedMinor: AMOUNT_MINOR, capturedMinor: captured, refundedMinor: 0n, currency: 'EUR' };
}

/** A ledger that captured `captured` and voided `voided`, balances to match. */
function ledgerStandIn(captured: string[], voided: string[]): LedgerCheckInput['ledger'] {
  const states = new Map([
    ...captured.map((id) => [id, payment(id, HoldState.HOLD_STATE_CAPTURED)] as const),
    ...voided.map((id) => [id, payment(id, HoldState.HOLD_STATE_VOIDED)] as const),
  ]);
  const paidMinor = BigInt(captured.length) * AMOUNT_MINOR;
  const answers: Record<string, (message: any) => unknown> = {
    checkLedger: () => ({ openHolds: 0, problems: [], totals: [] }),
    getPayment: (message) => states.get(message.paymentId),
    getAccount: (message) => ({
      balanceMinor: message.accountId === payer.accountId ? payer.depositMinor - paidMinor : paidMinor, heldMinor: 0n,
    }),
  };
  return { ask: async (_key: string, method: string, message: unknown) => answers[method]!(message) } as unknown as LedgerCheckInput['ledger'];
}

function input(captured: string[], voided: string[], businessSteps: LedgerCheckInput['businessSteps']): LedgerCheckInput {
  const entry = (paymentId: string, ending: 'approved' | 'voided') => ({ paymentId, accountId: payer.accountId, merchantAccountId: merchant.accountId, ending });
  return {
    ledger: ledgerStandIn(captured, voided), amountMinor: AMOUNT_MINOR, customers: [payer], merchants: [merchant], settleWaitMs: 0,
    payments: [...captured.map((id) => entry(id, 'approved')), ...voided.map((id) => entry(id, 'voided'))],
    businessSteps,
  };
}

describe('the load ledger check against the business records', () => {
  it('passes when a payment is captured exactly when its business step ran', async () => {
    const report = await checkLedger(input(['p1', 'p2'], ['p3'], async () => new Map([['p1', true], ['p2', true], ['p3', false]])));
    expect(report.problems).toEqual([]);
    expect(report).toMatchObject({ passed: true, businessStepsChecked: 3 });
  });

  it('fails on goods handed out without a capture, on a capture without goods, and on records it cannot read', async () => {
    const report = await checkLedger(input(['p1', 'p2'], ['p3', 'p4'], async () => new Map([['p1', true], ['p2', false], ['p3', true]])));
    expect(report.passed).toBe(false);
    expect(report.problems).toEqual([
      'p2 was captured but its business step did not run',
      'p3: its business step ran but the payment was not captured',
      '1 payment(s) whose business record could not be read',
    ]);
    expect(report.businessStepsChecked).toBe(3);
  });

  it('reports no reconciliation when no records are given', async () => {
    const report = await checkLedger(input(['p1'], [], undefined));
    expect(report).toMatchObject({ passed: true, businessStepsChecked: 0 });
  });
});
