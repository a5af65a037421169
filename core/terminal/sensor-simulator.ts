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
  const base = {
    terminalId: touch.terminalId, sessionId: touch.sessionId, liveness: 95, last: false,
    capturedUnixMs: BigInt(Date.now()), amount: touch.amount, hint: touch.hint ?? '',
  };
  // One view of the caller's bytes for both readings: encoding copies them, nothing else needs to.
  const iso = Buffer.isBuffer(touch.isoTemplate)
    ? touch.isoTemplate : Buffer.from(touch.isoTemplate.buffer, touch.isoTemplate.byteOffset, touch.isoTemplate.byteLength);
  // A real sensor reports a first, weaker reading and a better one as the finger settles.
  const readings: SensorEvent[] = [
    { ...base, sensorId: 'finger-0', modality: Modality.MODALITY_FINGERPRINT, quality: 40, features: { $case: 'isoTemplate', value: iso } },
    { ...base, sensorId: 'finger-0', modality: Modality.MODALITY_FINGERPRINT, quality: 80, features: { $case: 'isoTemplate', value: iso } },
  ];
  if (touch.faceEmbedding) {
    readings.push({ ...base, sensorId: 'camera-0', modality: Modality.MODALITY_FACE, quality: 70,
      features: { $case: 'embedding', value: { values: [...touch.faceEmbedding] } } });
  }
  readings[readings.length - 1] = { ...readings[readings.length - 1]!, last: true };
  for (const reading of readings) nc.publish(subject, SensorEvent.encode(reading).finish());
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
