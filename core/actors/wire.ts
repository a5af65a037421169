/**
 * Encoding of actor messages on NATS: an ActorEnvelope carries the request, an ActorReply carries
 * either the response or an ErrorDetail. Every decoding failure becomes MALFORMED_MESSAGE.
 */
import { ActorEnvelope, ActorReply } from '../../proto/gen/biopay/v1/actor.js';
import { BiopayError, ErrorCode } from '../errors.js';
import type { Codec } from './types.js';
import { encodeMessage } from '../protobuf.js';

export function encodePayload<T>(codec: Codec<T>, message: T, what: string): Buffer {
  try {
    return asBuffer(encodeMessage(codec, message));
  } catch (error) {
    throw new BiopayError(ErrorCode.BadRequest, `${what}: message cannot be encoded`, { cause: error });
  }
}

export function decodePayload<T>(codec: Codec<T>, bytes: Uint8Array, what: string): T {
  try {
    return codec.decode(bytes);
  } catch (error) {
    throw new BiopayError(ErrorCode.MalformedMessage, `${what}: payload is not a valid message`, { cause: error });
  }
}

export function encodeEnvelope(envelope: ActorEnvelope): Uint8Array {
  return encodeMessage(ActorEnvelope, envelope);
}

/** An envelope without kind or method is as useless as undecodable bytes. */
export function decodeEnvelope(bytes: Uint8Array): ActorEnvelope {
  const envelope = decodePayload(ActorEnvelope, bytes, 'actor envelope');
  if (!envelope.kind || !envelope.method) {
    throw new BiopayError(ErrorCode.MalformedMessage, 'actor envelope: kind and method are required');
  }
  if (envelope.deadlineUnixMs < 0n || envelope.deadlineUnixMs > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new BiopayError(ErrorCode.MalformedMessage, 'actor envelope: deadline out of range');
  }
  return envelope;
}

export function encodeReplyPayload(payload: Buffer): Uint8Array {
  return encodeMessage(ActorReply, { result: { $case: 'payload', value: payload } });
}

export function encodeReplyError(error: BiopayError): Uint8Array {
  return encodeMessage(ActorReply, { result: { $case: 'error', value: error.toDetail() } });
}

/** The response, or the callee's error rethrown as a BiopayError. */
export function decodeReply<T>(codec: Codec<T>, bytes: Uint8Array, what: string): T {
  const reply = decodePayload(ActorReply, bytes, `${what} reply`);
  switch (reply.result?.$case) {
    case 'payload':
      return decodePayload(codec, reply.result.value, `${what} response`);
    case 'error':
      throw BiopayError.fromDetail(reply.result.value);
    default:
      throw new BiopayError(ErrorCode.MalformedMessage, `${what} reply: neither payload nor error`);
  }
}

/**
 * What is wrong with a message that would exceed the connection's payload limit (NATS's
 * max_payload, 1 MiB by default), or undefined when it fits: said at once and by its size, rather
 * than as a failed publish or, for a reply, as the caller's timeout. Called for every remote ask
 * and reply: the text is built only when the message does not fit.
 */
export function payloadOverflow(
  bytes: Uint8Array, maxPayloadBytes: number | undefined, kind: string, method: string, part: 'request' | 'reply',
): string | undefined {
  if (maxPayloadBytes === undefined || bytes.byteLength <= maxPayloadBytes) return undefined;
  return `${kind}.${method} ${part}: ${bytes.byteLength} bytes exceed the NATS max payload of ${maxPayloadBytes} bytes`;
}

/** A Buffer view of the same bytes (the generated envelope types want Buffer). */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
