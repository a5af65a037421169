/** The record of each business execution, one KV entry per payment id. */
import type { KV } from '@nats-io/kv';
import { BusinessRecord } from '../../proto/gen/biopay/v1/business.js';
import { recordKey } from './subjects.js';
import { encodeMessage } from '../protobuf.js';

export async function readBusinessRecord(records: KV, paymentId: string): Promise<BusinessRecord | undefined> {
  const entry = await records.get(recordKey(paymentId));
  return entry && entry.length > 0 ? BusinessRecord.decode(entry.value) : undefined;
}

/** Records the first execution; throws when one is already recorded (the caller reads it then). */
export async function createBusinessRecord(records: KV, record: BusinessRecord): Promise<void> {
  await records.create(recordKey(record.paymentId), encodeMessage(BusinessRecord, record));
}
