import { describe, expect, it } from 'vitest';
import { Modality, SensorEvent } from '../../../proto/gen/biopay/v1/biometrics.js';
import { PaymentOutcome, PaymentResult } from '../../../proto/gen/biopay/v1/payment.js';
import { encodeMessage } from '../../../core/protobuf.js';

function sensorEvent(isoBytes: number, quality = 80): SensorEvent {
  return {
    terminalId: 'T1', sessionId: 's1', sensorId: 'finger-0', modality: Modality.MODALITY_FINGERPRINT, quality, liveness: 95, last: true,
    capturedUnixMs: 1_700_000_000_000n, amount: { amountMinor: 1234n, currency: 'EUR' }, hint: 'community-7',
    features: { $case: 'isoTemplate', value: Buffer.alloc(isoBytes, 7) },
  };
}

const result: PaymentResult = {
  paymentId: 'T1:s1', outcome: PaymentOutcome.PAYMENT_OUTCOME_APPROVED, refusals: [], accountId: 'acct-1', credentialId: 'cred-1',
  amount: { amountMinor: 1234n, currency: 'EUR' }, matchScore: 0.9, timings: undefined, candidatesCompared: 150,
};

describe('encodeMessage (one reused writer)', () => {
  it('gives the bytes a fresh writer gives, message after message of different types and sizes', () => {
    for (const size of [0, 10, 300, 5_000, 300]) {
      expect(encodeMessage(SensorEvent, sensorEvent(size))).toEqual(SensorEvent.encode(sensorEvent(size)).finish());
      expect(encodeMessage(PaymentResult, result)).toEqual(PaymentResult.encode(result).finish());
    }
  });

  it('returns arrays of their own: a later message does not change an earlier one', () => {
    const first = encodeMessage(SensorEvent, sensorEvent(300));
    const copy = Uint8Array.from(first);
    encodeMessage(SensorEvent, sensorEvent(300, 11));
    expect(first).toEqual(copy);
    expect(SensorEvent.decode(first).quality).toBe(80);
  });

  it('leaves nothing of a message that failed half-way for the next one', () => {
    // quality is a uint32: the writer refuses -1 after writing the fields before it.
    expect(() => encodeMessage(SensorEvent, sensorEvent(300, -1))).toThrow(/uint32/);
    expect(encodeMessage(PaymentResult, result)).toEqual(PaymentResult.encode(result).finish());
  });

  it('encodes a message larger than the writer keeps, and small ones after it, correctly', () => {
    const large = sensorEvent(200_000);
    expect(SensorEvent.decode(encodeMessage(SensorEvent, large)).features).toEqual(large.features);
    expect(encodeMessage(SensorEvent, sensorEvent(10))).toEqual(SensorEvent.encode(sensorEvent(10)).finish());
  });
});
