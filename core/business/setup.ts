/**
 * Creates (idempotently) the JetStream stream, durable consumer and KV bucket of the business tier.
 * Every node that touches them calls this at start, so the order nodes start in does not matter.
 */
import { AckPolicy, jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { nanos, type NatsConnection } from '@nats-io/transport-node';
import {
  BUSINESS_CONSUMER, BUSINESS_DUPLICATE_WINDOW_MS, BUSINESS_RECORDS_BUCKET, BUSINESS_STREAM,
  BUSINESS_STREAM_MESSAGES_MAX,
} from './subjects.js';
import { addIgnoringRace, setUpJetStream, type JetStreamSetupRetry } from '../transport/jetstream-setup.js';
import { streamReplicas } from '../transport/replicas.js';

/** A command unacknowledged this long is redelivered (the executing node died). */
const BUSINESS_ACK_WAIT_MS = 10_000;
/** Commands in flight on one consumer at most: bounds the work a slow device can pile up. */
export const BUSINESS_ACK_PENDING_MAX = 1_000;
const BUSINESS_DELIVERIES_MAX = 5;

export function ensureBusinessStream(nc: NatsConnection, onRetry?: JetStreamSetupRetry): Promise<JetStreamManager> {
  return setUpJetStream(`business stream ${BUSINESS_STREAM}`, () => addBusinessStream(nc), { onRetry });
}

async function addBusinessStream(nc: NatsConnection): Promise<JetStreamManager> {
  const jsm = await jetstreamManager(nc);
  const config = {
    name: BUSINESS_STREAM,
    subjects: ['biopay.business.command.>'],
    max_msgs: BUSINESS_STREAM_MESSAGES_MAX,
    duplicate_window: nanos(BUSINESS_DUPLICATE_WINDOW_MS),
    num_replicas: streamReplicas(),
  };
  try {
    await jsm.streams.info(BUSINESS_STREAM);
  } catch {
    await addIgnoringRace(() => jsm.streams.add(config));
  }
  await addIgnoringRace(() =>
    jsm.consumers.add(BUSINESS_STREAM, {
      durable_name: BUSINESS_CONSUMER,
      ack_policy: AckPolicy.Explicit,
      ack_wait: nanos(BUSINESS_ACK_WAIT_MS),
      max_ack_pending: BUSINESS_ACK_PENDING_MAX,
      max_deliver: BUSINESS_DELIVERIES_MAX,
    }),
  );
  return jsm;
}

/**
 * The longest one operation on the records may take (nats.js's default is 5 s): a business step
 * waits 3 s in all, and an answer that comes after it is useless to the terminal.
 */
export const BUSINESS_RECORDS_TIMEOUT_MS = 2_000;

/** `attemptsMax`: tries while JetStream settles (setUpJetStream's default when not given). */
export async function openBusinessRecords(nc: NatsConnection, onRetry?: JetStreamSetupRetry, attemptsMax?: number): Promise<KV> {
  // Writes go through the JetStream client's timeout, reads through the bucket's: both bounded.
  const js = jetstream(nc, { timeout: BUSINESS_RECORDS_TIMEOUT_MS });
  return setUpJetStream(`business records (bucket ${BUSINESS_RECORDS_BUCKET})`, () =>
    new Kvm(js).create(BUSINESS_RECORDS_BUCKET, { history: 1, replicas: streamReplicas(), timeout: BUSINESS_RECORDS_TIMEOUT_MS }),
    { onRetry, attemptsMax },
  );
}
