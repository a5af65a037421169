/**
 * A sensor simulator: publishes the events a real terminal's sensor array would for one touch
 * (fingerprint readings of varying quality from an ISO/IEC 19794-2 record, optionally a face
 * embedding) and waits for the payment result the terminal node publishes.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { Modality, SensorEvent } from '../../proto/gen/biopay/v1/biometrics.js';
import type { Money } from '../../proto/gen/biopay/v1/common.js';
import { PaymentResult } from '../../proto/gen/biopay/v1/payment.js';
import { BiopayError, ErrorCode } from '../errors.js';
import { paymentResultSubject, sensorSubject } from './subjects.js';
import { encodeMessage } from '../protobuf.js';

export interface Touch {
  readonly terminalId: string;
  readonly sessionId: string;
  readonly isoTemplate: Uint8Array;
  readonly amount: Money;
  readonly hint?: string;
  /** A face embedding read alongside the finger, when the terminal has a camera. */
  readonly faceEmbedding?: readonly number[];
}

/** Publishes the sensor events of one touch. */
export function publishTouch(nc: NatsConnection, touch: Touch): void {
  const subject = sensorSubject(touch.terminalId);
  const capturedUnixMs = BigInt(Date.now());
  // One view of the caller's bytes for both readings: encoding copies them, nothing else needs to.
  const iso = Buffer.isBuffer(touch.isoTemplate)
    ? touch.isoTemplate : Buffer.from(touch.isoTemplate.buffer, touch.isoTemplate.byteOffset, touch.isoTemplate.byteLength);
  const fingerprint = { $case: 'isoTemplate' as const, value: iso };
  const face = touch.faceEmbedding;
  // A real sensor reports a first, weaker reading and a better one as the finger settles.
  nc.publish(subject, encodeMessage(SensorEvent, reading(touch, capturedUnixMs, 'finger-0', Modality.MODALITY_FINGERPRINT, 40, fingerprint, false)));
  nc.publish(subject, encodeMessage(SensorEvent, reading(touch, capturedUnixMs, 'finger-0', Modality.MODALITY_FINGERPRINT, 80, fingerprint, face === undefined)));
  if (face) {
    const embedding = { $case: 'embedding' as const, value: { values: [...face] } };
    nc.publish(subject, encodeMessage(SensorEvent, reading(touch, capturedUnixMs, 'camera-0', Modality.MODALITY_FACE, 70, embedding, true)));
  }
}

/**
 * One reading, every field written out: a spread of shared fields followed by the reading's own
 * takes V8's slow path (about 1 µs a property on Node 20), and the load tool sends two per touch.
 */
function reading(
  touch: Touch, capturedUnixMs: bigint, sensorId: string, modality: Modality, quality: number, features: SensorEvent['features'], last: boolean,
): SensorEvent {
  return {
    terminalId: touch.terminalId, sessionId: touch.sessionId, sensorId, modality, features, quality, liveness: 95,
    capturedUnixMs, amount: touch.amount, hint: touch.hint ?? '', last,
  };
}

/** Publishes a touch and resolves with its payment result (or TIMEOUT). */
export async function touchAndWait(nc: NatsConnection, touch: Touch, timeoutMs: number): Promise<PaymentResult> {
  const paymentId = `${touch.terminalId}:${touch.sessionId}`;
  const subscription = nc.subscribe(paymentResultSubject(touch.terminalId), { timeout: timeoutMs });
  try {
    publishTouch(nc, touch);
    for await (const message of subscription) {
      const result = PaymentResult.decode(message.data);
      if (result.paymentId === paymentId) return result;
    }
  } catch (error) {
    throw new BiopayError(ErrorCode.Timeout, `no payment result for ${paymentId} within ${timeoutMs} ms`, { cause: error });
  } finally {
    subscription.unsubscribe();
  }
  throw new BiopayError(ErrorCode.Timeout, `no payment result for ${paymentId} within ${timeoutMs} ms`);
}
