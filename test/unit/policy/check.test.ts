import { describe, expect, it } from 'vitest';
import { Period } from '../../../proto/gen/biopay/v1/ledger.js';
import type { PolicyUsage } from '../../../core/policy/index.js';
import { checkPolicy } from '../../../core/policy/index.js';
import { context, input, restricted, unrestricted, usage } from './policy-fixtures.js';

const { PERIOD_DAY: DAY, PERIOD_WEEK: WEEK, PERIOD_MONTH: MONTH, PERIOD_LIFETIME: LIFETIME } = Period;

function usageFor(period: Period, amountMinor: bigint, count: number): PolicyUsage {
  const all = usage();
  all.amountMinorByPeriod.set(period, amountMinor);
  all.countByPeriod.set(period, count);
  return all;
}

describe('checkPolicy: unrestricted', () => {
  it('always allows, whatever the amount, place and time', () => {
    const refusals = checkPolicy(input(unrestricted(), {
      amountMinor: 10n ** 15n, usage: { amountMinorByPeriod: new Map(), countByPeriod: new Map() },
      context: context({ location: undefined, terminalId: '', atUnixMs: 0n }),
    }));
    expect(refusals).toEqual([]);
  });

  it('a restricted policy without limits allows', () => {
    expect(checkPolicy(input(restricted()))).toEqual([]);
  });
});

describe('checkPolicy: maximum per payment', () => {
  const policy = restricted({ maxPerPaymentMinor: 1000n });
  it.each([
    [999n, []], [1000n, []], [1001n, ['MAX_PER_PAYMENT']],
  ])('%s minor', (amountMinor, expected) => {
    expect(checkPolicy(input(policy, { amountMinor })).map((r) => r.code)).toEqual(expected);
  });

  it('says the maximum and the amount asked', () => {
    expect(checkPolicy(input(policy, { amountMinor: 1250n }))).toEqual([
      { code: 'MAX_PER_PAYMENT', message: 'maximum per payment: 10.00 EUR, 12.50 EUR asked' },
    ]);
  });
});

describe('checkPolicy: amount quotas', () => {
  const cases: [Period, string][] = [[DAY, 'QUOTA_DAY'], [WEEK, 'QUOTA_WEEK'], [MONTH, 'QUOTA_MONTH'], [LIFETIME, 'QUOTA_LIFETIME']];
  // [used, asked, refused]: exactly the quota passes, one minor unit more does not.
  const edges: [bigint, bigint, boolean][] = [
    [0n, 3000n, false], [2999n, 1n, false], [2550n, 450n, false],
    [2550n, 451n, true], [0n, 3001n, true], [3000n, 1n, true], [3500n, 1n, true],
  ];
  for (const [period, code] of cases) {
    it.each(edges)(`${code}: used %s + asked %s refused=%s`, (used, asked, refused) => {
      const policy = restricted({ quotas: [{ period, amountMinor: 3000n }] });
      const codes = checkPolicy(input(policy, { amountMinor: asked, usage: usageFor(period, used, 0) })).map((r) => r.code);
      expect(codes).toEqual(refused ? [code] : []);
    });
  }

  it('says what is left and what was asked', () => {
    const policy = restricted({ quotas: [{ period: DAY, amountMinor: 3000n }] });
    expect(checkPolicy(input(policy, { amountMinor: 600n, usage: usageFor(DAY, 2550n, 0) }))).toEqual([
      { code: 'QUOTA_DAY', message: 'daily quota: 4.50 EUR left, 6.00 EUR asked' },
    ]);
  });

  it('never shows a negative amount left when usage is already over (e.g. after a policy change)', () => {
    const policy = restricted({ quotas: [{ period: WEEK, amountMinor: 1000n }] });
    const [refusal] = checkPolicy(input(policy, { amountMinor: 100n, usage: usageFor(WEEK, 5000n, 0) }));
    expect(refusal?.message).toBe('weekly quota: 0.00 EUR left, 1.00 EUR asked');
  });

  it('uses the currency exponent (JPY has none)', () => {
    const policy = restricted({ quotas: [{ period: MONTH, amountMinor: 5000n }] });
    const [refusal] = checkPolicy(input(policy, { currency: 'JPY', amountMinor: 3000n, usage: usageFor(MONTH, 4000n, 0) }));
    expect(refusal?.message).toBe('monthly quota: 1000 JPY left, 3000 JPY asked');
  });

  it('a zero quota blocks every payment', () => {
    const policy = restricted({ quotas: [{ period: LIFETIME, amountMinor: 0n }] });
    expect(checkPolicy(input(policy, { amountMinor: 1n })).map((r) => r.code)).toEqual(['QUOTA_LIFETIME']);
  });

  it('checks each period against its own usage', () => {
    const policy = restricted({ quotas: [{ period: DAY, amountMinor: 1000n }, { period: MONTH, amountMinor: 5000n }] });
    const used: PolicyUsage = {
      amountMinorByPeriod: new Map([[DAY, 0n], [MONTH, 4950n]]), countByPeriod: new Map(),
    };
    expect(checkPolicy(input(policy, { amountMinor: 100n, usage: used })).map((r) => r.code)).toEqual(['QUOTA_MONTH']);
  });
});

