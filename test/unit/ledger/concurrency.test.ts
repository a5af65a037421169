import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HoldState, Period } from '../../../proto/gen/biopay/v1/ledger.js';
import { ErrorCode } from '../../../core/errors.js';
import { Ledger, type LedgerOptions } from '../../../core/ledger/index.js';
import { databaseTargets } from '../../helpers/database.js';
import { expectNoProblems, openLedgerFixture, type LedgerFixture } from './fixture.js';

const targets = await databaseTargets();
const modes: [string, LedgerOptions][] = [
  ['one transaction per request', {}],
  ['group commit', { groupCommit: { batchSizeMax: 16, lingerMs: 1 } }],
];
const RACERS = 24;

describe.each(targets)('ledger idempotency and races on $name', (target) => {
  describe.each(modes)('%s', (_mode, options) => {
    let f: LedgerFixture;
    beforeEach(async () => {
      f = await openLedgerFixture(target, options);
    });
    afterEach(async () => {
      await expectNoProblems(f.ledger);
      await f.close();
    });

    it('the same payment three times at once moves money once and answers all three alike', async () => {
      const payer = await f.customer(10_00n);
      const merchant = await f.merchant();
      const request = f.authorizeRequest(payer, merchant, 4_00n);
      const answers = await Promise.all([f.ledger.authorize(request), f.ledger.authorize(request), f.ledger.authorize(request)]);
      // One of them decided (the first answer); the other two are that answer, returned again.
      const first = answers.find((answer) => answer.firstAnswer)!;
      expect(first).toMatchObject({ approved: true, availableMinor: 6_00n });
      expect(answers.filter((answer) => answer !== first)).toEqual([{ ...first, firstAnswer: false }, { ...first, firstAnswer: false }]);
      const captures = await Promise.all([1, 2, 3].map(() => f.ledger.capture({ paymentId: request.paymentId, amountMinor: 0n })));
      expect(new Set(captures.map((c) => JSON.stringify(c, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)))).size).toBe(1);
      expect(await f.ledger.getAccount(payer.accountId)).toMatchObject({ balanceMinor: 6_00n, heldMinor: 0n });
      expect(await f.ledger.getAccount(merchant)).toMatchObject({ balanceMinor: 4_00n });
      // A later retry still gets the first answer, even though the hold is now captured.
      expect(await f.ledger.authorize(request)).toEqual({ ...first, firstAnswer: false });
    });

    it('the same payment id with a different body is IDEMPOTENCY_CONFLICT, even when racing', async () => {
      const payer = await f.customer(10_00n);
      const merchant = await f.merchant();
      const request = f.authorizeRequest(payer, merchant, 4_00n);
      const different = { ...request, amount: { amountMinor: 5_00n, currency: 'EUR' } };
      const settled = await Promise.allSettled([f.ledger.authorize(request), f.ledger.authorize(different)]);
      const codes = settled.map((s) => (s.status === 'rejected' ? (s.reason as { code: string }).code : 'ok'));
      expect(codes.sort()).toEqual([ErrorCode.IdempotencyConflict, 'ok']);
      await expect(f.ledger.authorize({ ...request, amount: { amountMinor: 4_01n, currency: 'EUR' } })).rejects.toMatchObject({ code: ErrorCode.IdempotencyConflict });
      await f.ledger.capture({ paymentId: request.paymentId, amountMinor: 1_00n });
      await expect(f.ledger.capture({ paymentId: request.paymentId, amountMinor: 2_00n })).rejects.toMatchObject({ code: ErrorCode.IdempotencyConflict });
      const held = (await f.ledger.getAccount(payer.accountId)).balanceMinor;
      expect(held === 9_00n || held === 10_00n).toBe(true);
    });

    it('one payment id racing from two different payers holds money once', async () => {
      const first = await f.customer(10_00n);
      const second = await f.customer(10_00n);
      const merchant = await f.merchant();
      const request = f.authorizeRequest(first, merchant, 4_00n);
      const other = { ...f.authorizeRequest(second, merchant, 4_00n), paymentId: request.paymentId };
      const settled = await Promise.allSettled([f.ledger.authorize(request), f.ledger.authorize(other)]);
      const codes = settled.map((s) => (s.status === 'rejected' ? (s.reason as { code: string }).code : 'ok'));
      expect(codes.sort()).toEqual([ErrorCode.IdempotencyConflict, 'ok']);
      const held = (await f.ledger.getAccount(first.accountId)).heldMinor + (await f.ledger.getAccount(second.accountId)).heldMinor;
      expect(held).toBe(4_00n);
    });

    it('many payments racing on the last balance never overspend', async () => {
      const payer = await f.customer(10_00n);
      const merchant = await f.merchant();
      const requests = Array.from({ length: RACERS }, () => f.authorizeRequest(payer, merchant, 1_00n));
      const answers = await Promise.all(requests.map((r) => f.ledger.authorize(r)));
      expect(answers.filter((a) => a.approved)).toHaveLength(10);
      expect(answers.filter((a) => !a.approved).every((a) => a.refusals[0]?.code === ErrorCode.InsufficientFunds)).toBe(true);
      await Promise.all(requests.map((r, i) => (answers[i]!.approved ? f.ledger.capture({ paymentId: r.paymentId, amountMinor: 0n }) : undefined)));
      expect(await f.ledger.getAccount(payer.accountId)).toMatchObject({ balanceMinor: 0n, heldMinor: 0n });
      expect(await f.ledger.getAccount(merchant)).toMatchObject({ balanceMinor: 10_00n });
    });

    it('many payments racing on the last quota and count never exceed them', async () => {
      const payer = await f.customer(100_00n, {
        policy: { quotas: [{ period: Period.PERIOD_DAY, amountMinor: 5_00n }], counts: [{ period: Period.PERIOD_DAY, count: 4 }] },
      });
      const merchant = await f.merchant();
      const byAmount = Array.from({ length: RACERS }, () => f.authorizeRequest(payer, merchant, 2_00n));
      const answers = await Promise.all(byAmount.map((r) => f.ledger.authorize(r)));
      expect(answers.filter((a) => a.approved)).toHaveLength(2); // 2 x 2.00 <= 5.00 < 3 x 2.00
      expect(answers.filter((a) => !a.approved).every((a) => a.refusals.some((r) => r.code === 'QUOTA_DAY'))).toBe(true);
      const small = Array.from({ length: RACERS }, () => f.authorizeRequest(payer, merchant, 10n));
      const smallAnswers = await Promise.all(small.map((r) => f.ledger.authorize(r)));
      expect(smallAnswers.filter((a) => a.approved)).toHaveLength(2); // count 4 per day
      expect(smallAnswers.filter((a) => !a.approved).every((a) => a.refusals.some((r) => r.code === 'COUNT_DAY'))).toBe(true);
    });

    it('a void racing a capture ends in exactly one of them', async () => {
      const payer = await f.customer(10_00n);
      const merchant = await f.merchant();
      for (let round = 0; round < 6; round += 1) {
        const request = f.authorizeRequest(payer, merchant, 1_00n);
        await f.ledger.authorize(request);
        const [capture, voided] = await Promise.allSettled([
          f.ledger.capture({ paymentId: request.paymentId, amountMinor: 0n }),
          f.ledger.void({ paymentId: request.paymentId, reason: 'race' }),
        ]);
        const outcomes = [capture.status, voided.status].sort();
        expect(outcomes).toEqual(['fulfilled', 'rejected']);
        const failure = (capture.status === 'rejected' ? capture.reason : (voided as PromiseRejectedResult).reason) as { code: string };
        expect(failure.code).toBe(ErrorCode.InvalidState);
      }
    });
  });

  it('two ledger instances on one schema share the last balance and the payment ids', async () => {
    const f = await openLedgerFixture(target, { groupCommit: { batchSizeMax: 8, lingerMs: 1 } });
    const second = await Ledger.open(await f.opened.openAnother(), { nowUnixMs: f.clock.now });
    try {
      const payer = await f.customer(10_00n);
      const merchant = await f.merchant();
      const requests = Array.from({ length: RACERS }, () => f.authorizeRequest(payer, merchant, 1_00n));
      const answers = await Promise.all(requests.map((r, i) => (i % 2 === 0 ? f.ledger : second).authorize(r)));
      expect(answers.filter((a) => a.approved)).toHaveLength(10);
      const same = await Promise.all(requests.slice(0, 6).map((r, i) => (i % 2 === 0 ? second : f.ledger).authorize(r)));
      expect(answers.every((answer) => answer.firstAnswer)).toBe(true);
      expect(same).toEqual(answers.slice(0, 6).map((answer) => ({ ...answer, firstAnswer: false })));
      const approved = requests.filter((_r, i) => answers[i]!.approved);
      const states = await Promise.all(approved.flatMap((r) => [
        f.ledger.capture({ paymentId: r.paymentId, amountMinor: 0n }),
        second.capture({ paymentId: r.paymentId, amountMinor: 0n }),
      ]));
      expect(states.every((s) => s.state === HoldState.HOLD_STATE_CAPTURED)).toBe(true);
      expect(await second.getAccount(payer.accountId)).toMatchObject({ balanceMinor: 0n, heldMinor: 0n });
      expect(await f.ledger.getAccount(merchant)).toMatchObject({ balanceMinor: 10_00n });
      await expectNoProblems(second);
    } finally {
      await second.close();
      await f.close();
    }
  });
  it('one deposit key racing from two ledger instances moves money once; with another body it is IDEMPOTENCY_CONFLICT', async () => {
    // Each deposit locks only its own account, so two bodies of one key meet at the idempotency
    // record, written by the batch's last statement: the loser rolls back, retries, and reads it.
    const f = await openLedgerFixture(target, { groupCommit: { batchSizeMax: 8, lingerMs: 1 } });
    const second = await Ledger.open(await f.opened.openAnother(), { nowUnixMs: f.clock.now });
    try {
      const [one, other] = await Promise.all([f.customer(0n), f.customer(0n)]);
      const same = Array.from({ length: 6 }, (_, i) =>
        (i % 2 === 0 ? f.ledger : second).deposit({ accountId: one.accountId, amountMinor: 7_00n, idempotencyKey: 'top-up-1' }));
      const answers = await Promise.all(same);
      expect(answers).toEqual(answers.map(() => answers[0]));
      expect(await second.getAccount(one.accountId)).toMatchObject({ balanceMinor: 7_00n });

      const racing = await Promise.allSettled([
        f.ledger.deposit({ accountId: one.accountId, amountMinor: 1_00n, idempotencyKey: 'top-up-2' }),
        second.deposit({ accountId: other.accountId, amountMinor: 2_00n, idempotencyKey: 'top-up-2' }),
      ]);
      const won = racing.filter((result) => result.status === 'fulfilled');
      const lost = racing.flatMap((result) => (result.status === 'rejected' ? [result.reason as { code: string }] : []));
      expect(won).toHaveLength(1);
      expect(lost.map((error) => error.code)).toEqual([ErrorCode.IdempotencyConflict]);
      const balances = [(await f.ledger.getAccount(one.accountId)).balanceMinor, (await f.ledger.getAccount(other.accountId)).balanceMinor];
      expect(balances[0]! + balances[1]!).toBe(7_00n + (racing[0]!.status === 'fulfilled' ? 1_00n : 2_00n));
      await expectNoProblems(second);
    } finally {
      await second.close();
      await f.close();
    }
  });
});
