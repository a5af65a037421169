import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AccountKind, HoldState } from '../../../proto/gen/biopay/v1/ledger.js';
import { ErrorCode } from '../../../core/errors.js';
import { INT64_MAX } from '../../../core/money.js';
import { fundingAccountId } from '../../../core/ledger/index.js';
import { databaseTargets } from '../../helpers/database.js';
import { expectNoProblems, LEDGER_MODES, openLedgerFixture, type LedgerFixture } from './fixture.js';

const targets = await databaseTargets();

describe.each(targets)('ledger rules on $name', (target) => {
  describe.each(LEDGER_MODES)('%s', (_mode, options) => {
    let f: LedgerFixture;
    beforeEach(async () => {
      f = await openLedgerFixture(target, { holdTimeoutMs: 60_000, ...options });
    });
    afterEach(async () => {
      await expectNoProblems(f.ledger);
      await f.close();
    });

    it('deposits come from the funding account, whose balance goes negative', async () => {
      const payer = await f.customer(10_00n);
      const account = await f.ledger.getAccount(payer.accountId);
      expect(account).toMatchObject({ balanceMinor: 10_00n, availableMinor: 10_00n, heldMinor: 0n });
      const funding = await f.ledger.getAccount(fundingAccountId('EUR'));
      expect(funding).toMatchObject({ kind: AccountKind.ACCOUNT_KIND_FUNDING, balanceMinor: -10_00n });
      expect((await expectNoProblems(f.ledger)).get('EUR')).toBe(0n);
    });

    it('a hold reduces the available balance; no overdraft', async () => {
      const payer = await f.customer(10_00n);
      const merchant = await f.merchant();
      const first = await f.ledger.authorize(f.authorizeRequest(payer, merchant, 7_00n));
      expect(first).toMatchObject({ approved: true, state: HoldState.HOLD_STATE_AUTHORIZED, availableMinor: 3_00n });
      expect(await f.ledger.getAccount(payer.accountId)).toMatchObject({ balanceMinor: 10_00n, heldMinor: 7_00n, availableMinor: 3_00n });
      const second = await f.ledger.authorize(f.authorizeRequest(payer, merchant, 3_01n));
      expect(second.approved).toBe(false);
      expect(second.state).toBe(HoldState.HOLD_STATE_REFUSED);
      expect(second.refusals.map((r) => r.code)).toEqual([ErrorCode.InsufficientFunds]);
      expect(second.refusals[0]!.message).toContain('3.00 EUR available, 3.01 EUR asked');
      const exact = await f.ledger.authorize(f.authorizeRequest(payer, merchant, 3_00n));
      expect(exact).toMatchObject({ approved: true, availableMinor: 0n });
    });

    it('captures in full, moving money to the merchant', async () => {
      const payer = await f.customer(10_00n);
      const merchant = await f.merchant();
      const request = f.authorizeRequest(payer, merchant, 4_00n);
      await f.ledger.authorize(request);
      const state = await f.ledger.capture({ paymentId: request.paymentId, amountMinor: 0n });
      expect(state).toMatchObject({ state: HoldState.HOLD_STATE_CAPTURED, authorizedMinor: 4_00n, capturedMinor: 4_00n, currency: 'EUR' });
      expect(await f.ledger.getAccount(payer.accountId)).toMatchObject({ balanceMinor: 6_00n, heldMinor: 0n });
      expect(await f.ledger.getAccount(merchant)).toMatchObject({ balanceMinor: 4_00n });
    });

    it('captures partially and releases the rest; more than authorized is refused', async () => {
      const payer = await f.customer(10_00n);
      const merchant = await f.merchant();
      const request = f.authorizeRequest(payer, merchant, 5_00n);
      await f.ledger.authorize(request);
      await expect(f.ledger.capture({ paymentId: request.paymentId, amountMinor: 5_01n })).rejects.toMatchObject({ code: ErrorCode.AmountOutOfRange });
      const state = await f.ledger.capture({ paymentId: request.paymentId, amountMinor: 2_50n });
      expect(state).toMatchObject({ capturedMinor: 2_50n, authorizedMinor: 5_00n });
      expect(await f.ledger.getAccount(payer.accountId)).toMatchObject({ balanceMinor: 7_50n, heldMinor: 0n, availableMinor: 7_50n });
    });

    it('voids release the hold; voiding a captured payment and capturing a voided one are INVALID_STATE', async () => {
      const payer = await f.customer(10_00n);
      const merchant = await f.merchant();
      const voided = f.authorizeRequest(payer, merchant, 6_00n);
      await f.ledger.authorize(voided);
      expect(await f.ledger.void({ paymentId: voided.paymentId, reason: 'gate failed' })).toMatchObject({ state: HoldState.HOLD_STATE_VOIDED });
      expect(await f.ledger.getAccount(payer.accountId)).toMatchObject({ heldMinor: 0n, availableMinor: 10_00n });
      await expect(f.ledger.capture({ paymentId: voided.paymentId, amountMinor: 0n })).rejects.toMatchObject({ code: ErrorCode.InvalidState });
      const captured = f.authorizeRequest(payer, merchant, 1_00n);
      await f.ledger.authorize(captured);
      await f.ledger.capture({ paymentId: captured.paymentId, amountMinor: 0n });
      await expect(f.ledger.void({ paymentId: captured.paymentId, reason: '' })).rejects.toMatchObject({ code: ErrorCode.InvalidState });
      await expect(f.ledger.capture({ paymentId: 'nope', amountMinor: 0n })).rejects.toMatchObject({ code: ErrorCode.UnknownPayment });
    });

    it('refunds in several parts, never more than captured', async () => {
      const payer = await f.customer(10_00n);
      const merchant = await f.merchant();
      const request = f.authorizeRequest(payer, merchant, 8_00n);
      await f.ledger.authorize(request);
      await expect(f.ledger.refund({ refundId: 'r0', paymentId: request.paymentId, amountMinor: 1n })).rejects.toMatchObject({ code: ErrorCode.InvalidState });
      await f.ledger.capture({ paymentId: request.paymentId, amountMinor: 6_00n });
      expect(await f.ledger.refund({ refundId: 'r1', paymentId: request.paymentId, amountMinor: 2_00n })).toMatchObject({ refundedMinor: 2_00n });
      expect(await f.ledger.refund({ refundId: 'r2', paymentId: request.paymentId, amountMinor: 3_00n })).toMatchObject({ refundedMinor: 5_00n });
      await expect(f.ledger.refund({ refundId: 'r3', paymentId: request.paymentId, amountMinor: 1_01n })).rejects.toMatchObject({ code: ErrorCode.AmountOutOfRange });
      // A retried refund answers its first result and moves nothing again.
      expect(await f.ledger.refund({ refundId: 'r1', paymentId: request.paymentId, amountMinor: 2_00n })).toMatchObject({ refundedMinor: 2_00n });
      await expect(f.ledger.refund({ refundId: 'r1', paymentId: request.paymentId, amountMinor: 1_00n })).rejects.toMatchObject({ code: ErrorCode.IdempotencyConflict });
      expect(await f.ledger.refund({ refundId: 'r4', paymentId: request.paymentId, amountMinor: 1_00n })).toMatchObject({ refundedMinor: 6_00n });
      expect(await f.ledger.getAccount(payer.accountId)).toMatchObject({ balanceMinor: 10_00n });
      expect(await f.ledger.getAccount(merchant)).toMatchObject({ balanceMinor: 0n });
    });

    it('holds expire into a void after their timeout', async () => {
      const payer = await f.customer(10_00n);
      const merchant = await f.merchant();
      const short = f.authorizeRequest(payer, merchant, 2_00n, { holdTimeoutMs: 1_000 });
      const long = f.authorizeRequest(payer, merchant, 3_00n);
      await f.ledger.authorize(short);
      await f.ledger.authorize(long);
      expect(await f.ledger.expireHolds()).toBe(0);
      f.clock.advance(1_000);
      await expect(f.ledger.capture({ paymentId: short.paymentId, amountMinor: 0n })).rejects.toMatchObject({ code: ErrorCode.InvalidState });
      expect(await f.ledger.expireHolds()).toBe(1);
      expect(await f.ledger.getAccount(payer.accountId)).toMatchObject({ heldMinor: 3_00n });
      expect(await f.ledger.void({ paymentId: short.paymentId, reason: 'late' })).toMatchObject({ state: HoldState.HOLD_STATE_EXPIRED });
      f.clock.advance(60_000);
      expect(await f.ledger.expireHolds()).toBe(1);
      expect(await f.ledger.getAccount(payer.accountId)).toMatchObject({ heldMinor: 0n, balanceMinor: 10_00n });
    });

    it('a due hold is captured when its business step ran, released when it did not, and kept while unknown', async () => {
      const payer = await f.customer(10_00n);
      const merchant = await f.merchant();
      const ran = f.authorizeRequest(payer, merchant, 2_00n, { holdTimeoutMs: 1_000 });
      const failed = f.authorizeRequest(payer, merchant, 3_00n, { holdTimeoutMs: 1_000 });
      const unknown = f.authorizeRequest(payer, merchant, 4_00n, { holdTimeoutMs: 1_000 });
      for (const request of [ran, failed, unknown]) await f.ledger.authorize(request);
      const asked: string[][] = [];
      const lookup = async (paymentIds: readonly string[]) => {
        asked.push([...paymentIds]);
        return new Map([[ran.paymentId, true], [failed.paymentId, false]]);
      };
      expect(await f.ledger.settleExpiredHolds(undefined, 100, lookup)).toEqual({ captured: 0, expired: 0, undecided: 0 });
      expect(asked).toEqual([]);
      f.clock.advance(1_000);
      expect(await f.ledger.settleExpiredHolds(undefined, 100, lookup)).toEqual({ captured: 1, expired: 1, undecided: 1 });
      expect(asked[0]!.sort()).toEqual([ran.paymentId, failed.paymentId, unknown.paymentId].sort());
      expect(await f.ledger.getAccount(payer.accountId)).toMatchObject({ balanceMinor: 8_00n, heldMinor: 4_00n });
      expect(await f.ledger.getAccount(merchant)).toMatchObject({ balanceMinor: 2_00n });
      // Settled holds answer their state; a late capture of the released one is refused.
      expect(await f.ledger.capture({ paymentId: ran.paymentId, amountMinor: 0n })).toMatchObject({ state: HoldState.HOLD_STATE_CAPTURED, capturedMinor: 2_00n });
      expect(await f.ledger.void({ paymentId: failed.paymentId, reason: 'late' })).toMatchObject({ state: HoldState.HOLD_STATE_EXPIRED });
      await expect(f.ledger.capture({ paymentId: unknown.paymentId, amountMinor: 0n })).rejects.toMatchObject({ code: ErrorCode.InvalidState });
      // The unknown one is asked again on the next sweep and settled once its record can be read.
      expect(await f.ledger.settleExpiredHolds(undefined, 100, async () => new Map([[unknown.paymentId, true]])))
        .toEqual({ captured: 1, expired: 0, undecided: 0 });
      expect(await f.ledger.getAccount(payer.accountId)).toMatchObject({ balanceMinor: 4_00n, heldMinor: 0n });
      expect(await f.ledger.getAccount(merchant)).toMatchObject({ balanceMinor: 6_00n });
      expect(await f.ledger.statement({ accountId: merchant, afterSequence: 0n, limit: 10 }))
        .toMatchObject({ entries: [{ kind: 'capture', reference: ran.paymentId }, { kind: 'capture', reference: unknown.paymentId }] });
    });

    it('statements carry a running balance and paginate by sequence', async () => {
      const payer = await f.customer(0n);
      const merchant = await f.merchant();
      for (let i = 1; i <= 5; i += 1) await f.ledger.deposit({ accountId: payer.accountId, amountMinor: BigInt(i) * 1_00n, idempotencyKey: `d${i}` });
      const request = f.authorizeRequest(payer, merchant, 4_00n);
      await f.ledger.authorize(request);
      await f.ledger.capture({ paymentId: request.paymentId, amountMinor: 0n });
      const page1 = await f.ledger.statement({ accountId: payer.accountId, afterSequence: 0n, limit: 4 });
      expect(page1.entries.map((e) => [e.sequence, e.amountMinor, e.balanceAfterMinor])).toEqual([
        [1n, 1_00n, 1_00n], [2n, 2_00n, 3_00n], [3n, 3_00n, 6_00n], [4n, 4_00n, 10_00n],
      ]);
      expect(page1).toMatchObject({ hasMore: true, nextAfterSequence: 4n, currency: 'EUR' });
      const page2 = await f.ledger.statement({ accountId: payer.accountId, afterSequence: page1.nextAfterSequence, limit: 4 });
      expect(page2.entries.map((e) => [e.kind, e.reference, e.amountMinor, e.balanceAfterMinor])).toEqual([
        ['deposit', 'd5', 5_00n, 15_00n], ['capture', request.paymentId, -4_00n, 11_00n],
      ]);
      expect(page2.hasMore).toBe(false);
      await expect(f.ledger.statement({ accountId: 'acc_missing', afterSequence: 0n, limit: 0 })).rejects.toMatchObject({ code: ErrorCode.UnknownAccount });
    });

    it('refuses a currency mismatch, an unknown account or credential, and amounts outside int64', async () => {
      const payer = await f.customer(10_00n);
      const merchant = await f.merchant();
      const usdMerchant = await f.merchant('USD');
      const wrongCurrency = await f.ledger.authorize(f.authorizeRequest(payer, merchant, 1_00n, { amount: { amountMinor: 1_00n, currency: 'USD' } }));
      expect(wrongCurrency.refusals.map((r) => r.code)).toEqual([ErrorCode.CurrencyMismatch]);
      const wrongMerchant = await f.ledger.authorize(f.authorizeRequest(payer, usdMerchant, 1_00n));
      expect(wrongMerchant.refusals.map((r) => r.code)).toEqual([ErrorCode.CurrencyMismatch]);
      const other = await f.customer(10_00n);
      const foreignCredential = await f.ledger.authorize(f.authorizeRequest(payer, merchant, 1_00n, { credentialId: other.ownerCredentialId }));
      expect(foreignCredential.refusals.map((r) => r.code)).toEqual([ErrorCode.UnknownCredential]);
      await expect(f.ledger.authorize(f.authorizeRequest(payer, merchant, 1_00n, { accountId: 'acc_missing' }))).rejects.toMatchObject({ code: ErrorCode.UnknownAccount });
      await expect(f.ledger.authorize(f.authorizeRequest(payer, 'acc_missing', 1_00n))).rejects.toMatchObject({ code: ErrorCode.UnknownAccount });
      await expect(f.ledger.getAccount('acc_missing')).rejects.toMatchObject({ code: ErrorCode.UnknownAccount });
      await expect(f.ledger.authorize(f.authorizeRequest(payer, merchant, INT64_MAX + 1n))).rejects.toMatchObject({ code: ErrorCode.AmountOutOfRange });
      await expect(f.ledger.authorize(f.authorizeRequest(payer, merchant, 0n))).rejects.toMatchObject({ code: ErrorCode.AmountOutOfRange });
      await expect(f.ledger.deposit({ accountId: payer.accountId, amountMinor: INT64_MAX + 1n, idempotencyKey: 'big' })).rejects.toMatchObject({ code: ErrorCode.AmountOutOfRange });
      await expect(f.ledger.deposit({ accountId: payer.accountId, amountMinor: INT64_MAX, idempotencyKey: 'max' })).rejects.toMatchObject({ code: ErrorCode.AmountOutOfRange });
      expect(await f.ledger.getAccount(payer.accountId)).toMatchObject({ balanceMinor: 10_00n, heldMinor: 0n });
    });

    it('opening an account and depositing are idempotent on their keys', async () => {
      const request = { owner: 'ann', currency: 'EUR', kind: AccountKind.ACCOUNT_KIND_CUSTOMER, timeZone: 'Europe/Berlin', idempotencyKey: 'open-ann' };
      const first = await f.ledger.openAccount(request);
      expect(await f.ledger.openAccount(request)).toEqual(first);
      await expect(f.ledger.openAccount({ ...request, currency: 'USD' })).rejects.toMatchObject({ code: ErrorCode.IdempotencyConflict });
      const deposit = { accountId: first.accountId, amountMinor: 5_00n, idempotencyKey: 'dep-1' };
      const results = await Promise.all([f.ledger.deposit(deposit), f.ledger.deposit(deposit), f.ledger.deposit(deposit)]);
      expect(results.map((r) => r.balanceMinor)).toEqual([5_00n, 5_00n, 5_00n]);
      expect(await f.ledger.getAccount(first.accountId)).toMatchObject({ balanceMinor: 5_00n });
      await expect(f.ledger.openAccount({ ...request, idempotencyKey: '', timeZone: 'Mars/Olympus' })).rejects.toMatchObject({ code: ErrorCode.BadRequest });
      await expect(f.ledger.openAccount({ ...request, idempotencyKey: '', kind: AccountKind.ACCOUNT_KIND_FUNDING })).rejects.toMatchObject({ code: ErrorCode.BadRequest });
    });
  });
});
