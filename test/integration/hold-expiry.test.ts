/**
 * An account node settles holds left open past their expiry (a terminal vanished between the
 * business step and the capture) by the business records in JetStream: captured when the step ran,
 * released when it failed or never ran, and left held while the records cannot be read. Real
 * nats-server (with and without JetStream), real ledger on PGlite, the node's own sweeper.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { HoldState } from '../../proto/gen/biopay/v1/ledger.js';
import { ActorSystem } from '../../core/actors/index.js';
import { createBusinessRecord } from '../../core/business/records.js';
import { openBusinessRecords } from '../../core/business/setup.js';
import { BUSINESS_RECORDS_BUCKET } from '../../core/business/subjects.js';
import { businessStepsFromRecords } from '../../core/business/step-lookup.js';
import { readPayment } from '../../core/ledger/index.js';
import { silentLogger } from '../../core/log.js';
import { startAccountNode } from '../../nodes/account/node.js';
import { databaseTargets } from '../helpers/database.js';
import { startNatsServer, type NatsServerHandle } from '../helpers/nats-server.js';
import { expectNoProblems, openLedgerFixture, type LedgerFixture } from '../unit/ledger/fixture.js';

const pglite = (await databaseTargets()).find((target) => target.name === 'pglite')!;
const SETTLED_WITHIN_MS = 10_000;

async function until(condition: () => Promise<boolean>, withinMs: number): Promise<void> {
  const deadlineMs = Date.now() + withinMs;
  while (!(await condition())) {
    if (Date.now() > deadlineMs) throw new Error(`not settled within ${withinMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('an account node settles expired holds by their business records', () => {
  let nats: NatsServerHandle;
  let nc: NatsConnection;
  let system: ActorSystem;
  let f: LedgerFixture;

  beforeAll(async () => {
    nats = await startNatsServer({ jetstream: true });
    nc = await connect({ servers: nats.url });
    system = new ActorSystem({ nats: nc });
    f = await openLedgerFixture(pglite);
  }, 60_000);

  afterAll(async () => {
    await f?.close();
    await system?.drain();
    await nc?.drain();
    await nats?.stop();
  });

  it('captures the holds whose business step ran and releases the others', async () => {
    const payer = await f.customer(10_00n);
    const merchant = await f.merchant();
    const ran = f.authorizeRequest(payer, merchant, 2_00n);
    const failed = f.authorizeRequest(payer, merchant, 3_00n);
    const neverSent = f.authorizeRequest(payer, merchant, 4_00n);
    const records = await openBusinessRecords(nc);
    const record = { terminalId: 'T1', action: 'open-gate', executedUnixMs: BigInt(Date.now()) };
    await createBusinessRecord(nc, records, { ...record, paymentId: ran.paymentId, succeeded: true, detail: 'gate opened' });
    await createBusinessRecord(nc, records, { ...record, paymentId: failed.paymentId, succeeded: false, detail: 'device error: jammed' });
    // The fixture's clock is months behind the node's: these holds are due as soon as they exist.
    for (const request of [ran, failed, neverSent]) expect((await f.ledger.authorize(request)).approved).toBe(true);

    const troubles: string[] = [];
    const node = await startAccountNode({
      system, ledger: f.ledger, database: f.opened.db, log: silentLogger(), expirySweepIntervalMs: 50,
      businessSteps: businessStepsFromRecords(nc, (what) => troubles.push(what)),
    });
    try {
      await until(async () => (await f.ledger.getAccount(payer.accountId)).heldMinor === 0n, SETTLED_WITHIN_MS);
    } finally {
      await node.stop();
    }
    expect(await readPayment(f.opened.db, ran.paymentId)).toMatchObject({ state: HoldState.HOLD_STATE_CAPTURED, capturedMinor: 2_00n });
    expect(await readPayment(f.opened.db, failed.paymentId)).toMatchObject({ state: HoldState.HOLD_STATE_EXPIRED });
    expect(await readPayment(f.opened.db, neverSent.paymentId)).toMatchObject({ state: HoldState.HOLD_STATE_EXPIRED });
    expect(await f.ledger.getAccount(payer.accountId)).toMatchObject({ balanceMinor: 8_00n, heldMinor: 0n });
    expect(await f.ledger.getAccount(merchant)).toMatchObject({ balanceMinor: 2_00n });
    expect(troubles).toEqual([]);
    await expectNoProblems(f.ledger);
  }, 30_000);

  it('decides nothing while the records cannot be read: the holds stay held', async () => {
    const closed = await connect({ servers: nats.url });
    await closed.close();
    const troubles: string[] = [];
    const lookup = businessStepsFromRecords(closed, (what) => troubles.push(what));
    expect(await lookup(['pay-1', 'pay-2'])).toEqual(new Map());
    expect(troubles).toEqual(['business records bucket']);

    const payer = await f.customer(5_00n);
    const merchant = await f.merchant();
    const request = f.authorizeRequest(payer, merchant, 1_00n);
    await f.ledger.authorize(request);
    expect(await f.ledger.settleExpiredHolds(Date.now(), 100, lookup)).toEqual({ captured: 0, expired: 0, undecided: 1 });
    expect(await readPayment(f.opened.db, request.paymentId)).toMatchObject({ state: HoldState.HOLD_STATE_AUTHORIZED });
    // Once the records can be read (no record: the step never ran), the hold is released.
    expect(await f.ledger.settleExpiredHolds(Date.now(), 100, businessStepsFromRecords(nc))).toEqual({ captured: 0, expired: 1, undecided: 0 });
    expect(await f.ledger.getAccount(payer.accountId)).toMatchObject({ balanceMinor: 5_00n, heldMinor: 0n });
  }, 30_000);

  it('stops reading at the first batch of reads that all fail: the rest waits for the next sweep', () => onItsOwnServer(true, async (ownNc) => {
    const troubles: string[] = [];
    const lookup = businessStepsFromRecords(ownNc, (what) => troubles.push(what));
    expect(await lookup(['pay-0'])).toEqual(new Map([['pay-0', false]]));
    await (await jetstreamManager(ownNc)).streams.delete(`KV_${BUSINESS_RECORDS_BUCKET}`);
    const paymentIds = Array.from({ length: 100 }, (_, index) => `pay-${index}`);
    const sentBefore = ownNc.stats().outMsgs;
    expect(await lookup(paymentIds)).toEqual(new Map());
    expect(troubles).toEqual(['100 of 100 business records']);
    // One batch of 32 reads was tried, not all 100.
    expect(ownNc.stats().outMsgs - sentBefore).toBeLessThan(50);
  }), 30_000);

  it('treats a NATS server without JetStream as a network without a business tier: nothing ran', () => onItsOwnServer(false, async (plainNc) => {
    const troubles: string[] = [];
    const lookup = businessStepsFromRecords(plainNc, (what) => troubles.push(what));
    expect(await lookup(['pay-1', 'pay-2'])).toEqual(new Map([['pay-1', false], ['pay-2', false]]));
    expect(troubles).toEqual([]);
  }), 30_000);
});

/** A test's own nats-server (with or without JetStream) and connection, stopped after it. */
async function onItsOwnServer(jetstream: boolean, use: (nc: NatsConnection) => Promise<void>): Promise<void> {
  const server = await startNatsServer({ jetstream });
  const nc = await connect({ servers: server.url });
  try {
    await use(nc);
  } finally {
    await nc.close();
    await server.stop();
  }
}
