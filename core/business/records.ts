/** The record of each business execution, one KV entry per payment id. */
import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { BusinessRecord } from '../../proto/gen/biopay/v1/business.js';
import { publishToStream } from '../transport/stream-publish.js';
import { BUSINESS_RECORDS_TIMEOUT_MS } from './setup.js';
import { recordKey, recordSubject } from './subjects.js';
import { encodeMessage } from '../protobuf.js';

export async function readBusinessRecord(records: KV, paymentId: string): Promise<BusinessRecord | undefined> {
  const entry = await records.get(recordKey(paymentId));
  return entry && entry.length > 0 ? BusinessRecord.decode(entry.value) : undefined;
}

/**
 * Records the first execution; throws JetStreamApiError (code StreamWrongLastSequence) when one is
 * already recorded (the caller reads it then). The write is the bucket's create-if-absent, sent
 * through the connection's request mux (stream-publish.ts): one per payment. Only when the key
 * has an entry does the bucket's own `create` decide, which also takes the place of a deleted one.
 */
export async function createBusinessRecord(nc: NatsConnection, records: KV, record: BusinessRecord): Promise<void> {
  const data = encodeMessage(BusinessRecord, record);
  try {
    await publishToStream(nc, recordSubject(record.paymentId), data, { expectedLastSubjectSequence: 0, timeoutMs: BUSINESS_RECORDS_TIMEOUT_MS });
  } catch (error) {
    if (!(error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamWrongLastSequence)) throw error;
    await records.create(recordKey(record.paymentId), data);
  }
}
