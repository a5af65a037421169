/**
 * Publishes into JetStream streams through the request mux, against a real nats-server: the
 * stream's acknowledgement, its deduplication on the message id, its create-if-absent, and the
 * errors nats.js's `js.publish` would give (a refused write as JetStreamApiError with its code).
 */
import { JetStreamApiCodes, JetStreamApiError, JetStreamError, jetstreamManager } from '@nats-io/jetstream';
import { headers as natsHeaders } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBusinessRecord, readBusinessRecord } from '../../../core/business/records.js';
import { openBusinessRecords } from '../../../core/business/setup.js';
import { connectNats, type NatsConnection } from '../../../core/transport/nats.js';
import { parseStreamAck, publishToStream } from '../../../core/transport/stream-publish.js';
import { startNatsServer, type NatsServerHandle } from '../../helpers/nats-server.js';

let server: NatsServerHandle;
let nc: NatsConnection;
const bytes = (text: string) => new TextEncoder().encode(text);

beforeAll(async () => {
  server = await startNatsServer({ jetstream: true });
  nc = await connectNats({ servers: server.url, name: 'stream-publish-test' });
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: 'ORDERS', subjects: ['orders.>'] });
}, 30_000);

afterAll(async () => {
  await nc?.close();
  await server?.stop();
});

describe('publishToStream', () => {
  it('resolves with the stream and sequence that stored the message, with its headers kept', async () => {
    const headers = natsHeaders();
    headers.set('Biopay-Test', 'kept');
    const ack = await publishToStream(nc, 'orders.a', bytes('first'), { timeoutMs: 5_000, headers });
    expect(ack).toEqual({ stream: 'ORDERS', seq: expect.any(Number), duplicate: false });
    const stored = await (await jetstreamManager(nc)).streams.getMessage('ORDERS', { seq: ack.seq });
    expect(new TextDecoder().decode(stored!.data)).toBe('first');
    expect(stored!.header.get('Biopay-Test')).toBe('kept');
  });

  it('stores a message id once within the duplicate window and says so', async () => {
    const first = await publishToStream(nc, 'orders.b', bytes('once'), { timeoutMs: 5_000, msgId: 'payment-1' });
    const again = await publishToStream(nc, 'orders.b', bytes('once'), { timeoutMs: 5_000, msgId: 'payment-1' });
    expect(first.duplicate).toBe(false);
    expect(again).toEqual({ stream: 'ORDERS', seq: first.seq, duplicate: true });
  });

  it('creates a subject\'s first message only: a second is refused with the wrong-last-sequence code', async () => {
    await publishToStream(nc, 'orders.c', bytes('one'), { timeoutMs: 5_000, expectedLastSubjectSequence: 0 });
    const refused = publishToStream(nc, 'orders.c', bytes('two'), { timeoutMs: 5_000, expectedLastSubjectSequence: 0 });
    await expect(refused).rejects.toBeInstanceOf(JetStreamApiError);
    await expect(refused).rejects.toMatchObject({ code: JetStreamApiCodes.StreamWrongLastSequence });
  });

  it('fails with a JetStreamError naming the subject when no stream stores it', async () => {
    const lost = publishToStream(nc, 'nowhere.d', bytes('x'), { timeoutMs: 5_000 });
    await expect(lost).rejects.toBeInstanceOf(JetStreamError);
    await expect(lost).rejects.toThrow('no stream stores nowhere.d');
  });

  it('writes a business record where the records bucket reads it, once', async () => {
    const records = await openBusinessRecords(nc);
    const record = { paymentId: 'T1:pay.1', terminalId: 'T1', action: 'open-gate', succeeded: true, detail: 'gate opened', executedUnixMs: 1n };
    await createBusinessRecord(nc, records, record);
    expect(await readBusinessRecord(records, record.paymentId)).toEqual(record);
    await expect(createBusinessRecord(nc, records, { ...record, detail: 'second' }))
      .rejects.toMatchObject({ code: JetStreamApiCodes.StreamWrongLastSequence });
    expect((await readBusinessRecord(records, record.paymentId))?.detail).toBe('gate opened');
  });
});

describe('parseStreamAck', () => {
  it('reads an acknowledgement, and refuses what is not one', () => {
    expect(parseStreamAck(bytes('{"stream":"S","seq":4}'))).toEqual({ stream: 'S', seq: 4, duplicate: false });
    expect(parseStreamAck(bytes('{"stream":"S","seq":4,"duplicate":true}')).duplicate).toBe(true);
    const apiError = () => parseStreamAck(bytes('{"error":{"code":503,"err_code":10077,"description":"maximum messages exceeded"}}'));
    expect(apiError).toThrow(JetStreamApiError);
    expect(apiError).toThrow('maximum messages exceeded');
    for (const text of ['', 'not json', 'null', '7', '{"stream":"","seq":1}', '{"stream":"S"}', '{"seq":1}']) {
      expect(() => parseStreamAck(bytes(text)), text).toThrow(JetStreamError);
    }
  });
});
