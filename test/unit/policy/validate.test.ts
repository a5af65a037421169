import { describe, expect, it } from 'vitest';
import { Period } from '../../../proto/gen/biopay/v1/ledger.js';
import type { SpendingPolicy } from '../../../proto/gen/biopay/v1/ledger.js';
import { POLICY_LIMITS, isUnrestricted, validatePolicy } from '../../../core/policy/index.js';
import { restricted, unrestricted } from './policy-fixtures.js';

const center = { latitudeDeg: 52.52, longitudeDeg: 13.405 };

describe('validatePolicy', () => {
  it.each<[string, SpendingPolicy]>([
    ['unrestricted default', unrestricted()],
    ['restricted without limits', restricted()],
    ['every restriction', restricted({
      maxPerPaymentMinor: 1000n,
      quotas: [{ period: Period.PERIOD_DAY, amountMinor: 3000n }, { period: Period.PERIOD_LIFETIME, amountMinor: 0n }],
      counts: [{ period: Period.PERIOD_WEEK, count: 0 }, { period: Period.PERIOD_MONTH, count: 0xffff_ffff }],
      places: [{ center, radiusM: 0.5 }, { center: { latitudeDeg: -90, longitudeDeg: 180 }, radiusM: POLICY_LIMITS.radiusMMax }],
      terminalIds: ['T1', 'T2'], merchantIds: ['M1'],
      windows: [{ days: 1, startMinute: 0, endMinute: 1439 }, { days: 127, startMinute: 1439, endMinute: 0 }],
      timeZone: 'America/New_York',
    })],
  ])('accepts %s', (_name, policy) => {
    expect(() => validatePolicy(policy)).not.toThrow();
  });

  it.each<[string, SpendingPolicy, RegExp]>([
    ['unrestricted with a maximum', { ...unrestricted(), maxPerPaymentMinor: 5n }, /unrestricted/],
    ['unrestricted with a quota', { ...unrestricted(), quotas: [{ period: Period.PERIOD_DAY, amountMinor: 5n }] }, /unrestricted/],
    ['unrestricted with a terminal', { ...unrestricted(), terminalIds: ['T1'] }, /unrestricted/],
    ['unrestricted with a zone', { ...unrestricted(), timeZone: 'UTC' }, /unrestricted/],
    ['a negative maximum', restricted({ maxPerPaymentMinor: -1n }), /maximum/],
    ['a maximum beyond int64', restricted({ maxPerPaymentMinor: 2n ** 63n }), /maximum/],
    ['a negative quota', restricted({ quotas: [{ period: Period.PERIOD_DAY, amountMinor: -1n }] }), /quota/],
    ['an unspecified quota period', restricted({ quotas: [{ period: Period.PERIOD_UNSPECIFIED, amountMinor: 1n }] }), /period/],
    ['an unrecognized count period', restricted({ counts: [{ period: Period.UNRECOGNIZED, count: 1 }] }), /period/],
    ['two daily quotas', restricted({ quotas: [{ period: Period.PERIOD_DAY, amountMinor: 1n }, { period: Period.PERIOD_DAY, amountMinor: 2n }] }), /two day quotas/],
    ['two weekly counts', restricted({ counts: [{ period: Period.PERIOD_WEEK, count: 1 }, { period: Period.PERIOD_WEEK, count: 2 }] }), /two week/],
    ['a negative count', restricted({ counts: [{ period: Period.PERIOD_DAY, count: -1 }] }), /count/],
    ['a fractional count', restricted({ counts: [{ period: Period.PERIOD_DAY, count: 1.5 }] }), /count/],
    ['a count beyond uint32', restricted({ counts: [{ period: Period.PERIOD_DAY, count: 2 ** 32 }] }), /count/],
    ['a place without center', restricted({ places: [{ center: undefined, radiusM: 5 }] }), /center/],
    ['a latitude beyond 90', restricted({ places: [{ center: { latitudeDeg: 90.1, longitudeDeg: 0 }, radiusM: 5 }] }), /center/],
    ['a NaN longitude', restricted({ places: [{ center: { latitudeDeg: 0, longitudeDeg: Number.NaN }, radiusM: 5 }] }), /center/],
    ['a zero radius', restricted({ places: [{ center, radiusM: 0 }] }), /radius/],
    ['a negative radius', restricted({ places: [{ center, radiusM: -3 }] }), /radius/],
    ['an infinite radius', restricted({ places: [{ center, radiusM: Number.POSITIVE_INFINITY }] }), /radius/],
    ['too many places', restricted({ places: Array.from({ length: POLICY_LIMITS.placesMax + 1 }, () => ({ center, radiusM: 1 })) }), /at most/],
    ['an empty terminal id', restricted({ terminalIds: [''] }), /terminal id/],
    ['a blank merchant id', restricted({ merchantIds: ['  '] }), /merchant id/],
    ['a terminal listed twice', restricted({ terminalIds: ['T1', 'T1'] }), /twice/],
    ['too many terminals', restricted({ terminalIds: Array.from({ length: POLICY_LIMITS.idsMax + 1 }, (_, i) => `T${i}`) }), /at most/],
    ['an overlong terminal id', restricted({ terminalIds: ['x'.repeat(POLICY_LIMITS.idLengthMax + 1)] }), /terminal id/],
    ['a window without days', restricted({ windows: [{ days: 0, startMinute: 0, endMinute: 60 }] }), /days mask/],
    ['a days mask beyond Sunday', restricted({ windows: [{ days: 128, startMinute: 0, endMinute: 60 }] }), /days mask/],
    ['a start minute of 1440', restricted({ windows: [{ days: 1, startMinute: 1440, endMinute: 60 }] }), /minutes/],
    ['an end minute of 1440', restricted({ windows: [{ days: 1, startMinute: 0, endMinute: 1440 }] }), /minutes/],
    ['a fractional minute', restricted({ windows: [{ days: 1, startMinute: 0.5, endMinute: 60 }] }), /minutes/],
    ['too many windows', restricted({ windows: Array.from({ length: POLICY_LIMITS.windowsMax + 1 }, () => ({ days: 1, startMinute: 0, endMinute: 1 })) }), /at most/],
    ['an unknown time zone', restricted({ timeZone: 'Europe/Atlantis' }), /time zone/],
  ])('refuses %s with BAD_REQUEST', (_name, policy, message) => {
    expect(() => validatePolicy(policy)).toThrow(expect.objectContaining({ code: 'BAD_REQUEST', message: expect.stringMatching(message) }));
  });
});

describe('isUnrestricted', () => {
  it('is the class, not the limits', () => {
    expect(isUnrestricted(unrestricted())).toBe(true);
    expect(isUnrestricted(restricted())).toBe(false);
    expect(isUnrestricted(restricted({ maxPerPaymentMinor: 5n }))).toBe(false);
  });

  it('treats a missing policy as the proto3 default, unrestricted', () => {
    expect(isUnrestricted(undefined)).toBe(true);
  });
});
