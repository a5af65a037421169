import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Period } from '../../../proto/gen/biopay/v1/ledger.js';
import type { SpendingPolicy } from '../../../proto/gen/biopay/v1/ledger.js';
import type { PolicyFlags } from '../../../core/policy/index.js';
import { describePolicy, parsePolicyFlags, policyToFlags, validatePolicy } from '../../../core/policy/index.js';
import { restricted, unrestricted, uniqueByPeriod } from './policy-fixtures.js';

const { PERIOD_DAY: DAY, PERIOD_WEEK: WEEK, PERIOD_MONTH: MONTH, PERIOD_LIFETIME: LIFETIME } = Period;
const parse = (flags: Omit<PolicyFlags, 'restricted'>, currency = 'EUR'): SpendingPolicy =>
  parsePolicyFlags({ restricted: true, ...flags }, currency);

describe('parsePolicyFlags: accepted forms', () => {
  it('the README example', () => {
    const policy = parse({
      quota: ['30.00/day'], count: ['5/day'], max: '10.00', place: ['52.52,13.405,150'], terminal: ['T1'],
      window: ['mon-fri@07:00-15:00'], tz: 'Europe/Berlin',
    });
    expect(policy).toEqual(restricted({
      maxPerPaymentMinor: 1000n,
      quotas: [{ period: DAY, amountMinor: 3000n }],
      counts: [{ period: DAY, count: 5 }],
      places: [{ center: { latitudeDeg: 52.52, longitudeDeg: 13.405 }, radiusM: 150 }],
      terminalIds: ['T1'],
      windows: [{ days: 0b11111, startMinute: 420, endMinute: 900 }],
      timeZone: 'Europe/Berlin',
    }));
  });

  it('no flags and not restricted: the unrestricted policy', () => {
    expect(parsePolicyFlags({ restricted: false }, 'EUR')).toEqual(unrestricted());
    expect(parsePolicyFlags({ restricted: false, quota: [], terminal: [] }, 'EUR')).toEqual(unrestricted());
  });

  it.each<[string, string, { period: Period; amountMinor: bigint }]>([
    ['30.00/day', 'EUR', { period: DAY, amountMinor: 3000n }],
    ['30/week', 'EUR', { period: WEEK, amountMinor: 3000n }],
    ['0.5/month', 'EUR', { period: MONTH, amountMinor: 50n }],
    ['100/lifetime', 'EUR', { period: LIFETIME, amountMinor: 10000n }],
    ['0/day', 'EUR', { period: DAY, amountMinor: 0n }],
    [' 12.5 / Day ', 'EUR', { period: DAY, amountMinor: 1250n }],
    ['5000/day', 'JPY', { period: DAY, amountMinor: 5000n }],
    ['1.234/day', 'KWD', { period: DAY, amountMinor: 1234n }],
  ])('--quota %s (%s)', (value, currency, quota) => {
    expect(parse({ quota: [value] }, currency).quotas).toEqual([quota]);
  });

  it.each<[string, { period: Period; count: number }]>([
    ['5/day', { period: DAY, count: 5 }], ['0/week', { period: WEEK, count: 0 }],
    ['4294967295/lifetime', { period: LIFETIME, count: 4294967295 }],
  ])('--count %s', (value, count) => {
    expect(parse({ count: [value] }).counts).toEqual([count]);
  });

  it.each<[string, number, number, number]>([
    ['mon-fri@07:00-15:00', 0b0011111, 420, 900],
    ['sat,sun@22:00-02:00', 0b1100000, 1320, 120],
    ['mon@00:00-24:00', 0b0000001, 0, 0],
    ['sun@23:30-00:00', 0b1000000, 1410, 0],
    ['fri-mon@7:05-9:00', 0b1110001, 425, 540],
    ['MON-SUN@12:00-12:00', 0b1111111, 720, 720],
    ['tue,thu,sat@08:00-08:01', 0b0101010, 480, 481],
    ['wed,wed@08:00-09:00', 0b0000100, 480, 540],
  ])('--window %s', (value, days, startMinute, endMinute) => {
    expect(parse({ window: [value] }).windows).toEqual([{ days, startMinute, endMinute }]);
  });

  it.each<[string, number, number, number]>([
    ['52.52,13.405,150', 52.52, 13.405, 150],
    ['-33.8688, 151.2093, 25.5', -33.8688, 151.2093, 25.5],
    ['+90,-180,1', 90, -180, 1],
  ])('--place %s', (value, latitudeDeg, longitudeDeg, radiusM) => {
    expect(parse({ place: [value] }).places).toEqual([{ center: { latitudeDeg, longitudeDeg }, radiusM }]);
  });

  it('--terminal and --merchant repeat and take comma lists', () => {
    const policy = parse({ terminal: ['T1', 'T2,T3'], merchant: ['canteen'] });
    expect(policy.terminalIds).toEqual(['T1', 'T2', 'T3']);
    expect(policy.merchantIds).toEqual(['canteen']);
  });

  it.each([['europe/berlin', 'Europe/Berlin'], [' US/Eastern ', 'America/New_York'], ['Etc/UTC', 'UTC']])('--tz %s is stored as %s', (tz, stored) => {
    expect(parse({ tz }).timeZone).toBe(stored);
  });

  it('several quotas, counts and windows together', () => {
    const policy = parse({ quota: ['5/day', '20/week'], count: ['3/day', '50/lifetime'], window: ['mon@08:00-09:00', 'fri@22:00-02:00'] });
    expect(policy.quotas.map((q) => q.period)).toEqual([DAY, WEEK]);
    expect(policy.counts.map((c) => c.period)).toEqual([DAY, LIFETIME]);
    expect(policy.windows).toHaveLength(2);
  });
});

