/**
 * The client commands against a real network in one process: nats-server, PGlite ledger, real
 * matching, terminal, business and the gRPC gateway. Checks what the fakes cannot: the gateway's
 * keying and flows against the real ledger and association nodes (policy changes authorized by a
 * real match, capture/void/refund by payment id, enrollment undo).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientCommands } from '../../cli/client/index.js';
import { TemplateSealer } from '../../core/association/template-crypto.js';
import { createGatewayClient, type GatewayClient } from '../../core/grpc/index.js';
import { silentLogger } from '../../core/log.js';
import { ActorKind, LedgerProtocol } from '../../core/protocols.js';
import { ROLES, startNetwork, type Network } from '../../nodes/network.js';
import { HoldState } from '../../proto/gen/biopay/v1/ledger.js';
import { startNatsServer, type NatsServerHandle } from '../helpers/nats-server.js';
import { captureIo, templatePath } from '../unit/gateway/harness.js';

let nats: NatsServerHandle;
let network: Network;
let address: string;
let gateway: GatewayClient;

beforeAll(async () => {
  nats = await startNatsServer({ jetstream: true });
  network = await startNetwork({
    roles: ROLES, natsUrl: nats.url, log: silentLogger(), grpcPort: 0,
    sealer: TemplateSealer.fromBase64(TemplateSealer.generateKeyBase64()), matchWorkers: 0,
  });
  address = `127.0.0.1:${network.grpcPort}`;
  gateway = createGatewayClient(address);
}, 120_000);

afterAll(async () => {
  gateway?.close();
  await network?.stop();
  await nats?.stop();
}, 60_000);

async function biopay(name: string, ...argv: string[]): Promise<{ code: number; out: any }> {
  const io = captureIo();
  const code = await clientCommands[name]!.run([...argv, '--gateway', address, '--json'], io);
  return { code, out: io.json() };
}

describe('client commands on a real network', () => {
  let alice = '';
  let canteen = '';

  it('opens, deposits, registers a terminal, enrolls parent and child', async () => {
    alice = (await biopay('account open', '--owner', 'Alice', '--currency', 'EUR', '--tz', 'Europe/Berlin')).out.account.accountId;
    canteen = (await biopay('account open', '--owner', 'Canteen', '--currency', 'EUR', '--kind', 'merchant')).out.account.accountId;
    expect((await biopay('account deposit', alice, '50.00')).out.account.balance).toBe('50.00');
    expect((await biopay('terminal register', 'T1', '--merchant', canteen, '--action', 'open-gate')).code).toBe(0);
    const parent = await biopay('enroll', alice, '--template', templatePath('101_1'));
    expect(parent).toMatchObject({ code: 0, out: { credential: { accountId: alice, restricted: false } } });
    const child = await biopay('enroll', alice, '--template', templatePath('102_1'), '--restricted', '--max', '5.00', '--quota', '30.00/day');
    expect(child).toMatchObject({ code: 0, out: { credential: { restricted: true, policy: { max: '5.00', quota: ['30.00/day'] } } } });
    const again = await biopay('enroll', alice, '--template', templatePath('102_1'));
    expect(again).toMatchObject({ code: 1, out: { error: { code: 'ALREADY_ENROLLED' } } });
  });

  it('pays with other impressions of the enrolled fingers', async () => {
    const approved = await biopay('pay', '--terminal', 'T1', '--template', templatePath('101_2'), '--amount', '12.34');
    expect(approved).toMatchObject({ code: 0, out: { payment: { outcome: 'approved', amount: '12.34', accountId: alice } } });
    const overMax = await biopay('pay', '--terminal', 'T1', '--template', templatePath('102_2'), '--amount', '6.00');
    expect(overMax).toMatchObject({ code: 0, out: { payment: { outcome: 'refused', accountId: alice } } });
    expect(overMax.out.payment.refusals.length).toBeGreaterThan(0);
    const stranger = await biopay('pay', '--terminal', 'T1', '--template', templatePath('105_1'), '--amount', '1.00');
    expect(stranger).toMatchObject({ code: 0, out: { payment: { outcome: 'refused' } } });
    expect((await biopay('account balance', alice)).out.account.balance).toBe('37.66');
  });

  it('changes the child policy only with the parent finger', async () => {
    const byChild = await biopay('policy set', '--template', templatePath('102_3'), '--max', '9.00', '--authorize-with', templatePath('102_4'));
    expect(byChild).toMatchObject({ code: 1, out: { error: { code: 'NOT_AUTHORIZED' } } });
    const byParent = await biopay('policy set', '--template', templatePath('102_3'), '--max', '9.00', '--authorize-with', templatePath('101_3'));
    expect(byParent).toMatchObject({ code: 0, out: { credential: { policy: { max: '9.00', quota: ['30.00/day'] } } } });
    const shown = await biopay('policy show', '--credential', byParent.out.credential.credentialId);
    expect(shown.out.credential.policy.max).toBe('9.00');
  });

  it('captures, voids and refunds through the gateway (ledger keyed by payment id)', async () => {
    const credentialId = (await biopay('policy show', '--template', templatePath('101_4'))).out.credential.credentialId;
    const ledger = network.system.client(ActorKind.Ledger, LedgerProtocol);
    const hold = (paymentId: string) => ledger.ask(alice, 'authorize', {
      paymentId, accountId: alice, credentialId, merchantAccountId: canteen, amount: { amountMinor: 100n, currency: 'EUR' },
      context: undefined, holdTimeoutMs: 0,
    });
    expect((await hold('it-h1')).approved).toBe(true);
    expect((await hold('it-h2')).approved).toBe(true);
    expect((await gateway.capture({ paymentId: 'it-h1', amountMinor: 0n })).state).toBe(HoldState.HOLD_STATE_CAPTURED);
    expect((await gateway.void({ paymentId: 'it-h2', reason: 'test' })).state).toBe(HoldState.HOLD_STATE_VOIDED);
    expect((await gateway.refund({ refundId: 'it-r1', paymentId: 'it-h1', amountMinor: 40n })).refundedMinor).toBe(40n);
    const statement = await biopay('account statement', alice);
    expect(statement.out.statement.entries.length).toBeGreaterThanOrEqual(3);
  });

  it('enrolls from several impressions of one finger, keeping one, and refuses impressions of different fingers', async () => {
    const bob = (await biopay('account open', '--owner', 'Bob', '--currency', 'EUR')).out.account.accountId;
    const mixed = await biopay('enroll', bob, '--template', templatePath('106_1'), '--template', templatePath('107_1'), '--template', templatePath('108_1'));
    expect(mixed).toMatchObject({ code: 1, out: { error: { code: 'INVALID_TEMPLATE' } } });
    const three = await biopay('enroll', bob, '--template', templatePath('103_1'), '--template', templatePath('103_3'), '--template', templatePath('103_4'));
    expect(three).toMatchObject({ code: 0, out: { credential: { accountId: bob, restricted: false }, impressions: 3 } });
    expect([0, 1, 2]).toContain(three.out.selectedImpression);
    const found = await biopay('policy show', '--template', templatePath('103_2'));
    expect(found.out.credential.credentialId).toBe(three.out.credential.credentialId);
  });
});
