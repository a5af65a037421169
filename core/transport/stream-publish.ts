/**
 * A publish into a JetStream stream that waits for the stream's acknowledgement (a PubAck: the
 * message is stored), sent through the connection's request mux (request-mux.ts) rather than
 * nats.js's `js.publish`, whose request ends, answered or not, by building an error with a stack
 * that nobody reads (about 18 µs of the main thread per publish under load, two publishes per
 * payment: the business command and its record; docs/performance-history.md). The headers are
 * JetStream's (ADR-8 / the JetStream wire API) and the errors nats.js's, so callers tell a refused
 * write (`JetStreamApiError` and its code) from a timeout as they did with `js.publish`.
 */
import { JetStreamApiError, JetStreamError } from '@nats-io/jetstream';
import { headers as natsHeaders, type MsgHdrs, type NatsConnection } from '@nats-io/transport-node';
import { isNoResponders } from './nats-errors.js';
import { requestMux } from './request-mux.js';

export interface StreamAck {
  readonly stream: string;
  readonly seq: number;
  /** The stream already held a message with this message id (within its duplicate window): nothing was stored. */
  readonly duplicate: boolean;
}

export interface StreamPublishOptions {
  readonly timeoutMs: number;
  /** The message id the stream deduplicates on within its duplicate window. */
  readonly msgId?: string;
  /**
   * The stream stores the message only if the last message on its subject has this sequence (0:
   * there is none yet), else refuses it with JetStreamApiError code 10071: a create-if-absent.
   */
  readonly expectedLastSubjectSequence?: number;
  /** Headers of the caller's own, to which these options' are added. */
  readonly headers?: MsgHdrs;
}

const MSG_ID_HEADER = 'Nats-Msg-Id';
const EXPECTED_LAST_SUBJECT_SEQUENCE_HEADER = 'Nats-Expected-Last-Subject-Sequence';
const decoder = new TextDecoder();

export async function publishToStream(nc: NatsConnection, subject: string, data: Uint8Array, options: StreamPublishOptions): Promise<StreamAck> {
  const headers = options.headers ?? natsHeaders();
  if (options.msgId !== undefined) headers.set(MSG_ID_HEADER, options.msgId);
  if (options.expectedLastSubjectSequence !== undefined) headers.set(EXPECTED_LAST_SUBJECT_SEQUENCE_HEADER, String(options.expectedLastSubjectSequence));
  try {
    return parseStreamAck((await requestMux(nc).request(subject, data, options.timeoutMs, headers)).data);
  } catch (error) {
    if (isNoResponders(error)) {
      throw new JetStreamError(`no stream stores ${subject} (JetStream not enabled, or the stream is missing)`, { cause: error });
    }
    throw error;
  }
}

/** A stream's answer to a publish: its acknowledgement, or the JetStream API error it refused the message with. */
export function parseStreamAck(data: Uint8Array): StreamAck {
  let value: { stream?: unknown; seq?: unknown; duplicate?: unknown; error?: { code: number; err_code?: number; description?: string } };
  try {
    value = JSON.parse(decoder.decode(data)) as typeof value;
  } catch (error) {
    throw new JetStreamError('the stream\'s acknowledgement is not JSON', { cause: error });
  }
  if (typeof value !== 'object' || value === null) throw new JetStreamError('invalid ack response');
  if (typeof value.error === 'object' && value.error !== null) {
    throw new JetStreamApiError({ code: value.error.code, err_code: value.error.err_code ?? 0, description: value.error.description ?? 'stream refused the message' });
  }
  if (typeof value.stream !== 'string' || value.stream === '' || typeof value.seq !== 'number') throw new JetStreamError('invalid ack response');
  return { stream: value.stream, seq: value.seq, duplicate: value.duplicate === true };
}
