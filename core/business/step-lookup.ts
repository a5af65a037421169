/**
 * The ledger's question at a hold's expiry, answered from the business records bucket: did this
 * payment's business step run? (expiry.ts in core/ledger says why it asks.) A record that says the
 * step succeeded is a yes; a failed record, or none at all, is a no: by a hold's expiry the
 * command's deadline is long past, and the business node never executes after it. A read that
 * fails leaves its payment out of the answer, so the hold waits for a later sweep.
 */
import type { KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type { BusinessStepLookup } from '../ledger/index.js';
import { isJetStreamDisabled } from '../transport/nats-errors.js';
import { readBusinessRecord } from './records.js';
import { openBusinessRecords } from './setup.js';

/** Record reads in flight at once: a sweep of a thousand due holds must not flood JetStream. */
const RECORD_READS_IN_FLIGHT_MAX = 32;

/** Tells why some payments were left out of an answer (say, to log it). */
export type StepLookupTrouble = (what: string, error: unknown) => void;

/**
 * Opens the records bucket on first use (creating it if no business node has yet), so that an
 * account node starts without waiting for JetStream. Without JetStream there is no business tier:
 * nothing ran, every hold is released as before.
 */
export function businessStepsFromRecords(nc: NatsConnection, onTrouble: StepLookupTrouble = () => undefined): BusinessStepLookup {
  let records: Promise<KV | 'no business tier'> | undefined;
  const open = (): Promise<KV | 'no business tier'> => {
    // One try per sweep: the next sweep tries again, and stopping the node never waits on retries.
    records ??= openBusinessRecords(nc, undefined, 1).catch((error: unknown) => {
      records = undefined;
      if (isJetStreamDisabled(error)) return 'no business tier';
      throw error;
    });
    return records;
  };
  return async (paymentIds) => {
    let bucket: KV | 'no business tier';
    try {
      bucket = await open();
    } catch (error) {
      onTrouble('business records bucket', error);
      return new Map();
    }
    if (bucket === 'no business tier') return new Map(paymentIds.map((paymentId) => [paymentId, false]));
    return readSteps(bucket, paymentIds, onTrouble);
  };
}

async function readSteps(records: KV, paymentIds: readonly string[], onTrouble: StepLookupTrouble): Promise<Map<string, boolean>> {
  const ran = new Map<string, boolean>();
  let failed = 0;
  let firstError: unknown;
  let from = 0;
  while (from < paymentIds.length) {
    const chunk = paymentIds.slice(from, from + RECORD_READS_IN_FLIGHT_MAX);
    from += chunk.length;
    const reads = await Promise.allSettled(chunk.map((paymentId) => readBusinessRecord(records, paymentId)));
    reads.forEach((read, index) => {
      if (read.status === 'fulfilled') ran.set(chunk[index]!, read.value?.succeeded === true);
      else if (failed++ === 0) firstError = read.reason;
    });
    // A chunk that failed whole means the bucket cannot be read now: the rest waits for the next
    // sweep instead of each read timing out in turn (a node stopping waits for its sweep).
    if (reads.every((read) => read.status === 'rejected')) break;
  }
  const unread = paymentIds.length - ran.size;
  // One report per sweep, however many reads failed: the cause is almost always the same.
  if (failed > 0) onTrouble(`${unread} of ${paymentIds.length} business records`, firstError);
  return ran;
}
