/**
 * Invariants of checkPolicy over random policies, payments and usage. An independent oracle
 * (written from the rules, not from core/policy/check.ts) says which restrictions a payment
 * breaks; checkPolicy must name exactly those.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Period } from '../../../proto/gen/biopay/v1/ledger.js';
import type { GeoPoint } from '../../../proto/gen/biopay/v1/common.js';
import type { PaymentContext, SpendingPolicy } from '../../../proto/gen/biopay/v1/ledger.js';
import type { PolicyCheckInput, PolicyUsage } from '../../../core/policy/index.js';
import { checkPolicy, distanceM, validatePolicy } from '../../../core/policy/index.js';
import { ALL_PERIODS, restricted, uniqueByPeriod } from './policy-fixtures.js';

const CODE_SUFFIX = new Map<Period, string>([
  [Period.PERIOD_DAY, 'DAY'], [Period.PERIOD_WEEK, 'WEEK'], [Period.PERIOD_MONTH, 'MONTH'], [Period.PERIOD_LIFETIME, 'LIFETIME'],
]);
const TERMINALS = ['T1', 'T2', 'T3'];
const MERCHANTS = ['M1', 'M2'];
const CENTERS: GeoPoint[] = [{ latitudeDeg: 52.52, longitudeDeg: 13.405 }, { latitudeDeg: 40.7128, longitudeDeg: -74.006 }];
const ZONES = ['', 'UTC', 'Europe/Berlin', 'America/New_York', 'Asia/Kathmandu'];

const period = fc.constantFrom(...ALL_PERIODS);

const policyArb: fc.Arbitrary<SpendingPolicy> = fc.record({
  maxPerPaymentMinor: fc.oneof(fc.constant(0n), fc.bigInt({ min: 1n, max: 5000n })),
  quotas: fc.array(fc.record({ period, amountMinor: fc.bigInt({ min: 0n, max: 20_000n }) }), { maxLength: 4 }).map(uniqueByPeriod),
  counts: fc.array(fc.record({ period, count: fc.integer({ min: 0, max: 10 }) }), { maxLength: 4 }).map(uniqueByPeriod),
  places: fc.array(fc.record({ center: fc.constantFrom(...CENTERS), radiusM: fc.integer({ min: 1, max: 5000 }) }), { maxLength: 2 }),
  terminalIds: fc.subarray(TERMINALS),
  merchantIds: fc.subarray(MERCHANTS),
  windows: fc.array(fc.record({
    days: fc.integer({ min: 1, max: 127 }), startMinute: fc.integer({ min: 0, max: 1439 }), endMinute: fc.integer({ min: 0, max: 1439 }),
  }), { maxLength: 3 }),
  timeZone: fc.constantFrom(...ZONES),
}).map((fields) => ({ restricted: true, ...fields }));

// Locations within about 10 km of a center, so both sides of the fences are hit; sometimes none.
const locationArb: fc.Arbitrary<GeoPoint | undefined> = fc.option(
  fc.tuple(fc.constantFrom(...CENTERS), fc.double({ min: -0.09, max: 0.09, noNaN: true }), fc.double({ min: -0.09, max: 0.09, noNaN: true }))
    .map(([c, dLat, dLon]) => ({ latitudeDeg: c.latitudeDeg + dLat, longitudeDeg: c.longitudeDeg + dLon })),
  { freq: 8, nil: undefined },
);

const contextArb: fc.Arbitrary<PaymentContext> = fc.record({
  terminalId: fc.constantFrom(...TERMINALS, 'T9'),
  merchantId: fc.constantFrom(...MERCHANTS, 'M9'),
  location: locationArb,
  atUnixMs: fc.integer({ min: Date.UTC(2025, 0, 1), max: Date.UTC(2028, 0, 1) }).map(BigInt),
});

const usageArb: fc.Arbitrary<PolicyUsage> = fc.tuple(
  fc.array(fc.bigInt({ min: 0n, max: 25_000n }), { minLength: 4, maxLength: 4 }),
  fc.array(fc.integer({ min: 0, max: 12 }), { minLength: 4, maxLength: 4 }),
).map(([amounts, counts]) => ({
  amountMinorByPeriod: new Map(ALL_PERIODS.map((p, i) => [p, amounts[i]!])),
  countByPeriod: new Map(ALL_PERIODS.map((p, i) => [p, counts[i]!])),
}));


const inputArb: fc.Arbitrary<PolicyCheckInput> = fc.record({
  policy: policyArb,
  amountMinor: fc.bigInt({ min: 1n, max: 8000n }),
  currency: fc.constant('EUR'),
  context: contextArb,
  accountTimeZone: fc.constantFrom(...ZONES),
  usage: usageArb,
});

/** Local weekday (0 = Monday) and minute of day, by a different route than core: en-GB strings. */
const oracleFormatters = new Map<string, Intl.DateTimeFormat>();
function localWeekMinute(atUnixMs: number, zone: string): [number, number] {
  let formatter = oracleFormatters.get(zone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat('en-GB', { timeZone: zone || 'UTC', weekday: 'long', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    oracleFormatters.set(zone, formatter);
  }
  const text = formatter.format(atUnixMs);
  const [weekdayName, time] = text.split(' ');
  const weekday = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'].indexOf(weekdayName!);
  const [hour, minute] = time!.split(':').map(Number);
  return [weekday, hour! * 60 + minute!];
}

/** A week as 7 * 1440 minutes starting Monday 00:00; windows as minute intervals on it. */
function oracleInWindows(policy: SpendingPolicy, atUnixMs: number, accountZone: string): boolean {
  const [weekday, minute] = localWeekMinute(atUnixMs, policy.timeZone || accountZone);
  const weekMinute = weekday * 1440 + minute;
  return policy.windows.some((w) => {
    const length = w.endMinute > w.startMinute ? w.endMinute - w.startMinute : 1440 - w.startMinute + w.endMinute;
    for (let day = 0; day < 7; day += 1) {
      if ((w.days & (1 << day)) === 0) continue;
      const from = day * 1440 + w.startMinute;
      // Modulo the week: Sunday night windows continue into Monday.
      if ((weekMinute - from + 7 * 1440) % (7 * 1440) < length) return true;
    }
    return false;
  });
}

function oracle(input: PolicyCheckInput): Set<string> {
  const { policy, amountMinor, usage, context } = input;
  const broken = new Set<string>();
  if (policy.maxPerPaymentMinor > 0n && amountMinor > policy.maxPerPaymentMinor) broken.add('MAX_PER_PAYMENT');
  for (const q of policy.quotas) if (usage.amountMinorByPeriod.get(q.period)! + amountMinor > q.amountMinor) broken.add(`QUOTA_${CODE_SUFFIX.get(q.period)}`);
  for (const c of policy.counts) if (usage.countByPeriod.get(c.period)! + 1 > c.count) broken.add(`COUNT_${CODE_SUFFIX.get(c.period)}`);
  if (policy.places.length > 0) {
    const location = context.location;
    if (!location || !policy.places.some((p) => distanceM(p.center!, location) <= p.radiusM)) broken.add('PLACE');
  }
  if (policy.terminalIds.length > 0 && !policy.terminalIds.includes(context.terminalId)) broken.add('TERMINAL');
  if (policy.merchantIds.length > 0 && !policy.merchantIds.includes(context.merchantId)) broken.add('MERCHANT');
  if (policy.windows.length > 0 && !oracleInWindows(policy, Number(context.atUnixMs), input.accountTimeZone)) broken.add('TIME_WINDOW');
  return broken;
}

/** The policy split into one policy per restriction (places, lists and windows as wholes). */
function singles(policy: SpendingPolicy): SpendingPolicy[] {
  const parts: SpendingPolicy[] = [];
  if (policy.maxPerPaymentMinor !== 0n) parts.push(restricted({ maxPerPaymentMinor: policy.maxPerPaymentMinor }));
  for (const quota of policy.quotas) parts.push(restricted({ quotas: [quota] }));
  for (const count of policy.counts) parts.push(restricted({ counts: [count] }));
  if (policy.places.length > 0) parts.push(restricted({ places: policy.places }));
  if (policy.terminalIds.length > 0) parts.push(restricted({ terminalIds: policy.terminalIds }));
  if (policy.merchantIds.length > 0) parts.push(restricted({ merchantIds: policy.merchantIds }));
  if (policy.windows.length > 0) parts.push(restricted({ windows: policy.windows, timeZone: policy.timeZone }));
  return parts;
}

const codes = (input: PolicyCheckInput): string[] => checkPolicy(input).map((r) => r.code);
const RUNS = { numRuns: 500 };

describe('checkPolicy properties', () => {
  it('generated policies are valid', () => {
    fc.assert(fc.property(policyArb, (policy) => { validatePolicy(policy); }), { numRuns: 200 });
  });

  it('names exactly the restrictions the oracle finds broken, each once, each with a sentence', () => {
    fc.assert(fc.property(inputArb, (input) => {
      const refusals = checkPolicy(input);
      const found = refusals.map((r) => r.code);
      expect(new Set(found).size).toBe(found.length);
      expect(new Set(found)).toEqual(oracle(input));
      for (const refusal of refusals) expect(refusal.message.length).toBeGreaterThan(10);
    }), RUNS);
  });

  it('refusals are the union, in order, of each restriction checked alone', () => {
    fc.assert(fc.property(inputArb, (input) => {
      const alone = singles(input.policy).flatMap((policy) => codes({ ...input, policy }));
      expect(codes(input)).toEqual(alone);
    }), RUNS);
  });

  it('adding a restriction never turns a refusal into an approval', () => {
    fc.assert(fc.property(inputArb, policyArb, (input, extra) => {
      const before = new Set(codes(input));
      const merged: SpendingPolicy = {
        ...input.policy,
        maxPerPaymentMinor: input.policy.maxPerPaymentMinor || extra.maxPerPaymentMinor,
        quotas: uniqueByPeriod([...input.policy.quotas, ...extra.quotas]),
        counts: uniqueByPeriod([...input.policy.counts, ...extra.counts]),
        places: input.policy.places.length > 0 ? input.policy.places : extra.places,
        terminalIds: input.policy.terminalIds.length > 0 ? input.policy.terminalIds : extra.terminalIds,
        merchantIds: input.policy.merchantIds.length > 0 ? input.policy.merchantIds : extra.merchantIds,
        windows: input.policy.windows.length > 0 ? input.policy.windows : extra.windows,
      };
      const after = new Set(codes({ ...input, policy: merged }));
      for (const code of before) expect(after.has(code)).toBe(true);
    }), RUNS);
  });

  it('quotas and counts are monotonic: more asked or more used never passes where less was refused', () => {
    fc.assert(fc.property(inputArb, fc.bigInt({ min: 0n, max: 5000n }), fc.integer({ min: 0, max: 5 }), (input, moreMinor, moreCount) => {
      const limitCodes = (i: PolicyCheckInput): string[] => codes(i).filter((c) => /^(QUOTA|COUNT|MAX)_/.test(c));
      const base = new Set(limitCodes(input));
      const bigger = { ...input, amountMinor: input.amountMinor + moreMinor };
      const busier: PolicyCheckInput = {
        ...input,
        usage: {
          amountMinorByPeriod: new Map([...input.usage.amountMinorByPeriod].map(([p, v]) => [p, v + moreMinor])),
          countByPeriod: new Map([...input.usage.countByPeriod].map(([p, v]) => [p, v + moreCount])),
        },
      };
      for (const code of base) {
        expect(limitCodes(bigger)).toContain(code);
        expect(limitCodes(busier)).toContain(code);
      }
    }), RUNS);
  });

  it('exactly what is left of a quota passes, one minor unit more is refused', () => {
    fc.assert(fc.property(period, fc.bigInt({ min: 1n, max: 10n ** 15n }), fc.bigInt({ min: 0n, max: 10n ** 15n }), (p, quotaMinor, usedMinor) => {
      fc.pre(usedMinor < quotaMinor);
      const policy = restricted({ quotas: [{ period: p, amountMinor: quotaMinor }] });
      const usage: PolicyUsage = { amountMinorByPeriod: new Map([[p, usedMinor]]), countByPeriod: new Map() };
      const base: PolicyCheckInput = {
        policy, amountMinor: quotaMinor - usedMinor, currency: 'EUR', accountTimeZone: 'UTC', usage,
        context: { terminalId: 'T1', merchantId: 'M1', location: undefined, atUnixMs: 0n },
      };
      expect(checkPolicy(base)).toEqual([]);
      expect(codes({ ...base, amountMinor: base.amountMinor + 1n })).toEqual([`QUOTA_${CODE_SUFFIX.get(p)}`]);
    }), RUNS);
  });

  it('does not change its input and answers the same twice', () => {
    fc.assert(fc.property(inputArb, (input) => {
      const snapshot = structuredClone(input);
      const first = checkPolicy(input);
      expect(checkPolicy(input)).toEqual(first);
      expect(input).toEqual(snapshot);
    }), { numRuns: 200 });
  });

  it('time windows repeat weekly: the same local time a week later gets the same answer (fixed-offset zones)', () => {
    const weekMs = 7 * 86_400_000;
    fc.assert(fc.property(inputArb, fc.constantFrom('UTC', 'Asia/Kathmandu'), fc.integer({ min: -50, max: 50 }), (input, zone, weeks) => {
      const policy = { ...input.policy, timeZone: zone };
      const windowed = (atUnixMs: bigint): boolean => codes({ ...input, policy, context: { ...input.context, atUnixMs } }).includes('TIME_WINDOW');
      expect(windowed(input.context.atUnixMs + BigInt(weeks * weekMs))).toBe(windowed(input.context.atUnixMs));
    }), RUNS);
  });

  it('an unrestricted policy never refuses', () => {
    fc.assert(fc.property(inputArb, (input) => {
      expect(checkPolicy({ ...input, policy: { ...input.policy, restricted: false } })).toEqual([]);
    }), { numRuns: 200 });
  });
});
