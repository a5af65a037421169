import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { Capture, EnrollRequest, IdentifyRequest } from '../../../proto/gen/biopay/v1/biometrics.js';
import {
  AccountKind, CaptureRequest, DepositRequest, GetAccountRequest, GetPolicyRequest, HoldState, OpenAccountRequest,
  RefundRequest, SetPolicyRequest, SpendingPolicy, StatementRequest, VoidRequest,
} from '../../../proto/gen/biopay/v1/ledger.js';
import { GetTerminalRequest, PaymentOutcome, PayRequest, RegisterTerminalRequest } from '../../../proto/gen/biopay/v1/payment.js';
import { GatewayServiceClient } from '../../../proto/gen/biopay/v1/gateway.js';
import { credentials } from '@grpc/grpc-js';
import { BiopayError, ErrorCode } from '../../../core/errors.js';
import { ERROR_CODE_METADATA_KEY } from '../../../core/grpc/index.js';
import { ActorKind, LedgerProtocol } from '../../../core/protocols.js';
import { startHarness, template, type Harness } from './harness.js';

let h: Harness;
let customer: string;
let merchant: string;
let owner: string;
let child: string;

beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.stop();
});

async function refused(promise: Promise<unknown>): Promise<BiopayError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(BiopayError);
  return error as BiopayError;
}

function pay(paymentId: string, finger: string, amountMinor: bigint) {
  return h.client.pay(PayRequest.fromPartial({
    paymentId, terminalId: 'T1', amount: { amountMinor, currency: 'EUR' },
    capture: Capture.fromPartial({ isoTemplate: template(finger) }),
  }));
}

