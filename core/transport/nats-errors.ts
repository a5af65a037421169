/**
 * What a nats.js error means, whatever shape it comes in: nats.js wraps its errors (a timeout or
 * "no responders" arrives as the cause of a RequestError, a JetStream API refusal as a
 * JetStreamApiError), so callers ask these questions instead of matching messages.
 */
import { JetStreamApiError } from '@nats-io/jetstream';
import { NoRespondersError, RequestError, TimeoutError } from '@nats-io/transport-node';

/** Causes followed at most: nats.js nests two or three deep. */
const CAUSE_DEPTH_MAX = 4;

/** JetStream API status for "JetStream system temporarily unavailable" (no meta or stream leader yet). */
const JETSTREAM_UNAVAILABLE_STATUS = 503;

/** True when the error or one of its causes (bounded depth) is an instance of the class. */
export function hasCause(error: unknown, type: abstract new (...args: never[]) => Error): boolean {
  return causeWhere(error, (cause) => cause instanceof type) !== undefined;
}

/** The request reached no subscriber (nats.js says so in one of two shapes). */
export function isNoResponders(error: unknown): boolean {
  return hasCause(error, NoRespondersError) || (error instanceof RequestError && error.isNoResponders());
}

export function isTimeout(error: unknown): boolean {
  return hasCause(error, TimeoutError);
}

/**
 * JetStream could not answer yet, and the same call may succeed a moment later: a cluster that has
 * just formed is still electing leaders (503), a busy server answers after the client gave up
 * (timeout), or the API has no responder yet.
 */
export function isJetStreamSettling(error: unknown): boolean {
  if (isJetStreamDisabled(error)) return false;
  if (isTimeout(error) || isNoResponders(error)) return true;
  return causeWhere(error, (cause) => cause instanceof JetStreamApiError && cause.status === JETSTREAM_UNAVAILABLE_STATUS) !== undefined;
}

/**
 * JetStream is off: the server runs without it, or the account has none (nats.js's check of the
 * account found no JetStream API, or the API said so). Its error class is not exported by
 * @nats-io/jetstream, so it is known by the name nats.js gives it.
 */
export function isJetStreamDisabled(error: unknown): boolean {
  return causeWhere(error, (cause) => cause.name === 'JetStreamNotEnabled') !== undefined;
}

/** The error itself or the first of its causes (bounded depth) that passes the test. */
function causeWhere(error: unknown, test: (cause: Error) => boolean): Error | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < CAUSE_DEPTH_MAX && current instanceof Error; depth++) {
    if (test(current)) return current;
    current = current.cause;
  }
  return undefined;
}
