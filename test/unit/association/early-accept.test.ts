import { describe, expect, it } from 'vitest';
import { EarlyAccept, POPULATION_SLACK, REMEMBERED_HINTS_MAX } from '../../../core/association/early-accept.js';

describe('EarlyAccept', () => {
  // As the real thresholds do, refuses a population that is not a whole number of templates.
  const threshold = (population: number) => {
    if (!Number.isInteger(population)) throw new RangeError(`population ${population} is not whole`);
    return Math.log10(population) / 10;
  };

  it('offers no accept score for a hint not searched yet, then the threshold of its last population and a tenth', () => {
    const memory = new EarlyAccept();
    expect(memory.scoreFor('shop', threshold)).toBe(0);
    memory.remember('shop', 1000);
    expect(memory.scoreFor('shop', threshold)).toBe(threshold(1100));
    expect(memory.scoreFor('other', threshold)).toBe(0);
    memory.remember('shop', 10);
    // Whole templates: 10 and a tenth is 11, never 11.000000000000002.
    expect(memory.scoreFor('shop', threshold)).toBe(threshold(11));
    // An empty population still gives a threshold (of one template), never a score of 0 by accident.
    memory.remember('empty', 0);
    expect(memory.scoreFor('empty', threshold)).toBe(threshold(2));
    expect(POPULATION_SLACK).toBe(1.1);
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