describe('parsePolicyFlags: refused forms (BAD_REQUEST naming the flag)', () => {
  it.each<[string, Omit<PolicyFlags, 'restricted'>, RegExp]>([
    ['quota without period', { quota: ['30.00'] }, /--quota "30.00"/],
    ['quota with unknown period', { quota: ['30.00/year'] }, /--quota/],
    ['quota with too many decimals', { quota: ['30.001/day'] }, /--quota.*decimals/],
    ['negative quota', { quota: ['-5/day'] }, /--quota.*negative/],
    ['quota not a number', { quota: ['lots/day'] }, /--quota/],
    ['quota beyond int64', { quota: ['999999999999999999999/day'] }, /--quota/],
    ['two daily quotas', { quota: ['5/day', '6/day'] }, /two day quotas/],
    ['count with decimals', { count: ['2.5/day'] }, /--count/],
    ['negative count', { count: ['-1/day'] }, /--count/],
    ['count beyond uint32', { count: ['4294967296/day'] }, /count/],
    ['count without period', { count: ['5'] }, /--count/],
    ['max zero', { max: '0' }, /--max.*more than 0/],
    ['max negative', { max: '-1.00' }, /--max/],
    ['max not a number', { max: 'ten' }, /--max/],
    ['place with two numbers', { place: ['52.52,13.405'] }, /--place/],
    ['place with a word', { place: ['north,13.405,100'] }, /--place/],
    ['place with exponent', { place: ['1e1,13.405,100'] }, /--place/],
    ['place with Infinity', { place: ['0,0,Infinity'] }, /--place/],
    ['place with zero radius', { place: ['52.52,13.405,0'] }, /radius/],
    ['place latitude out of range', { place: ['91,13.405,10'] }, /center/],
    ['window without days', { window: ['@07:00-15:00'] }, /--window/],
    ['window without times', { window: ['mon-fri'] }, /--window/],
    ['window with unknown day', { window: ['monday@07:00-15:00'] }, /unknown day "monday"/],
    ['window with bad range', { window: ['mon-tue-wed@07:00-15:00'] }, /bad day range/],
    ['window with empty day', { window: ['mon,,tue@07:00-15:00'] }, /unknown day ""/],
    ['window with minute 60', { window: ['mon@07:60-15:00'] }, /bad time/],
    ['window starting at 24:00', { window: ['mon@24:00-01:00'] }, /bad time/],
    ['window ending at 24:01', { window: ['mon@01:00-24:01'] }, /bad time/],
    ['window with seconds', { window: ['mon@07:00:00-15:00'] }, /--window/],
    ['empty terminal', { terminal: ['T1,'] }, /terminal id/],
    ['terminal twice', { terminal: ['T1', 'T1'] }, /twice/],
    ['unknown time zone', { tz: 'Mars/Base' }, /time zone/],
    ['an offset instead of a zone', { tz: '+01:00' }, /time zone/],
  ])('%s', (_name, flags, message) => {
    expect(() => parse(flags)).toThrow(expect.objectContaining({ code: 'BAD_REQUEST', message: expect.stringMatching(message) }));
  });

  it.each<[string, Omit<PolicyFlags, 'restricted'>]>([
    ['quota', { quota: ['5/day'] }], ['count', { count: ['1/day'] }], ['max', { max: '1' }], ['place', { place: ['0,0,1'] }],
    ['terminal', { terminal: ['T1'] }], ['merchant', { merchant: ['M1'] }], ['window', { window: ['mon@00:00-24:00'] }], ['tz', { tz: 'UTC' }],
  ])('--%s without --restricted', (flag, flags) => {
    expect(() => parsePolicyFlags({ restricted: false, ...flags }, 'EUR')).toThrow(
      expect.objectContaining({ code: 'BAD_REQUEST', message: `--${flag} restricts the credential: add --restricted` }),
    );
  });

  it('refuses an invalid currency', () => {
    expect(() => parse({ quota: ['5/day'] }, 'euro')).toThrow(expect.objectContaining({ code: 'BAD_REQUEST' }));
  });
});