describe('checkPolicy: payment counts', () => {
  const cases: [Period, string, string][] = [
    [DAY, 'COUNT_DAY', 'daily'], [WEEK, 'COUNT_WEEK', 'weekly'], [MONTH, 'COUNT_MONTH', 'monthly'], [LIFETIME, 'COUNT_LIFETIME', 'lifetime'],
  ];
  for (const [period, code, adjective] of cases) {
    it.each([[0, false], [4, false], [5, true], [9, true]])(`${code}: %s used of 5 refused=%s`, (used, refused) => {
      const policy = restricted({ counts: [{ period, count: 5 }] });
      const refusals = checkPolicy(input(policy, { usage: usageFor(period, 0n, used) }));
      expect(refusals).toEqual(refused ? [{ code, message: `${adjective} limit of 5 payments reached` }] : []);
    });
  }

  it('a count of 0 blocks, a count of 1 allows one', () => {
    expect(checkPolicy(input(restricted({ counts: [{ period: DAY, count: 0 }] }))).map((r) => r.code)).toEqual(['COUNT_DAY']);
    expect(checkPolicy(input(restricted({ counts: [{ period: DAY, count: 1 }] }), { usage: usageFor(DAY, 0n, 1) }))).toEqual([
      { code: 'COUNT_DAY', message: 'daily limit of 1 payment reached' },
    ]);
  });
});

describe('checkPolicy: terminals and merchants', () => {
  const policy = restricted({ terminalIds: ['T1', 'T2'], merchantIds: ['canteen'] });
  it.each([
    ['listed terminal and merchant', 'T2', 'canteen', []],
    ['other terminal', 'T3', 'canteen', ['TERMINAL']],
    ['other merchant', 'T1', 'kiosk', ['MERCHANT']],
    ['both other', 'T9', 'kiosk', ['TERMINAL', 'MERCHANT']],
    ['no terminal id', '', 'canteen', ['TERMINAL']],
    ['ids are case sensitive', 't1', 'canteen', ['TERMINAL']],
  ])('%s', (_name, terminalId, merchantId, expected) => {
    expect(checkPolicy(input(policy, { context: context({ terminalId, merchantId }) })).map((r) => r.code)).toEqual(expected);
  });

  it('names the terminal and merchant', () => {
    expect(checkPolicy(input(policy, { context: context({ terminalId: 'T9', merchantId: '' }) }))).toEqual([
      { code: 'TERMINAL', message: 'terminal T9 is not one of the allowed terminals' },
      { code: 'MERCHANT', message: 'this merchant is not one of the allowed merchants' },
    ]);
  });
});

