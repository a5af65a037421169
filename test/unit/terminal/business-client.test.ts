import { connect, headers as natsHeaders, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jetstream } from '@nats-io/jetstream';
import { BusinessCommand, BusinessRecord } from '../../../proto/gen/biopay/v1/business.js';
import { BUSINESS_REPLY_HEADER, businessCommandSubject, businessReplySubject } from '../../../core/business/subjects.js';
import { ActorSystem } from '../../../core/actors/index.js';
import { SimulatedDevice } from '../../../core/business/device.js';
import { silentLogger } from '../../../core/log.js';
import { BusinessClient } from '../../../core/terminal/business-client.js';
import { startBusinessNode, type BusinessNode } from '../../../nodes/business/node.js';
import { startNatsServer, type NatsServerHandle } from '../../helpers/nats-server.js';

/** Counts the executions per payment, so a second execution of one payment shows. */
class CountingDevice extends SimulatedDevice {
  readonly executions = new Map<string, number>();

  override async execute(command: BusinessCommand) {
    this.executions.set(command.paymentId, (this.executions.get(command.paymentId) ?? 0) + 1);
    return super.execute(command);
  }
}

/** A payment's first attempt (the ledger placed its hold); `freshAuthorization: false` for a retry. */
function command(paymentId: string, terminalId = 'T1', item = '', freshAuthorization = true): BusinessCommand {
  const nowMs = Date.now();
  return { paymentId, terminalId, action: 'dispense', item, issuedUnixMs: BigInt(nowMs), deadlineUnixMs: BigInt(nowMs + 5_000), freshAuthorization };
}

describe('business step over JetStream (real nats-server)', () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;
  let node: BusinessNode;
  let system: ActorSystem;
  let client: BusinessClient;
  const device = new CountingDevice();

  beforeAll(async () => {
    server = await startNatsServer({ jetstream: true });
    nc = await connect({ servers: server.url });
    system = new ActorSystem({ nats: nc });
    node = await startBusinessNode({ nc, system, device, log: silentLogger() });
    client = await BusinessClient.open(nc);
  }, 30_000);

  afterAll(async () => {
    client?.close();
    await system?.drain();
    await node?.stop();
    await nc?.drain();
    await server?.stop();
  });

  it('answers many concurrent commands on one reply subscription, each executed once', async () => {
    const ids = Array.from({ length: 300 }, (_, index) => `p-many-${index}`);
    const records = await Promise.all(ids.map((id, index) => client.execute(command(id, `T${index % 7}`, index % 10 === 0 ? 'jammed' : ''), 5_000)));
    expect(records.map((record) => record.paymentId)).toEqual(ids);
    expect(records.filter((record) => !record.succeeded)).toHaveLength(30);
    expect(ids.every((id) => device.executions.get(id) === 1)).toBe(true);
  });

  it('gives a retried payment its first record instead of executing again', async () => {
    const first = await client.execute(command('p-retry'), 5_000);
    const again = await client.execute(command('p-retry', 'T1', '', false), 5_000);
    expect(again).toEqual(first);
    expect(device.executions.get('p-retry')).toBe(1);
  });

  // Past the stream's duplicate window (120 s) a retried payment's command is a new stream message:
  // only the business node's read of the records stands between it and a second execution.
  it('answers a retried payment republished past the duplicate window with its first record, not a second execution', async () => {
    const first = await client.execute(command('p-late'), 5_000);
    const replies = nc.subscribe(businessReplySubject('late-retry'), { max: 1, timeout: 5_000 });
    const headers = natsHeaders();
    headers.set(BUSINESS_REPLY_HEADER, businessReplySubject('late-retry'));
    const ack = await jetstream(nc).publish(businessCommandSubject('T1'), BusinessCommand.encode(command('p-late', 'T1', '', false)).finish(), {
      msgID: 'p-late:after-the-window', headers,
    });
    expect(ack.duplicate).toBe(false);
    for await (const reply of replies) expect(BusinessRecord.decode(reply.data)).toEqual(first);
    expect(device.executions.get('p-late')).toBe(1);
  });

  it('answers a second client that retries a payment the first one published', async () => {
    const other = await BusinessClient.open(nc);
    try {
      const first = await client.execute(command('p-two-clients'), 5_000);
      const fromOther = await other.execute(command('p-two-clients'), 5_000);
      expect(fromOther).toEqual(first);
      expect(device.executions.get('p-two-clients')).toBe(1);
    } finally {
      other.close();
    }
  });

  it('refuses a second wait for a payment already waited for, and times out with TIMEOUT', async () => {
    const waiting = client.execute(command('p-twice'), 5_000);
    await expect(client.execute(command('p-twice'), 5_000)).rejects.toMatchObject({ code: 'INVALID_STATE' });
    await waiting;
    await node.stop();
    await expect(client.execute(command('p-nobody'), 300)).rejects.toMatchObject({ code: 'TIMEOUT' });
  });
});