describe('policyToFlags round trip and describePolicy', () => {
  const period = fc.constantFrom(DAY, WEEK, MONTH, LIFETIME);
  const id = fc.stringMatching(/^[A-Za-z0-9_-]{1,12}$/);
  const policyArb = fc.record({
    maxPerPaymentMinor: fc.oneof(fc.constant(0n), fc.bigInt({ min: 1n, max: 10n ** 12n })),
    quotas: fc.array(fc.record({ period, amountMinor: fc.bigInt({ min: 0n, max: 10n ** 12n }) }), { maxLength: 4 }).map(uniqueByPeriod),
    counts: fc.array(fc.record({ period, count: fc.integer({ min: 0, max: 0xffff_ffff }) }), { maxLength: 4 }).map(uniqueByPeriod),
    places: fc.array(fc.record({
      center: fc.record({
        latitudeDeg: fc.integer({ min: -90_000_000, max: 90_000_000 }).map((n) => n / 1e6),
        longitudeDeg: fc.integer({ min: -180_000_000, max: 180_000_000 }).map((n) => n / 1e6),
      }),
      radiusM: fc.integer({ min: 1, max: 10_000_000 }).map((n) => n / 10),
    }), { maxLength: 3 }),
    terminalIds: fc.uniqueArray(id, { maxLength: 4 }),
    merchantIds: fc.uniqueArray(id, { maxLength: 4 }),
    windows: fc.array(fc.record({
      days: fc.integer({ min: 1, max: 127 }), startMinute: fc.integer({ min: 0, max: 1439 }), endMinute: fc.integer({ min: 0, max: 1439 }),
    }), { maxLength: 4 }),
    timeZone: fc.constantFrom('', 'UTC', 'Europe/Berlin', 'America/New_York'),
  }).map((fields): SpendingPolicy => ({ restricted: true, ...fields }));

  it('parsePolicyFlags(policyToFlags(p)) == p for every valid restricted policy', () => {
    fc.assert(fc.property(policyArb, fc.constantFrom('EUR', 'JPY', 'KWD'), (policy, currency) => {
      validatePolicy(policy);
      expect(parsePolicyFlags(policyToFlags(policy, currency), currency)).toEqual(policy);
    }), { numRuns: 300 });
  });

  it('round-trips the unrestricted policy', () => {
    expect(parsePolicyFlags(policyToFlags(unrestricted(), 'EUR'), 'EUR')).toEqual(unrestricted());
  });

  it('describes every restriction in a line', () => {
    const policy = parse({
      quota: ['30.00/day', '100/month'], count: ['5/day'], max: '10.00', place: ['52.52,13.405,150'], terminal: ['T1', 'T2'],
      merchant: ['canteen'], window: ['mon-fri@07:00-15:00', 'sat,sun@22:00-02:00'], tz: 'Europe/Berlin',
    });
    expect(describePolicy(policy, 'EUR')).toEqual([
      "restricted: every restriction below must hold (quota periods follow the account's time zone)",
      'maximum per payment: 10.00 EUR',
      'daily quota: 30.00 EUR',
      'monthly quota: 100.00 EUR',
      'daily payments: at most 5',
      'place: within 150 m of 52.52,13.405',
      'terminals: T1, T2',
      'merchants: canteen',
      'times: mon-fri 07:00-15:00; sat,sun 22:00-02:00 next day (Europe/Berlin)',
    ]);
  });

  it('describes unrestricted and limitless restricted policies', () => {
    expect(describePolicy(unrestricted(), 'EUR')).toEqual(['unrestricted: pays without limits and may authorize policy changes']);
    expect(describePolicy(restricted(), 'EUR')[1]).toBe('no limits set');
    expect(describePolicy(restricted({ windows: [{ days: 1, startMinute: 0, endMinute: 0 }] }), 'EUR')[1])
      .toBe("times: mon all day (the account's time zone)");
  });
});
