import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Period, SpendingPolicy } from '../../../proto/gen/biopay/v1/ledger.js';
import { ErrorCode } from '../../../core/errors.js';
import { databaseTargets } from '../../helpers/database.js';
import { expectNoProblems, openLedgerFixture, type LedgerFixture } from './fixture.js';

const targets = await databaseTargets();
const DAY_MS = 86_400_000;
const childPolicy = (quotaMinor: bigint): SpendingPolicy =>
  SpendingPolicy.fromPartial({ restricted: true, quotas: [{ period: Period.PERIOD_DAY, amountMinor: quotaMinor }], terminalIds: ['T1'] });

describe.each(targets)('credentials and policies on $name', (target) => {
  let f: LedgerFixture;
  beforeEach(async () => {
    f = await openLedgerFixture(target);
  });
  afterEach(async () => {
    await expectNoProblems(f.ledger);
    await f.close();
  });

  it('an unrestricted credential of the same account may change a policy; the change is recorded', async () => {
    const family = await f.customer(50_00n, { policy: childPolicy(5_00n) });
    const changed = await f.ledger.setPolicy({
      credentialId: family.credentialId,
      policy: childPolicy(3_00n),
      authorizedByCredentialId: family.ownerCredentialId,
      idempotencyKey: 'change-1',
    });
    expect(changed.policy?.quotas[0]?.amountMinor).toBe(3_00n);
    expect((await f.ledger.getPolicy(family.credentialId)).policy?.quotas[0]?.amountMinor).toBe(3_00n);
    const changes = await f.ledger.policyChanges(family.credentialId);
    expect(changes.map((c) => [c.action, c.authorizedBy])).toEqual([['register', ''], ['set', family.ownerCredentialId]]);
  });

  it('a restricted credential, another account, or an unknown credential may not change a policy', async () => {
    const family = await f.customer(50_00n, { policy: childPolicy(5_00n) });
    const stranger = await f.customer(0n);
    const attempt = (by: string) => f.ledger.setPolicy({ credentialId: family.credentialId, policy: childPolicy(99_00n), authorizedByCredentialId: by, idempotencyKey: '' });
    await expect(attempt(family.credentialId)).rejects.toMatchObject({ code: ErrorCode.NotAuthorized, message: expect.stringContaining('restricted') });
    await expect(attempt(stranger.ownerCredentialId)).rejects.toMatchObject({ code: ErrorCode.NotAuthorized, message: expect.stringContaining('another account') });
    await expect(attempt('cred_nobody')).rejects.toMatchObject({ code: ErrorCode.NotAuthorized, message: expect.stringContaining('not registered') });
    expect((await f.ledger.getPolicy(family.credentialId)).policy?.quotas[0]?.amountMinor).toBe(5_00n);
  });

  it('an account keeps an unrestricted credential', async () => {
    const account = await f.ledger.openAccount({ owner: 'o', currency: 'EUR', kind: 0, timeZone: '', idempotencyKey: '' });
    await expect(f.ledger.registerCredential({ accountId: account.accountId, credentialId: 'c-child', policy: childPolicy(1_00n) }))
      .rejects.toMatchObject({ code: ErrorCode.InvalidState });
    await f.ledger.registerCredential({ accountId: account.accountId, credentialId: 'c-owner' });
    await f.ledger.registerCredential({ accountId: account.accountId, credentialId: 'c-child', policy: childPolicy(1_00n) });
    await expect(f.ledger.setPolicy({ credentialId: 'c-owner', policy: childPolicy(1_00n), authorizedByCredentialId: 'c-owner', idempotencyKey: '' }))
      .rejects.toMatchObject({ code: ErrorCode.InvalidState });
    await expect(f.ledger.removeCredential('c-owner')).rejects.toMatchObject({ code: ErrorCode.InvalidState });
    await expect(f.ledger.registerCredential({ accountId: account.accountId, credentialId: 'c-owner', policy: childPolicy(1_00n) }))
      .rejects.toMatchObject({ code: ErrorCode.AlreadyEnrolled });
    expect((await f.ledger.registerCredential({ accountId: account.accountId, credentialId: 'c-owner' })).credentialId).toBe('c-owner');
    await f.ledger.removeCredential('c-child');
    await expect(f.ledger.getPolicy('c-child')).rejects.toMatchObject({ code: ErrorCode.UnknownCredential });
  });

  it('quota is held while authorized, consumed on capture, and given back on void and refund', async () => {
    const child = await f.customer(50_00n, { policy: childPolicy(5_00n) });
    const merchant = await f.merchant();
    const pay = async (amountMinor: bigint) => {
      const request = f.authorizeRequest(child, merchant, amountMinor);
      return { request, answer: await f.ledger.authorize(request) };
    };
    const first = await pay(3_00n);
    expect(first.answer.approved).toBe(true);
    const over = await pay(2_01n);
    expect(over.answer.refusals.map((r) => r.code)).toEqual(['QUOTA_DAY']);
    expect(over.answer.refusals[0]!.message).toMatch(/2\.00 EUR left, 2\.01 EUR asked/);
    await f.ledger.void({ paymentId: first.request.paymentId, reason: '' });
    const second = await pay(5_00n);
    expect(second.answer.approved).toBe(true);
    await f.ledger.capture({ paymentId: second.request.paymentId, amountMinor: 4_00n });
    expect((await pay(1_01n)).answer.approved).toBe(false);
    await f.ledger.refund({ refundId: 'rf1', paymentId: second.request.paymentId, amountMinor: 1_00n });
    const third = await pay(2_00n);
    expect(third.answer.approved).toBe(true);
    // The next day the quota is whole again.
    f.clock.advance(DAY_MS);
    expect((await pay(5_00n)).answer.approved).toBe(true);
  });

  it('a payment breaking several restrictions and the balance names all of them', async () => {
    const child = await f.customer(1_00n, { policy: SpendingPolicy.fromPartial({ ...childPolicy(5_00n), maxPerPaymentMinor: 2_00n }) });
    const merchant = await f.merchant();
    const request = f.authorizeRequest(child, merchant, 6_00n, {
      context: { terminalId: 'T9', merchantId: 'M1', location: undefined, atUnixMs: BigInt(f.clock.nowUnixMs) },
    });
    const answer = await f.ledger.authorize(request);
    expect(answer.refusals.map((r) => r.code).sort()).toEqual(['INSUFFICIENT_FUNDS', 'MAX_PER_PAYMENT', 'QUOTA_DAY', 'TERMINAL']);
  });
});
