/**
 * Two account node processes on one PostgreSQL schema, both serving the ledger kind: payments
 * racing on the last balance and the last of a quota, spread over both processes by the queue
 * group, never overspend; holds left open are settled at expiry by their business records.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { AccountKind, HoldState, Period, type AuthorizeRequest } from '../../proto/gen/biopay/v1/ledger.js';
import { ActorSystem } from '../../core/actors/index.js';
import { createBusinessRecord } from '../../core/business/records.js';
import { openBusinessRecords } from '../../core/business/setup.js';
import { ActorKind, LedgerProtocol } from '../../core/protocols.js';
import { databaseTargets, freshSchemaName, postgresUrl } from '../helpers/database.js';
import { startNatsServer, type NatsServerHandle } from '../helpers/nats-server.js';
import { startNodeProcess, type NodeProcess } from '../helpers/node-process.js';

const postgres = (await databaseTargets()).some((target) => target.name === 'postgres');

// Without a reachable PostgreSQL (and without BIOPAY_REQUIRE_POSTGRES=1, which CI sets and which
// makes databaseTargets() throw instead) there is no shared database for two processes.
describe.runIf(postgres)('two account node processes on one PostgreSQL schema', () => {
  let nats: NatsServerHandle;
  let nc: NatsConnection;
  let system: ActorSystem;
  const nodes: NodeProcess[] = [];

  beforeAll(async () => {
    nats = await startNatsServer({ jetstream: true });
    const args = ['--nats', nats.url, '--database', postgresUrl(), '--schema', freshSchemaName()];
    // Started together: migrations of a fresh schema must tolerate a concurrent start.
    nodes.push(...await Promise.all([startNodeProcess('account', args), startNodeProcess('account', args)]));
    nc = await connect({ servers: nats.url });
    system = new ActorSystem({ nats: nc });
  }, 120_000);

  afterAll(async () => {
    await system?.drain();
    await nc?.drain();
    const exitCodes = await Promise.all(nodes.map((node) => node.stop()));
    await nats?.stop();
    expect(exitCodes).toEqual([0, 0]);
  });

  async function setUp(owner: string, depositMinor: bigint) {
    const ledger = system.client(ActorKind.Ledger, LedgerProtocol);
    const open = (name: string, kind: AccountKind) => ledger.ask(name, 'openAccount', { owner: name, currency: 'EUR', kind, timeZone: 'Europe/Berlin', idempotencyKey: `race-${name}` });
    const merchant = await open(`${owner}-merchant`, AccountKind.ACCOUNT_KIND_MERCHANT);
    const payer = await open(owner, AccountKind.ACCOUNT_KIND_CUSTOMER);
    await ledger.ask(payer.accountId, 'deposit', { accountId: payer.accountId, amountMinor: depositMinor, idempotencyKey: `race-deposit-${owner}` });
    await ledger.ask(payer.accountId, 'registerCredential', { accountId: payer.accountId, credentialId: `${owner}-owner`, policy: undefined });
    return { ledger, merchant, payer };
  }

  const authorize = (paymentId: string, accountId: string, credentialId: string, merchantAccountId: string, amountMinor: bigint): AuthorizeRequest => ({
    paymentId, accountId, credentialId, merchantAccountId, amount: { amountMinor, currency: 'EUR' }, holdTimeoutMs: 0,
    context: { terminalId: `T${paymentId.length % 7}`, merchantId: merchantAccountId, location: undefined, atUnixMs: BigInt(Date.now()) },
  });

  it('approves exactly what the balance covers when 40 payments race for it', async () => {
    const { ledger, merchant, payer } = await setUp('race-balance', 1_000n);
    // Different keys per request spread the asks over both processes (each key has its own shard).
    const results = await Promise.all(Array.from({ length: 40 }, (_, index) =>
      ledger.ask(`race-balance-${index}`, 'authorize', authorize(`race-balance-p${index}`, payer.accountId, 'race-balance-owner', merchant.accountId, 100n))));
    expect(results.filter((result) => result.approved)).toHaveLength(10);
    await Promise.all(results.filter((result) => result.approved).map((result) =>
      ledger.ask(payer.accountId, 'capture', { paymentId: result.paymentId, amountMinor: 0n })));
    const after = await ledger.ask(payer.accountId, 'getAccount', { accountId: payer.accountId });
    expect(after.balanceMinor).toBe(0n);
    expect(after.availableMinor).toBe(0n);
    const paid = await ledger.ask(merchant.accountId, 'getAccount', { accountId: merchant.accountId });
    expect(paid.balanceMinor).toBe(1_000n);
  });

  it('approves exactly the count a restricted credential has left when payments race for it', async () => {
    const { ledger, merchant, payer } = await setUp('race-quota', 100_000n);
    await ledger.ask(payer.accountId, 'registerCredential', {
      accountId: payer.accountId, credentialId: 'race-quota-child',
      policy: { restricted: true, maxPerPaymentMinor: 0n, quotas: [{ period: Period.PERIOD_DAY, amountMinor: 10_000n }], counts: [{ period: Period.PERIOD_DAY, count: 3 }], places: [], terminalIds: [], merchantIds: [], windows: [], timeZone: '' },
    });
    const results = await Promise.all(Array.from({ length: 30 }, (_, index) =>
      ledger.ask(`race-quota-${index}`, 'authorize', authorize(`race-quota-p${index}`, payer.accountId, 'race-quota-child', merchant.accountId, 100n))));
    const approved = results.filter((result) => result.approved);
    expect(approved).toHaveLength(3);
    for (const refused of results.filter((result) => !result.approved)) {
      expect(refused.refusals.map((refusal) => refusal.code)).toContain('COUNT_DAY');
    }
  });
  it('voids a hold whose terminal never comes back once it expires, by the nodes\' sweeper', async () => {
    const { ledger, merchant, payer } = await setUp('race-expiry', 1_000n);
    const held = await ledger.ask(payer.accountId, 'authorize', {
      ...authorize('race-expiry-p1', payer.accountId, 'race-expiry-owner', merchant.accountId, 400n), holdTimeoutMs: 1_000,
    });
    expect(held.approved).toBe(true);
    expect((await ledger.ask(payer.accountId, 'getAccount', { accountId: payer.accountId })).availableMinor).toBe(600n);
    // Nobody captures or voids: the terminal is gone. The sweepers (every second) void it after expiry.
    const deadlineMs = Date.now() + 20_000;
    let state = await ledger.ask(payer.accountId, 'getPayment', { paymentId: 'race-expiry-p1' });
    while (state.state === HoldState.HOLD_STATE_AUTHORIZED && Date.now() < deadlineMs) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      state = await ledger.ask(payer.accountId, 'getPayment', { paymentId: 'race-expiry-p1' });
    }
    expect([HoldState.HOLD_STATE_EXPIRED, HoldState.HOLD_STATE_VOIDED]).toContain(state.state);
    const after = await ledger.ask(payer.accountId, 'getAccount', { accountId: payer.accountId });
    expect(after).toMatchObject({ balanceMinor: 1_000n, availableMinor: 1_000n });
    // A capture arriving after the expiry is refused and moves nothing.
    await expect(ledger.ask(payer.accountId, 'capture', { paymentId: 'race-expiry-p1', amountMinor: 0n })).rejects.toBeDefined();
    expect((await ledger.ask(merchant.accountId, 'getAccount', { accountId: merchant.accountId })).balanceMinor).toBe(0n);
  });
  it('captures, once it expires, a hold whose terminal vanished after the business step handed the goods out', async () => {
    const { ledger, merchant, payer } = await setUp('race-delivered', 1_000n);
    // The business node's record of the step (written as it writes it): the gate opened.
    await createBusinessRecord(nc, await openBusinessRecords(nc), {
      paymentId: 'race-delivered-p1', terminalId: 'T1', action: 'open-gate', succeeded: true, detail: 'open-gate: done', executedUnixMs: BigInt(Date.now()),
    });
    const held = await ledger.ask(payer.accountId, 'authorize', {
      ...authorize('race-delivered-p1', payer.accountId, 'race-delivered-owner', merchant.accountId, 400n), holdTimeoutMs: 1_000,
    });
    expect(held.approved).toBe(true);
    // Nobody captures: the terminal is gone. The account processes' sweepers read the record at expiry.
    const deadlineMs = Date.now() + 20_000;
    let state = await ledger.ask(payer.accountId, 'getPayment', { paymentId: 'race-delivered-p1' });
    while (state.state === HoldState.HOLD_STATE_AUTHORIZED && Date.now() < deadlineMs) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      state = await ledger.ask(payer.accountId, 'getPayment', { paymentId: 'race-delivered-p1' });
    }
    expect(state).toMatchObject({ state: HoldState.HOLD_STATE_CAPTURED, capturedMinor: 400n });
    expect(await ledger.ask(payer.accountId, 'getAccount', { accountId: payer.accountId })).toMatchObject({ balanceMinor: 600n, availableMinor: 600n });
    expect((await ledger.ask(merchant.accountId, 'getAccount', { accountId: merchant.accountId })).balanceMinor).toBe(400n);
    // The terminal's capture, should it come back, is answered as captured and moves nothing more.
    expect(await ledger.ask(payer.accountId, 'capture', { paymentId: 'race-delivered-p1', amountMinor: 0n })).toMatchObject({ state: HoldState.HOLD_STATE_CAPTURED });
    expect((await ledger.ask(merchant.accountId, 'getAccount', { accountId: merchant.accountId })).balanceMinor).toBe(400n);
  });
});