describe('gateway happy paths over real gRPC', () => {
  it('opens accounts, deposits, reads the account and its statement', async () => {
    const opened = await h.client.openAccount(OpenAccountRequest.fromPartial({ owner: 'Alice', currency: 'EUR', idempotencyKey: 'open-alice' }));
    customer = opened.accountId;
    merchant = (await h.client.openAccount(OpenAccountRequest.fromPartial({
      owner: 'Canteen', currency: 'EUR', kind: AccountKind.ACCOUNT_KIND_MERCHANT,
    }))).accountId;
    const deposited = await h.client.deposit(DepositRequest.fromPartial({ accountId: customer, amountMinor: 10_000n, idempotencyKey: 'd1' }));
    expect(deposited.balanceMinor).toBe(10_000n);
    const account = await h.client.getAccount(GetAccountRequest.fromPartial({ accountId: customer }));
    expect(account).toMatchObject({ owner: 'Alice', currency: 'EUR', balanceMinor: 10_000n });
    const statement = await h.client.getStatement(StatementRequest.fromPartial({ accountId: customer, limit: 10 }));
    expect(statement.entries.map((e) => e.amountMinor)).toEqual([10_000n]);
    // openAccount is keyed by its idempotency key, the others by account id.
    expect(h.state.keys).toContainEqual({ kind: 'ledger', method: 'openAccount', key: 'open-alice' });
    expect(h.state.keys).toContainEqual({ kind: 'ledger', method: 'deposit', key: customer });
  });

  it('enrolls an owner and a restricted child, identifies them', async () => {
    owner = (await h.client.enroll(EnrollRequest.fromPartial({ accountId: customer, isoTemplate: template('101_1') }))).credentialId;
    const restricted = SpendingPolicy.fromPartial({ restricted: true, maxPerPaymentMinor: 500n });
    child = (await h.client.enroll(EnrollRequest.fromPartial({ accountId: customer, isoTemplate: template('102_1'), policy: restricted }))).credentialId;
    expect(owner).toMatch(/^cred_/);
    expect(h.state.credentials.get(child)?.policy?.maxPerPaymentMinor).toBe(500n);
    const identified = await h.client.identify(IdentifyRequest.fromPartial({
      capture: Capture.fromPartial({ captureId: 'cap-1', isoTemplate: template('102_1') }),
    }));
    expect(identified).toMatchObject({ matched: true, accountId: customer, credentialId: child });
  });

  it('registers and reads a terminal, pays at it', async () => {
    await h.client.registerTerminal(RegisterTerminalRequest.fromPartial({ terminal: { terminalId: 'T1', merchantAccountId: merchant, action: 'open-gate' } }));
    expect(await h.client.getTerminal(GetTerminalRequest.fromPartial({ terminalId: 'T1' }))).toMatchObject({ merchantAccountId: merchant });
    const approved = await pay('p1', '101_1', 1_234n);
    expect(approved).toMatchObject({ paymentId: 'p1', outcome: PaymentOutcome.PAYMENT_OUTCOME_APPROVED, accountId: customer, credentialId: owner });
    expect((await h.client.getAccount(GetAccountRequest.fromPartial({ accountId: customer }))).balanceMinor).toBe(10_000n - 1_234n);
    const tooMuch = await pay('p2', '102_1', 600n);
    expect(tooMuch.outcome).toBe(PaymentOutcome.PAYMENT_OUTCOME_REFUSED);
    expect(tooMuch.refusals.map((r) => r.code)).toEqual(['MAX_PER_PAYMENT']);
    expect(h.state.keys).toContainEqual({ kind: 'terminal', method: 'pay', key: 'T1' });
  });

  it('captures, voids and refunds', async () => {
    const ledger = h.system.client(ActorKind.Ledger, LedgerProtocol);
    const hold = (paymentId: string) => ledger.ask(customer, 'authorize', {
      paymentId, accountId: customer, credentialId: owner, merchantAccountId: merchant, amount: { amountMinor: 100n, currency: 'EUR' },
      context: undefined, holdTimeoutMs: 0,
    });
    await hold('h1');
    await hold('h2');
    expect((await h.client.capture(CaptureRequest.fromPartial({ paymentId: 'h1' }))).state).toBe(HoldState.HOLD_STATE_CAPTURED);
    expect((await h.client.void(VoidRequest.fromPartial({ paymentId: 'h2', reason: 'test' }))).state).toBe(HoldState.HOLD_STATE_VOIDED);
    const refunded = await h.client.refund(RefundRequest.fromPartial({ refundId: 'r1', paymentId: 'p1', amountMinor: 234n }));
    expect(refunded.refundedMinor).toBe(234n);
  });

  it('reads and changes a policy by biometric, authorized by the owner only', async () => {
    const byTemplate = await h.client.getPolicy(GetPolicyRequest.fromPartial({ isoTemplate: template('102_1') }));
    const byId = await h.client.getPolicy(GetPolicyRequest.fromPartial({ credentialId: child }));
    expect(byTemplate).toEqual(byId);
    const policy = SpendingPolicy.fromPartial({ restricted: true, maxPerPaymentMinor: 800n });
    const changed = await h.client.setPolicy(SetPolicyRequest.fromPartial({
      isoTemplate: template('102_1'), policy, authorizingIsoTemplate: template('101_1'),
    }));
    expect(changed.policy?.maxPerPaymentMinor).toBe(800n);
    // The target's account (found by its finger) is the ledger key.
    expect(h.state.keys).toContainEqual({ kind: 'ledger', method: 'setPolicy', key: customer });
    const byChild = await refused(h.client.setPolicy(SetPolicyRequest.fromPartial({
      credentialId: child, policy, authorizingIsoTemplate: template('102_1'),
    })));
    expect(byChild.code).toBe(ErrorCode.NotAuthorized);
    const noMatch = await refused(h.client.setPolicy(SetPolicyRequest.fromPartial({
      credentialId: child, policy, authorizingIsoTemplate: template('109_1'),
    })));
    expect(noMatch.code).toBe(ErrorCode.NotAuthorized);
    // A credential id claimed by the client is never taken as proof.
    const claimed = await refused(h.client.setPolicy(SetPolicyRequest.fromPartial({ credentialId: child, policy, authorizedByCredentialId: owner })));
    expect(claimed.code).toBe(ErrorCode.NotAuthorized);
  });

  it('deletes an enrollment from both tiers', async () => {
    expect((await h.client.deleteEnrollment({ credentialId: child })).deleted).toBe(true);
    expect(h.state.credentials.has(child)).toBe(false);
    const identified = await h.client.identify(IdentifyRequest.fromPartial({ capture: Capture.fromPartial({ isoTemplate: template('102_1') }) }));
    expect(identified.matched).toBe(false);
    const missing = await refused(h.client.getPolicy(GetPolicyRequest.fromPartial({ isoTemplate: template('102_1') })));
    expect(missing).toMatchObject({ code: ErrorCode.NotFound, message: 'no enrolled credential matches' });
  });
});