describe('checkPolicy: places AND terminals are separate restrictions', () => {
  // Decision (see core/policy/check.ts): every restriction must hold; a listed terminal outside
  // every geofence is refused for PLACE, an unlisted terminal inside a geofence for TERMINAL.
  const school = { latitudeDeg: 52.52, longitudeDeg: 13.405 };
  const policy = restricted({ places: [{ center: school, radiusM: 200 }], terminalIds: ['canteen-1'] });
  it.each([
    ['listed terminal inside', 'canteen-1', school, []],
    ['listed terminal outside', 'canteen-1', { latitudeDeg: 52.6, longitudeDeg: 13.405 }, ['PLACE']],
    ['other terminal inside', 'kiosk', school, ['TERMINAL']],
    ['other terminal outside', 'kiosk', { latitudeDeg: 52.6, longitudeDeg: 13.405 }, ['PLACE', 'TERMINAL']],
    ['listed terminal without location', 'canteen-1', undefined, ['PLACE']],
  ])('%s', (_name, terminalId, location, expected) => {
    expect(checkPolicy(input(policy, { context: context({ terminalId, location }) })).map((r) => r.code)).toEqual(expected);
  });
});

describe('checkPolicy: names every broken restriction, in a fixed order', () => {
  it('the child in the wrong shop at the wrong time over every limit', () => {
    const policy = restricted({
      maxPerPaymentMinor: 1000n,
      quotas: [{ period: DAY, amountMinor: 3000n }],
      counts: [{ period: DAY, count: 5 }],
      places: [{ center: { latitudeDeg: 52.52, longitudeDeg: 13.405 }, radiusM: 150 }],
      terminalIds: ['T1'], merchantIds: ['M1'],
      windows: [{ days: 31, startMinute: 420, endMinute: 900 }],
      timeZone: 'Europe/Berlin',
    });
    const refusals = checkPolicy(input(policy, {
      amountMinor: 1200n, usage: usageFor(DAY, 2550n, 5),
      context: context({ terminalId: 'T2', merchantId: 'M2', location: { latitudeDeg: 52.53, longitudeDeg: 13.405 }, atUnixMs: BigInt(Date.parse('2026-06-13T18:00:00Z')) }),
    }));
    expect(refusals.map((r) => r.code)).toEqual(['MAX_PER_PAYMENT', 'QUOTA_DAY', 'COUNT_DAY', 'PLACE', 'TERMINAL', 'MERCHANT', 'TIME_WINDOW']);
    expect(refusals.every((r) => r.message.length > 0)).toBe(true);
  });
});

describe('checkPolicy: bad input', () => {
  it.each([
    ['a zero amount', { amountMinor: 0n }, 'AMOUNT_OUT_OF_RANGE'],
    ['a negative amount', { amountMinor: -5n }, 'AMOUNT_OUT_OF_RANGE'],
    ['a time beyond Date', { context: context({ atUnixMs: 2n ** 62n }) }, 'BAD_REQUEST'],
    ['an unknown account zone', { accountTimeZone: 'Nowhere/Land' }, 'BAD_REQUEST'],
  ])('refuses %s', (_name, overrides, code) => {
    const policy = restricted({ windows: [{ days: 127, startMinute: 0, endMinute: 0 }] });
    expect(() => checkPolicy(input(policy, overrides))).toThrow(expect.objectContaining({ code }));
  });

  it('refuses (INTERNAL) usage missing for a period the policy limits, rather than reading it as 0', () => {
    const policy = restricted({ quotas: [{ period: WEEK, amountMinor: 100n }] });
    const missing: PolicyUsage = { amountMinorByPeriod: new Map([[DAY, 0n]]), countByPeriod: new Map() };
    expect(() => checkPolicy(input(policy, { usage: missing }))).toThrow(expect.objectContaining({ code: 'INTERNAL' }));
    const countPolicy = restricted({ counts: [{ period: DAY, count: 1 }] });
    expect(() => checkPolicy(input(countPolicy, { usage: missing }))).toThrow(expect.objectContaining({ code: 'INTERNAL' }));
  });
});
