import { describe, expect, it } from 'vitest';
import { categoryPicker, DEFAULT_MIX, isErrorCode, parseMix } from '../../../core/load/mix.js';
import { planPopulation } from '../../../core/load/population.js';
import { assertFreshFingers, sessionImpressions } from '../../../core/load/setup.js';

const spec = { runId: 'abc123', accounts: 500, enrolled: 1000, terminals: 10, communitySize: 250, mix: DEFAULT_MIX };

describe('population plan', () => {
  it('gives every account an owner finger first and restricts only extra fingers', () => {
    const plan = planPopulation(spec);
    expect(plan.fingers).toHaveLength(1000);
    expect(plan.fingers.slice(0, 500).every((finger) => finger.role === 'owner')).toBe(true);
    const restricted = plan.fingers.filter((finger) => finger.role === 'restricted');
    expect(restricted).toHaveLength(100);
    expect(restricted.every((finger) => !plan.poorAccounts.has(finger.account))).toBe(true);
    expect(new Set(plan.fingers.map((finger) => finger.fingerId)).size).toBe(1000);
  });

  it('splits people into communities of at most the given size, each with terminals and a jammed dispenser', () => {
    const plan = planPopulation(spec);
    expect(plan.communities).toBe(4);
    const perCommunity = new Map<number, number>();
    for (const finger of plan.fingers) {
      const community = plan.accountCommunity[finger.account]!;
      perCommunity.set(community, (perCommunity.get(community) ?? 0) + 1);
    }
    expect(Math.max(...perCommunity.values())).toBeLessThanOrEqual(250);
    for (let community = 0; community < 4; community++) {
      expect(plan.terminals.filter((t) => t.community === community && !t.jammed).length).toBeGreaterThan(0);
      expect(plan.terminals.filter((t) => t.community === community && t.jammed)).toHaveLength(1);
    }
    expect(plan.unknownFingerIds.every((id) => id > 1000)).toBe(true);
    expect(plan.poorAccounts.size).toBe(10);
  });

  it('refuses specs it cannot honour, with the reason', () => {
    expect(() => planPopulation({ ...spec, accounts: 950 })).toThrow(/restricted credentials need fingers/);
    expect(() => planPopulation({ ...spec, accounts: 2000 })).toThrow(/every account needs a finger/);
    expect(() => planPopulation({ ...spec, terminals: 3 })).toThrow(/at least 4 terminals/);
    expect(() => planPopulation({ ...spec, runId: 'a.b' })).toThrow(/run id/);
    expect(planPopulation({ ...spec, accounts: 1000, mix: { ...DEFAULT_MIX, restricted: 0 } }).fingers.every((f) => f.role === 'owner')).toBe(true);
  });
});

describe('workload mix', () => {
  it('parses a mix and picks categories in proportion', () => {
    const mix = parseMix('approved=80,restricted=10,unknown=5,jammed=5');
    expect(mix.insufficient).toBe(0);
    const pick = categoryPicker(mix);
    const counts: Record<string, number> = {};
    for (let index = 0; index < 10_000; index++) {
      const category = pick((index + 0.5) / 10_000);
      counts[category] = (counts[category] ?? 0) + 1;
    }
    expect(counts).toEqual({ approved: 8000, restricted: 1000, unknown: 500, jammed: 500 });
    expect(() => parseMix('approved=x')).toThrow(/weight/);
    expect(() => parseMix('bogus=1')).toThrow(/CATEGORY/);
    expect(() => parseMix('approved=0')).toThrow(/every weight/);
  });

  it('tells network failures from business refusals', () => {
    for (const code of ['NO_MATCH', 'INSUFFICIENT_FUNDS', 'MAX_PER_PAYMENT', 'BUSINESS_FAILED', 'QUOTA_DAY', 'POOR_CAPTURE']) expect(isErrorCode(code)).toBe(false);
    for (const code of ['TIMEOUT', 'INTERNAL', 'UNAVAILABLE', 'BUSINESS_TIMEOUT', 'IDENTIFY_FAILED', 'SOMETHING_NEW']) expect(isErrorCode(code)).toBe(true);
  });
});

describe('enrollment impressions', () => {
  it('offers each session fresh impressions and never the probe (impression 2)', () => {
    expect(sessionImpressions(3, 0)).toEqual([1, 3, 4]);
    expect(sessionImpressions(3, 1)).toEqual([5, 6, 7]);
    expect(sessionImpressions(1, 0)).toEqual([1]);
    expect(sessionImpressions(1, 1)).toEqual([3]);
    for (let perSession = 1; perSession <= 10; perSession++) {
      const offered = [0, 1].flatMap((session) => sessionImpressions(perSession, session));
      expect(new Set(offered).size).toBe(offered.length);
      expect(offered).not.toContain(2);
    }
  });
});

describe('a population the network already holds', () => {
  it('stops the run when most fingers were already enrolled (an earlier run with the same seed), naming the seed', () => {
    expect(() => assertFreshFingers({ ALREADY_ENROLLED: 999 }, 1000, 7)).toThrow(
      expect.objectContaining({ code: 'INVALID_STATE', message: expect.stringMatching(/999 of 1000 fingers were already enrolled .*--seed 7/) }));
  });

  it('lets a few collisions of synthetic fingers and other refusals pass', () => {
    expect(() => assertFreshFingers({ ALREADY_ENROLLED: 3, INVALID_TEMPLATE: 900 }, 1000, 7)).not.toThrow();
    expect(() => assertFreshFingers({}, 1000, 7)).not.toThrow();
  });
});
