import { connect, headers as natsHeaders, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { BusinessCommand, BusinessRecord } from '../../../proto/gen/biopay/v1/business.js';
import {
  BUSINESS_CONSUMER, BUSINESS_RECORDS_BUCKET, BUSINESS_REPLY_HEADER, BUSINESS_STREAM, businessCommandSubject, businessReplySubject,
} from '../../../core/business/subjects.js';
import { ActorSystem } from '../../../core/actors/index.js';
import { SimulatedDevice } from '../../../core/business/device.js';
import { createBusinessRecord } from '../../../core/business/records.js';
import { openBusinessRecords } from '../../../core/business/setup.js';
import { silentLogger } from '../../../core/log.js';
import { BusinessClient } from '../../../core/terminal/business-client.js';
import { EXECUTION_START_MARGIN_MS, startBusinessNode, type BusinessNode } from '../../../nodes/business/node.js';
import { startNatsServer, type NatsServerHandle } from '../../helpers/nats-server.js';

/** An item this device takes SLOW_ITEM_MS to hand out: its answer comes after a short wait's end. */
const SLOW_ITEM = 'slow';
const SLOW_ITEM_MS = 400;

/** Counts the executions per payment, so a second execution of one payment shows. */
class CountingDevice extends SimulatedDevice {
  readonly executions = new Map<string, number>();

  override async execute(command: BusinessCommand) {
    this.executions.set(command.paymentId, (this.executions.get(command.paymentId) ?? 0) + 1);
    if (command.item === SLOW_ITEM) await new Promise((resolve) => setTimeout(resolve, SLOW_ITEM_MS));
    return super.execute(command);
  }
}

/** A payment's first attempt (the ledger placed its hold); `freshAuthorization: false` for a retry. */
function command(paymentId: string, terminalId = 'T1', item = '', freshAuthorization = true): BusinessCommand {
  const nowMs = Date.now();
  return { paymentId, terminalId, action: 'dispense', item, issuedUnixMs: BigInt(nowMs), deadlineUnixMs: BigInt(nowMs + 5_000), freshAuthorization };
}

/** Per describe: its own nats-server with JetStream, a business node with a counting device, and a client. */
function useBusinessStep() {
  const step = { device: new CountingDevice() } as {
    server: NatsServerHandle; nc: NatsConnection; system: ActorSystem; node: BusinessNode; client: BusinessClient; device: CountingDevice;
  };
  beforeAll(async () => {
    step.server = await startNatsServer({ jetstream: true });
    step.nc = await connect({ servers: step.server.url });
    step.system = new ActorSystem({ nats: step.nc });
    step.node = await startBusinessNode({ nc: step.nc, system: step.system, device: step.device, log: silentLogger() });
    step.client = await BusinessClient.open(step.nc);
  }, 30_000);
  afterAll(async () => {
    step.client?.close();
    await step.system?.drain();
    await step.node?.stop();
    await step.nc?.drain();
    await step.server?.stop();
  });
  return step;
}

describe('business step over JetStream (real nats-server)', () => {
  const step = useBusinessStep();

  it('answers many concurrent commands on one reply subscription, each executed once', async () => {
    const ids = Array.from({ length: 300 }, (_, index) => `p-many-${index}`);
    const records = await Promise.all(ids.map((id, index) => step.client.execute(command(id, `T${index % 7}`, index % 10 === 0 ? 'jammed' : ''), 5_000)));
    expect(records.map((record) => record.paymentId)).toEqual(ids);
    expect(records.filter((record) => !record.succeeded)).toHaveLength(30);
    expect(ids.every((id) => step.device.executions.get(id) === 1)).toBe(true);
  });

  it('gives a retried payment its first record instead of executing again', async () => {
    const first = await step.client.execute(command('p-retry'), 5_000);
    const again = await step.client.execute(command('p-retry', 'T1', '', false), 5_000);
    expect(again).toEqual(first);
    expect(step.device.executions.get('p-retry')).toBe(1);
  });

  // Past the stream's duplicate window (120 s) a retried payment's command is a new stream message:
  // only the business node's read of the records stands between it and a second execution.
  it('answers a retried payment republished past the duplicate window with its first record, not a second execution', async () => {
    const first = await step.client.execute(command('p-late'), 5_000);
    const replies = step.nc.subscribe(businessReplySubject('late-retry'), { max: 1, timeout: 5_000 });
    const headers = natsHeaders();
    headers.set(BUSINESS_REPLY_HEADER, businessReplySubject('late-retry'));
    const ack = await jetstream(step.nc).publish(businessCommandSubject('T1'), BusinessCommand.encode(command('p-late', 'T1', '', false)).finish(), {
      msgID: 'p-late:after-the-window', headers,
    });
    expect(ack.duplicate).toBe(false);
    for await (const reply of replies) expect(BusinessRecord.decode(reply.data)).toEqual(first);
    expect(step.device.executions.get('p-late')).toBe(1);
  });

  it('answers a second client that retries a payment the first one published', async () => {
    const other = await BusinessClient.open(step.nc);
    try {
      const first = await step.client.execute(command('p-two-clients'), 5_000);
      const fromOther = await other.execute(command('p-two-clients'), 5_000);
      expect(fromOther).toEqual(first);
      expect(step.device.executions.get('p-two-clients')).toBe(1);
    } finally {
      other.close();
    }
  });

  it('does not start a command too close to its deadline or past it: recorded as not executed, the device untouched', async () => {
    const nowMs = Date.now();
    for (const [paymentId, leftMs] of [['p-too-close', EXECUTION_START_MARGIN_MS / 5], ['p-too-late', -1_000]] as const) {
      const late = { ...command(paymentId), deadlineUnixMs: BigInt(nowMs + leftMs) };
      expect(await step.client.execute(late, 5_000)).toMatchObject({
        paymentId, succeeded: false, detail: `less than ${EXECUTION_START_MARGIN_MS} ms left before the deadline: not executed`,
      });
      expect(step.device.executions.get(paymentId)).toBeUndefined();
    }
  });

  it('finds the record of an execution that answered after the wait ended, and none for a step never sent', async () => {
    await expect(step.client.execute(command('p-slow', 'T1', SLOW_ITEM), 150)).rejects.toMatchObject({ code: 'TIMEOUT' });
    const late = await step.client.recordOf('p-slow', 3_000);
    expect(late).toMatchObject({ paymentId: 'p-slow', succeeded: true, detail: `dispense: delivered ${SLOW_ITEM}` });
    expect(await step.client.recordOf('p-never-sent', 200)).toBeUndefined();
    // An answer lost on the way: the records still tell.
    const recorded = { paymentId: 'p-answer-lost', terminalId: 'T1', action: 'dispense', succeeded: true, detail: 'done', executedUnixMs: 1n };
    await createBusinessRecord(step.nc, await openBusinessRecords(step.nc), recorded);
    expect(await step.client.recordOf('p-answer-lost', 50)).toEqual(recorded);
  });

  it('refuses a second wait for a payment already waited for, and times out with TIMEOUT', async () => {
    const waiting = step.client.execute(command('p-twice'), 5_000);
    await expect(step.client.execute(command('p-twice'), 5_000)).rejects.toMatchObject({ code: 'INVALID_STATE' });
    await waiting;
    await step.node.stop();
    await expect(step.client.execute(command('p-nobody'), 300)).rejects.toMatchObject({ code: 'TIMEOUT' });
  });
});

describe('business step when its records bucket fails (real nats-server)', () => {
  const step = useBusinessStep();

  // Once the device has run, a redelivery would run it again (dispense twice): the node answers
  // the execution and acknowledges the command even though it could not be recorded.
  it('answers an execution it cannot record and does not run it again', async () => {
    const jsm = await jetstreamManager(step.nc);
    await jsm.streams.delete(`KV_${BUSINESS_RECORDS_BUCKET}`);
    const record = await step.client.execute(command('p-unrecorded'), 5_000);
    expect(record).toMatchObject({ paymentId: 'p-unrecorded', succeeded: true });
    // The node tries the write again a few times, then acknowledges: nothing is redelivered.
    let consumer = await jsm.consumers.info(BUSINESS_STREAM, BUSINESS_CONSUMER);
    for (let polls = 0; consumer.num_ack_pending > 0 && polls < 100; polls++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      consumer = await jsm.consumers.info(BUSINESS_STREAM, BUSINESS_CONSUMER);
    }
    expect(consumer.num_ack_pending).toBe(0);
    expect(consumer.num_redelivered).toBe(0);
    expect(step.device.executions.get('p-unrecorded')).toBe(1);
  }, 20_000);
});
