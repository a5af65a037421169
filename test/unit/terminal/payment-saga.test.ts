import { describe, expect, it } from 'vitest';
import type { BusinessCommand } from '../../../proto/gen/biopay/v1/business.js';
import type { PaymentState } from '../../../proto/gen/biopay/v1/ledger.js';
import { PaymentOutcome, type PayRequest, type Terminal } from '../../../proto/gen/biopay/v1/payment.js';
import { BiopayError, ErrorCode } from '../../../core/errors.js';
import { runPayment, type PaymentPorts } from '../../../core/terminal/payment-saga.js';

const terminal: Terminal = { terminalId: 'T1', merchantAccountId: 'acc_m', location: undefined, action: 'open-gate', hint: '', item: '' };
const request: PayRequest = {
  paymentId: 'p1', terminalId: 'T1', capture: { captureId: 'c1', terminalId: 'T1', isoTemplate: Buffer.from('x'), face: undefined, palm: undefined, hint: '' },
  amount: { amountMinor: 500n, currency: 'EUR' }, action: '', context: undefined, item: '',
};
const timeouts = { identifyMs: 100, authorizeMs: 100, businessMs: 100, settleMs: 100, settleAttemptsMax: 3, lateRecordWaitMs: 100 };
const state = (paymentId: string): PaymentState => ({ paymentId, state: 0, authorizedMinor: 0n, capturedMinor: 0n, refundedMinor: 0n, currency: 'EUR' });

/** Records the saga's calls; each step's behaviour is set per test. */
function ports(overrides: Partial<PaymentPorts> = {}) {
  const calls: string[] = [];
  const base: PaymentPorts = {
    identify: async () => ({ matched: true, accountId: 'acc_a', credentialId: 'cred_a', score: 0.9, threshold: 0.5, candidatesSearched: 10 }),
    authorize: async () => ({ paymentId: 'p1', approved: true, refusals: [], state: 1, availableMinor: 0n, firstAnswer: true }),
    business: async (command) => ({ paymentId: command.paymentId, terminalId: 'T1', action: command.action, succeeded: true, detail: 'done', executedUnixMs: 1n }),
    businessRecord: async () => undefined,
    capture: async (_account, capture) => state(capture.paymentId),
    void: async (_account, voidRequest) => state(voidRequest.paymentId),
  };
  const wrapped = Object.fromEntries(Object.entries({ ...base, ...overrides }).map(([name, step]) => [name, (...args: unknown[]) => {
    calls.push(name);
    return (step as (...inner: unknown[]) => Promise<unknown>)(...args);
  }])) as unknown as PaymentPorts;
  return { ports: wrapped, calls };
}

