import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EnrollRequest } from '../../../proto/gen/biopay/v1/biometrics.js';
import { SetPolicyRequest, SpendingPolicy } from '../../../proto/gen/biopay/v1/ledger.js';
import { ErrorCode } from '../../../core/errors.js';
import { deleteEnrollment, enroll, flowClients, resolveCredentialByBiometric, setPolicy, type FlowClients } from '../../../core/flows/index.js';
import { startFakeNetwork, type FakeState } from './fakes.js';
import { template } from './harness.js';

let state: FakeState;
let clients: FlowClients;
let stop: () => Promise<void>;
let accountId: string;

beforeEach(async () => {
  const fake = startFakeNetwork();
  state = fake.state;
  clients = flowClients(fake.system);
  stop = () => fake.system.drain();
  accountId = (await clients.ledger.ask('k', 'openAccount', { owner: 'A', currency: 'EUR', kind: 1, timeZone: '', idempotencyKey: '' })).accountId;
});
afterEach(async () => {
  await stop();
});

const enrollFinger = (finger: string, policy?: SpendingPolicy, credentialId = '') =>
  enroll(clients, EnrollRequest.fromPartial({ accountId, isoTemplate: template(finger), policy, credentialId }));

describe('flows', () => {
  it('enroll names the credential itself, keyed by account, and undoes a timed-out enrollment', async () => {
    const { credentialId } = await enrollFinger('101_1');
    expect(credentialId).toMatch(/^cred_[0-9a-f-]{36}$/);
    expect(state.keys.filter((k) => k.method === 'enroll')).toEqual([{ kind: 'association', method: 'enroll', key: accountId }]);
    state.failNext.add('association.enroll');
    await expect(enrollFinger('102_1')).rejects.toMatchObject({ code: ErrorCode.Unavailable });
    // The undo ran for the id the flow chose, though the enrollment's answer never came.
    expect(state.keys.filter((k) => k.method === 'deleteEnrollment')).toHaveLength(1);
  });

  it('never undoes a caller-named credential it may not own', async () => {
    const { credentialId } = await enrollFinger('101_1');
    const other = (await clients.ledger.ask('k2', 'openAccount', { owner: 'B', currency: 'EUR', kind: 1, timeZone: '', idempotencyKey: '' })).accountId;
    const steal = () => enroll(clients, EnrollRequest.fromPartial({ accountId: other, isoTemplate: template('102_1'), credentialId }));
    await expect(steal()).rejects.toMatchObject({ code: ErrorCode.AlreadyEnrolled });
    state.failNext.add('association.enroll');
    await expect(steal()).rejects.toMatchObject({ code: ErrorCode.Unavailable });
    expect(state.keys.filter((k) => k.method === 'deleteEnrollment')).toEqual([]);
    expect(await resolveCredentialByBiometric(clients, template('101_1'))).toMatchObject({ credentialId, accountId });
  });

  it('refuses a nonsense policy before anything is written', async () => {
    const bad = SpendingPolicy.fromPartial({ restricted: false, maxPerPaymentMinor: 100n });
    await expect(enrollFinger('101_1', bad)).rejects.toMatchObject({ code: ErrorCode.BadRequest });
    expect(state.keys.filter((k) => k.kind === 'association')).toEqual([]);
  });

  it('deleteEnrollment finishes after the ledger already forgot the credential', async () => {
    const { credentialId } = await enrollFinger('101_1');
    state.credentials.delete(credentialId);
    expect(await deleteEnrollment(clients, credentialId)).toEqual({ deleted: true });
    expect(state.gallery.size).toBe(0);
  });

  it('setPolicy keys the ledger by the authorizer account when the target is named by id', async () => {
    await enrollFinger('101_1');
    const child = await enrollFinger('102_1', SpendingPolicy.fromPartial({ restricted: true }));
    await setPolicy(clients, SetPolicyRequest.fromPartial({
      credentialId: child.credentialId, policy: SpendingPolicy.fromPartial({ restricted: true, maxPerPaymentMinor: 100n }),
      authorizingIsoTemplate: template('101_1'),
    }));
    expect(state.keys.filter((k) => k.method === 'setPolicy')).toEqual([{ kind: 'ledger', method: 'setPolicy', key: accountId }]);
    await expect(setPolicy(clients, SetPolicyRequest.fromPartial({ credentialId: child.credentialId }))).rejects.toMatchObject({ code: ErrorCode.BadRequest });
  });

  it('a flow deadline bounds every step', async () => {
    await expect(enroll(clients, EnrollRequest.fromPartial({ accountId, isoTemplate: template('101_1') }), { timeoutMs: 0 }))
      .rejects.toMatchObject({ code: ErrorCode.Timeout });
  });
});
