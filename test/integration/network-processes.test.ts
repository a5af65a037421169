/**
 * The foundation's end-to-end test: nats-server and the five node roles as separate processes, a
 * real gRPC client, real fingerprints. Enrolls a finger, pays with another impression of it, pays
 * with a different finger; checks idempotency across processes, bad input on every NATS subject,
 * and that every node drains and exits cleanly on SIGTERM.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import { ActorReply } from '../../proto/gen/biopay/v1/actor.js';
import { AccountKind } from '../../proto/gen/biopay/v1/ledger.js';
import { PaymentOutcome, type PayRequest } from '../../proto/gen/biopay/v1/payment.js';
import { actorSubject } from '../../core/actors/index.js';
import { TemplateSealer } from '../../core/association/template-crypto.js';
import { businessCommandSubject } from '../../core/business/subjects.js';
import { ErrorCode } from '../../core/errors.js';
import { createGatewayClient, type GatewayClient } from '../../core/grpc/index.js';
import { ActorKind, AssociationProtocol, BusinessProtocol, LedgerProtocol, TerminalProtocol } from '../../core/protocols.js';
import { sensorSubject } from '../../core/terminal/subjects.js';
import { freePort } from '../../core/transport/nats-server-process.js';
import { startNatsServer, type NatsServerHandle } from '../helpers/nats-server.js';
import { startBackOfficeProcesses, startNodeProcess, type NodeProcess } from '../helpers/node-process.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'fvc2002', 'DB1_B');
const template = (name: string) => readFileSync(join(FIXTURES, `${name}.iso`));
const eur = (amountMinor: bigint) => ({ amountMinor, currency: 'EUR' });

describe('a biometric payment across five node processes', () => {
  let nats: NatsServerHandle;
  let nc: NatsConnection;
  let gateway: GatewayClient;
  let dataDir: string;
  const nodes: NodeProcess[] = [];
  let merchantId = '';
  let aliceId = '';

  beforeAll(async () => {
    nats = await startNatsServer({ jetstream: true });
    dataDir = mkdtempSync(join(tmpdir(), 'biopay-it-'));
    const grpcPort = await freePort();
    const env = { BIOPAY_TEMPLATE_KEY: TemplateSealer.generateKeyBase64() };
    const common = ['--nats', nats.url];
    // The ledger on PGlite in a data folder: the embedded default, in its own process.
    nodes.push(...await startBackOfficeProcesses(nats.url, dataDir, env));
    nodes.push(...await Promise.all([
      startNodeProcess('terminal', [...common, '--terminals', 'T1'], env),
      startNodeProcess('gateway', [...common, '--grpc-port', String(grpcPort)], env),
    ]));
    nc = await connect({ servers: nats.url });
    gateway = createGatewayClient(`127.0.0.1:${grpcPort}`);

    const merchant = await gateway.openAccount({ owner: 'Canteen', currency: 'EUR', kind: AccountKind.ACCOUNT_KIND_MERCHANT, timeZone: 'Europe/Berlin', idempotencyKey: 'it-merchant' });
    const alice = await gateway.openAccount({ owner: 'Alice', currency: 'EUR', kind: AccountKind.ACCOUNT_KIND_CUSTOMER, timeZone: 'Europe/Berlin', idempotencyKey: 'it-alice' });
    merchantId = merchant.accountId;
    aliceId = alice.accountId;
    await gateway.deposit({ accountId: aliceId, amountMinor: 10_000n, idempotencyKey: 'it-deposit-alice' });
    await gateway.registerTerminal({ terminal: { terminalId: 'T1', merchantAccountId: merchantId, location: undefined, action: 'open-gate', hint: '', item: '' } });
    await gateway.enroll({ accountId: aliceId, isoTemplate: template('101_1'), credentialId: '', modality: 0, embedding: undefined, policy: undefined, idempotencyKey: 'it-enroll-alice', hint: '', extraImpressions: [] });
  }, 180_000);

  afterAll(async () => {
    gateway?.close();
    await nc?.drain();
    const exitCodes = await Promise.all(nodes.map((node) => node.stop()));
    await nats?.stop();
    rmSync(dataDir, { recursive: true, force: true });
    // Every node drained and exited cleanly on SIGTERM.
    expect(exitCodes).toEqual(nodes.map(() => 0));
  }, 60_000);

  const pay = (paymentId: string, finger: string, amountMinor: bigint): PayRequest => ({
    paymentId, terminalId: 'T1', amount: eur(amountMinor), action: '', item: '', context: undefined,
    capture: { captureId: paymentId, terminalId: 'T1', isoTemplate: template(finger), face: undefined, palm: undefined, hint: '' },
  });

  it('approves another impression of the enrolled finger and moves exactly the amount', async () => {
    const result = await gateway.pay(pay('it-pay-1', '101_2', 1234n));
    expect(result.outcome, JSON.stringify(result, (_k, v) => (typeof v === 'bigint' ? String(v) : v))).toBe(PaymentOutcome.PAYMENT_OUTCOME_APPROVED);
    expect(result.accountId).toBe(aliceId);
    const alice = await gateway.getAccount({ accountId: aliceId });
    const merchant = await gateway.getAccount({ accountId: merchantId });
    expect(alice.balanceMinor).toBe(10_000n - 1234n);
    expect(alice.availableMinor).toBe(10_000n - 1234n);
    expect(merchant.balanceMinor).toBe(1234n);
  });

  it('refuses a different finger with NO_MATCH and moves nothing', async () => {
    const before = await gateway.getAccount({ accountId: aliceId });
    const result = await gateway.pay(pay('it-pay-2', '105_1', 500n));
    expect(result.outcome).toBe(PaymentOutcome.PAYMENT_OUTCOME_REFUSED);
    expect(result.refusals.map((refusal) => refusal.code)).toEqual(['NO_MATCH']);
    expect((await gateway.getAccount({ accountId: aliceId })).balanceMinor).toBe(before.balanceMinor);
  });

  it('moves money once for the same payment sent three times at once, and refuses the id with another amount', async () => {
    const before = await gateway.getAccount({ accountId: aliceId });
    const request = pay('it-pay-3', '101_3', 700n);
    const results = await Promise.all([gateway.pay(request), gateway.pay(request), gateway.pay(request)]);
    for (const result of results) {
      expect(result.outcome).toBe(PaymentOutcome.PAYMENT_OUTCOME_APPROVED);
      expect(result.paymentId).toBe('it-pay-3');
    }
    expect((await gateway.getAccount({ accountId: aliceId })).balanceMinor).toBe(before.balanceMinor - 700n);
    await expect(gateway.pay(pay('it-pay-3', '101_3', 701n))).rejects.toMatchObject({ code: ErrorCode.IdempotencyConflict });
    expect((await gateway.getAccount({ accountId: aliceId })).balanceMinor).toBe(before.balanceMinor - 700n);
  });

  it('pays from sensor events published by a terminal', async () => {
    const { touchAndWait } = await import('../../core/terminal/sensor-simulator.js');
    const result = await touchAndWait(nc, { terminalId: 'T1', sessionId: 'it-touch-1', isoTemplate: template('101_4'), amount: eur(100n) }, 20_000);
    expect(result.outcome).toBe(PaymentOutcome.PAYMENT_OUTCOME_APPROVED);
  });

  it('names each node process after its role, as ps, top and the load tool\'s CPU breakdown show it (Linux)', () => {
    const names = nodes.map((node) => (process.platform === 'linux' ? readFileSync(`/proc/${node.child.pid}/comm`, 'utf8').trim() : node.role));
    const expected = process.platform === 'linux'
      ? ['biopay-account', 'biopay-assoc', 'biopay-business', 'biopay-terminal', 'biopay-gateway']
      : ['account', 'association', 'business', 'terminal', 'gateway'];
    expect(names).toEqual(expected);
  });

  it('answers malformed protobuf on every actor subject with a typed error and keeps serving', async () => {
    const protocols = {
      [ActorKind.Ledger]: LedgerProtocol, [ActorKind.Association]: AssociationProtocol,
      [ActorKind.Business]: BusinessProtocol, [ActorKind.Terminal]: TerminalProtocol,
    };
    for (const kind of Object.keys(protocols)) {
      const reply = await nc.request(actorSubject(kind, 0), Buffer.from([0xff, 0xff, 0xff, 0x0f, 0x08]), { timeout: 5_000 });
      const decoded = ActorReply.decode(reply.data);
      expect(decoded.result?.$case).toBe('error');
      if (decoded.result?.$case === 'error') expect(decoded.result.value.code).toBe(ErrorCode.MalformedMessage);
    }
    // Garbage on the sensor subject and on the business command stream is dropped, not fatal.
    nc.publish(sensorSubject('T1'), Buffer.from('not a sensor event'));
    await jetstream(nc).publish(businessCommandSubject('T1'), Buffer.from([0x0a, 0xff, 0xff]));
    const after = await gateway.pay(pay('it-pay-after-garbage', '101_2', 1n));
    expect(after.outcome).toBe(PaymentOutcome.PAYMENT_OUTCOME_APPROVED);
  });

  it('refuses an enrollment too large for NATS on its way to the association node with BAD_REQUEST naming the size, and keeps serving', async () => {
    // Under the gateway's 1 MiB gRPC limit, over NATS's 1 MiB max payload once wrapped for the association node.
    const huge = Buffer.alloc(1024 * 1024 - 64, 0x46);
    const startedMs = Date.now();
    await expect(gateway.enroll({
      accountId: aliceId, isoTemplate: huge, credentialId: '', modality: 0, embedding: undefined, policy: undefined,
      idempotencyKey: 'it-enroll-huge', hint: '', extraImpressions: [],
    })).rejects.toMatchObject({ code: ErrorCode.BadRequest, message: expect.stringMatching(/exceed the NATS max payload/) });
    expect(Date.now() - startedMs).toBeLessThan(5_000);
    expect((await gateway.pay(pay('it-pay-after-huge', '101_2', 1n))).outcome).toBe(PaymentOutcome.PAYMENT_OUTCOME_APPROVED);
  });

  it('refuses an amount that overflows int64 and an unknown account with typed errors', async () => {
    await expect(gateway.deposit({ accountId: aliceId, amountMinor: 2n ** 63n, idempotencyKey: 'it-overflow' })).rejects.toBeDefined();
    await expect(gateway.getAccount({ accountId: 'acc_does_not_exist' })).rejects.toMatchObject({ code: ErrorCode.UnknownAccount });
  });
});