describe('payment saga', () => {
  it('identify -> authorize -> business -> capture when all goes well', async () => {
    const { ports: p, calls } = ports();
    const result = await runPayment(p, terminal, request, timeouts);
    expect(result.outcome).toBe(PaymentOutcome.PAYMENT_OUTCOME_APPROVED);
    expect(calls).toEqual(['identify', 'authorize', 'business', 'capture']);
    expect(result.accountId).toBe('acc_a');
    expect(result.timings!.totalUs).toBeGreaterThan(0);
  });

  it('refuses with NO_MATCH and touches no money when nobody matches', async () => {
    const { ports: p, calls } = ports({ identify: async () => ({ matched: false, accountId: '', credentialId: '', score: 0.1, threshold: 0.5, candidatesSearched: 10 }) });
    const result = await runPayment(p, terminal, request, timeouts);
    expect(result.outcome).toBe(PaymentOutcome.PAYMENT_OUTCOME_REFUSED);
    expect(result.refusals.map((r) => r.code)).toEqual(['NO_MATCH']);
    expect(calls).toEqual(['identify']);
  });

  it('refuses a touch the matcher cannot use with POOR_CAPTURE (touch again), touching no money; other identify failures stay errors', async () => {
    const poor = ports({ identify: async () => { throw new BiopayError(ErrorCode.InvalidTemplate, 'too few usable minutiae (5, at least 10 needed)'); } });
    const result = await runPayment(poor.ports, terminal, request, timeouts);
    expect(result.outcome).toBe(PaymentOutcome.PAYMENT_OUTCOME_REFUSED);
    expect(result.refusals).toEqual([{ code: 'POOR_CAPTURE', message: 'touch again: too few usable minutiae (5, at least 10 needed)' }]);
    expect(poor.calls).toEqual(['identify']);
    const down = ports({ identify: async () => { throw new BiopayError(ErrorCode.Unavailable, 'no partition answered'); } });
    await expect(runPayment(down.ports, terminal, request, timeouts)).rejects.toMatchObject({ code: ErrorCode.Unavailable });
  });

  it('passes the ledger refusals through', async () => {
    const refusals = [{ code: 'INSUFFICIENT_FUNDS', message: 'x' }, { code: 'QUOTA_DAY', message: 'y' }];
    const { ports: p, calls } = ports({ authorize: async () => ({ paymentId: 'p1', approved: false, refusals, state: 4, availableMinor: 0n, firstAnswer: true }) });
    const result = await runPayment(p, terminal, request, timeouts);
    expect(result.refusals).toEqual(refusals);
    expect(calls).toEqual(['identify', 'authorize']);
  });

  it('tells the business step whether the ledger placed the hold for this attempt or answered a retry', async () => {
    const commands: BusinessCommand[] = [];
    const business: PaymentPorts['business'] = async (command) => {
      commands.push(command);
      return { paymentId: command.paymentId, terminalId: 'T1', action: command.action, succeeded: true, detail: 'done', executedUnixMs: 1n };
    };
    await runPayment(ports({ business }).ports, terminal, request, timeouts);
    const retried = ports({ business, authorize: async () => ({ paymentId: 'p1', approved: true, refusals: [], state: 1, availableMinor: 0n, firstAnswer: false }) });
    await runPayment(retried.ports, terminal, request, timeouts);
    expect(commands.map((command) => command.freshAuthorization)).toEqual([true, false]);
  });

  it('voids when the business step fails or times out', async () => {
    const failing = ports({ business: async (command) => ({ paymentId: command.paymentId, terminalId: 'T1', action: 'dispense', succeeded: false, detail: 'jammed', executedUnixMs: 1n }) });
    const failed = await runPayment(failing.ports, terminal, request, timeouts);
    expect(failed.outcome).toBe(PaymentOutcome.PAYMENT_OUTCOME_VOIDED);
    expect(failed.refusals[0]!.code).toBe('BUSINESS_FAILED');
    expect(failing.calls).toEqual(['identify', 'authorize', 'business', 'void']);

    const silent = ports({ business: async () => { throw new BiopayError(ErrorCode.Timeout, 'no answer'); } });
    const timedOut = await runPayment(silent.ports, terminal, request, timeouts);
    expect(timedOut.outcome).toBe(PaymentOutcome.PAYMENT_OUTCOME_VOIDED);
    expect(timedOut.refusals[0]!.code).toBe('BUSINESS_TIMEOUT');
    expect(silent.calls).toEqual(['identify', 'authorize', 'business', 'businessRecord', 'void']);
  });

  it('captures when the business step answered late but its record says it ran (goods handed out at the deadline)', async () => {
    const waits: number[] = [];
    const late = ports({
      business: async () => { throw new BiopayError(ErrorCode.Timeout, 'no answer'); },
      businessRecord: async (paymentId, waitMs) => {
        waits.push(waitMs);
        return { paymentId, terminalId: 'T1', action: 'dispense', succeeded: true, detail: 'delivered', executedUnixMs: 1n };
      },
    });
    const result = await runPayment(late.ports, terminal, request, timeouts);
    expect(result.outcome).toBe(PaymentOutcome.PAYMENT_OUTCOME_APPROVED);
    expect(late.calls).toEqual(['identify', 'authorize', 'business', 'businessRecord', 'capture']);
    expect(waits).toEqual([timeouts.lateRecordWaitMs]);
    // A business step that failed for another reason than silence is not looked up again.
    const refused = ports({ business: async () => { throw new BiopayError(ErrorCode.Unavailable, 'business step could not be sent'); } });
    expect((await runPayment(refused.ports, terminal, request, timeouts)).outcome).toBe(PaymentOutcome.PAYMENT_OUTCOME_VOIDED);
    expect(refused.calls).toEqual(['identify', 'authorize', 'business', 'void']);
  });

  it('releases a possible hold when the authorize answer is lost, then reports the error', async () => {
    const { ports: p, calls } = ports({ authorize: async () => { throw new BiopayError(ErrorCode.Timeout, 'lost'); } });
    await expect(runPayment(p, terminal, request, timeouts)).rejects.toMatchObject({ code: ErrorCode.Timeout });
    expect(calls).toEqual(['identify', 'authorize', 'void']);
  });

  it('does not void a payment another request owns when authorize is refused with a typed error', async () => {
    const { ports: p, calls } = ports({ authorize: async () => { throw new BiopayError(ErrorCode.IdempotencyConflict, 'other body'); } });
    await expect(runPayment(p, terminal, request, timeouts)).rejects.toMatchObject({ code: ErrorCode.IdempotencyConflict });
    expect(calls).toEqual(['identify', 'authorize']);
  });

  it('retries capture a bounded number of times', async () => {
    let attempts = 0;
    const { ports: p } = ports({ capture: async () => { attempts++; throw new BiopayError(ErrorCode.Unavailable, 'down'); } });
    await expect(runPayment(p, terminal, request, timeouts)).rejects.toMatchObject({ code: ErrorCode.Unavailable });
    expect(attempts).toBe(3);
  });

  it('refuses a non-positive or overflowing amount before anything happens', async () => {
    const { ports: p, calls } = ports();
    await expect(runPayment(p, terminal, { ...request, amount: { amountMinor: 0n, currency: 'EUR' } }, timeouts)).rejects.toMatchObject({ code: ErrorCode.AmountOutOfRange });
    await expect(runPayment(p, terminal, { ...request, amount: { amountMinor: 2n ** 63n, currency: 'EUR' } }, timeouts)).rejects.toMatchObject({ code: ErrorCode.AmountOutOfRange });
    expect(calls).toEqual([]);
  });
});
