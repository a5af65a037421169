/**
 * Idempotency kept in the payment row (authorize, capture), and merchants credited at write time:
 * a retry answers the first result even after the payment moved on, and several ledgers crediting
 * one merchant at once keep its running balance whole.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { HoldState } from '../../../proto/gen/biopay/v1/ledger.js';
import { ErrorCode } from '../../../core/errors.js';
import { Ledger } from '../../../core/ledger/index.js';
import { databaseTargets } from '../../helpers/database.js';
import { expectNoProblems, LEDGER_MODES, openLedgerFixture, useLedgerFixture, type LedgerFixture } from './fixture.js';

const targets = await databaseTargets();
const PAYERS = 12;

describe.each(targets)('ledger replays on $name', (target) => {
  describe.each(LEDGER_MODES)('%s', (_mode, options) => {
    const fixture = useLedgerFixture(target, { holdTimeoutMs: 60_000, ...options });
    let f: LedgerFixture;
    beforeEach(() => {
      f = fixture();
    });

    it('a retried authorize and capture answer their first result after the payment moved on', async () => {
      const payer = await f.customer(10_00n);
      const merchant = await f.merchant();
      const request = f.authorizeRequest(payer, merchant, 4_00n);
      const authorized = await f.ledger.authorize(request);
      expect(authorized).toMatchObject({ approved: true, availableMinor: 6_00n });
      const captured = await f.ledger.capture({ paymentId: request.paymentId, amountMinor: 3_00n });
      await f.ledger.refund({ paymentId: request.paymentId, refundId: 'r1', amountMinor: 1_00n });
      f.clock.advance(1_000);
      const retried = { ...request, holdTimeoutMs: 5_000, context: { ...request.context!, atUnixMs: BigInt(f.clock.nowUnixMs) } };
      const [again, capturedAgain] = await Promise.all([
        f.ledger.authorize(retried),
        f.ledger.capture({ paymentId: request.paymentId, amountMinor: 3_00n }),
      ]);
      expect(authorized.firstAnswer).toBe(true);
      expect(again).toEqual({ ...authorized, firstAnswer: false });
      expect(capturedAgain).toEqual(captured);
      expect(capturedAgain).toMatchObject({ state: HoldState.HOLD_STATE_CAPTURED, capturedMinor: 3_00n, refundedMinor: 0n });
      await expect(f.ledger.capture({ paymentId: request.paymentId, amountMinor: 0n })).rejects.toMatchObject({ code: ErrorCode.IdempotencyConflict });
      await expect(f.ledger.authorize({ ...request, amount: { amountMinor: 5_00n, currency: 'EUR' } }))
        .rejects.toMatchObject({ code: ErrorCode.IdempotencyConflict });
      expect(await f.ledger.getAccount(payer.accountId)).toMatchObject({ balanceMinor: 8_00n, heldMinor: 0n });
      expect(await f.ledger.getAccount(merchant)).toMatchObject({ balanceMinor: 2_00n });
    });

    it('a refused authorize stays refused on retry, even once the money is there', async () => {
      const payer = await f.customer(1_00n);
      const merchant = await f.merchant();
      const request = f.authorizeRequest(payer, merchant, 5_00n);
      const refused = await f.ledger.authorize(request);
      expect(refused).toMatchObject({ approved: false, state: HoldState.HOLD_STATE_REFUSED });
      await f.ledger.deposit({ accountId: payer.accountId, amountMinor: 10_00n, idempotencyKey: 'more' });
      expect(await f.ledger.authorize(request)).toEqual({ ...refused, firstAnswer: false });
      await expect(f.ledger.capture({ paymentId: request.paymentId, amountMinor: 0n })).rejects.toMatchObject({ code: ErrorCode.InvalidState });
    });

    // A terminal lets its business node skip looking for an earlier execution only on a fresh
    // authorization (core/terminal/payment-saga.ts): two attempts at once must not both be fresh.
    it('of the same authorize sent several times at once, exactly one is answered as the first, with one hold', async () => {
      const payer = await f.customer(10_00n);
      const merchant = await f.merchant();
      const request = f.authorizeRequest(payer, merchant, 3_00n);
      const answers = await Promise.all(Array.from({ length: 4 }, () => f.ledger.authorize(request)));
      expect(answers.filter((answer) => answer.firstAnswer)).toHaveLength(1);
      expect(answers.every((answer) => answer.approved)).toBe(true);
      expect(await f.ledger.getAccount(payer.accountId)).toMatchObject({ balanceMinor: 10_00n, heldMinor: 3_00n });
    });

    it('a failed capture records nothing: once the hold exists, the retry captures', async () => {
      const payer = await f.customer(5_00n);
      const merchant = await f.merchant();
      const request = f.authorizeRequest(payer, merchant, 2_00n);
      await expect(f.ledger.capture({ paymentId: request.paymentId, amountMinor: 0n })).rejects.toMatchObject({ code: ErrorCode.UnknownPayment });
      await f.ledger.authorize(request);
      await expect(f.ledger.capture({ paymentId: request.paymentId, amountMinor: 0n })).resolves.toMatchObject({ capturedMinor: 2_00n });
    });
  });

  it('two group-commit ledgers paying one merchant, with refunds from it, keep its running balance', async () => {
    const f = await openLedgerFixture(target, { groupCommit: { batchSizeMax: 16, lingerMs: 1 } });
    const second = await Ledger.open(await f.opened.openAnother(), { nowUnixMs: f.clock.now, groupCommit: { batchSizeMax: 16, lingerMs: 1 } });
    try {
      const merchant = await f.merchant();
      const payers = await Promise.all(Array.from({ length: PAYERS }, () => f.customer(10_00n)));
      const ledgerOf = (i: number) => (i % 2 === 0 ? f.ledger : second);
      const first = payers.map((p) => f.authorizeRequest(p, merchant, 3_00n));
      await Promise.all(first.map((r, i) => ledgerOf(i).authorize(r)));
      await Promise.all(first.map((r, i) => ledgerOf(i).capture({ paymentId: r.paymentId, amountMinor: 0n })));
      // Captures credit the merchant at write time while refunds debit it under an early lock.
      const next = payers.map((p) => f.authorizeRequest(p, merchant, 2_00n));
      await Promise.all(next.map((r, i) => ledgerOf(i).authorize(r)));
      await Promise.all([
        ...next.map((r, i) => ledgerOf(i).capture({ paymentId: r.paymentId, amountMinor: 0n })),
        ...first.map((r, i) => ledgerOf(i + 1).refund({ paymentId: r.paymentId, refundId: `ref-${i}`, amountMinor: 1_00n })),
      ]);
      expect(await f.ledger.getAccount(merchant)).toMatchObject({ balanceMinor: BigInt(PAYERS) * 4_00n });
      const statement = await second.statement({ accountId: merchant, afterSequence: 0n, limit: 100 });
      expect(statement.entries).toHaveLength(PAYERS * 3);
      await expectNoProblems(second);
    } finally {
      await second.close();
      await f.close();
    }
  });
});