describe('gateway errors', () => {
  it('sends the biopay code in trailing metadata and a matching gRPC status', async () => {
    const raw = new GatewayServiceClient(h.address, credentials.createInsecure());
    const error = await new Promise<ServiceError>((resolve) => {
      raw.getAccount(GetAccountRequest.fromPartial({ accountId: 'acc_nope' }), new Metadata(), (e) => resolve(e!));
    });
    raw.close();
    expect(error.code).toBe(status.NOT_FOUND);
    expect(error.metadata.get(ERROR_CODE_METADATA_KEY)).toEqual([ErrorCode.UnknownAccount]);
    expect(error.details).toContain('acc_nope');
  });

  it('maps refusals of enrollment and requests to typed errors', async () => {
    const duplicate = await refused(h.client.enroll(EnrollRequest.fromPartial({ accountId: customer, isoTemplate: template('101_1') })));
    expect(duplicate.code).toBe(ErrorCode.AlreadyEnrolled);
    const invalid = await refused(h.client.enroll(EnrollRequest.fromPartial({ accountId: customer, isoTemplate: Buffer.from('not a template') })));
    expect(invalid.code).toBe(ErrorCode.InvalidTemplate);
    const unknown = await refused(h.client.enroll(EnrollRequest.fromPartial({ accountId: 'acc_nope', isoTemplate: template('103_1') })));
    expect(unknown.code).toBe(ErrorCode.UnknownAccount);
    const empty = await refused(h.client.deposit(DepositRequest.fromPartial({ accountId: '', amountMinor: 1n })));
    expect(empty.code).toBe(ErrorCode.BadRequest);
    const zero = await refused(h.client.deposit(DepositRequest.fromPartial({ accountId: customer, amountMinor: 0n })));
    expect(zero.code).toBe(ErrorCode.AmountOutOfRange);
    const both = await refused(h.client.getPolicy(GetPolicyRequest.fromPartial({ credentialId: owner, isoTemplate: template('101_1') })));
    expect(both.code).toBe(ErrorCode.BadRequest);
  });

  it('undoes the enrollment when the ledger cannot register the credential', async () => {
    h.state.failNext.add('ledger.registerCredential');
    const failed = await refused(h.client.enroll(EnrollRequest.fromPartial({ accountId: customer, isoTemplate: template('104_1') })));
    expect(failed.code).toBe(ErrorCode.Unavailable);
    const identified = await h.client.identify(IdentifyRequest.fromPartial({ capture: Capture.fromPartial({ isoTemplate: template('104_1') }) }));
    expect(identified.matched).toBe(false);
    // The same finger enrolls fine afterwards: nothing was left half-done.
    await h.client.enroll(EnrollRequest.fromPartial({ accountId: customer, isoTemplate: template('104_1') }));
  });

  it('gives the client its deadline: a call that cannot finish in time fails with TIMEOUT', async () => {
    const pending = refused(h.client.getAccount(GetAccountRequest.fromPartial({ accountId: customer }), { timeoutMs: 1 }));
    // Server and client share this event loop: held busy, the 1 ms deadline passes before any answer
    // can be read (on a fast machine an idle loop answers within it).
    const busyUntilMs = performance.now() + 20;
    while (performance.now() < busyUntilMs);
    const error = await pending;
    expect([ErrorCode.Timeout]).toContain(error.code);
  });
});
