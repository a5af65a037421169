import { describe, expect, it } from 'vitest';
import { EarlyAccept, POPULATION_SLACK, REMEMBERED_HINTS_MAX } from '../../../core/association/early-accept.js';

describe('EarlyAccept', () => {
  const threshold = (population: number) => Math.log10(population) / 10;

  it('offers no accept score for a hint not searched yet, then the threshold of twice its last population', () => {
    const memory = new EarlyAccept();
    expect(memory.scoreFor('shop', threshold)).toBe(0);
    memory.remember('shop', 1000);
    expect(memory.scoreFor('shop', threshold)).toBe(threshold(1000 * POPULATION_SLACK));
    expect(memory.scoreFor('other', threshold)).toBe(0);
    memory.remember('shop', 10);
    expect(memory.scoreFor('shop', threshold)).toBe(threshold(10 * POPULATION_SLACK));
    // An empty population still gives a threshold (of one template), never a score of 0 by accident.
    memory.remember('empty', 0);
    expect(memory.scoreFor('empty', threshold)).toBe(threshold(POPULATION_SLACK));
  });

  it('remembers a bounded number of hints', () => {
    const memory = new EarlyAccept();
    for (let index = 0; index < REMEMBERED_HINTS_MAX; index++) memory.remember(`hint-${index}`, 100);
    expect(memory.scoreFor('hint-0', threshold)).toBeGreaterThan(0);
    memory.remember('one-more', 100);
    expect(memory.scoreFor('hint-0', threshold)).toBe(0);
    expect(memory.scoreFor('one-more', threshold)).toBeGreaterThan(0);
  });
});
