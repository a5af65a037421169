import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { machineCpu, parseMachineCpu } from '../../../core/load/machine-cpu.js';

const STAT = [
  'cpu  1000 20 300 9000 50 7 13 5 0 0',
  'cpu0 500 10 150 4500 25 3 7 2 0 0',
  'intr 12345',
].join('\n');

describe('machine CPU from /proc/stat', () => {
  it('counts user, nice, system, irq and softirq as busy, steal apart, not idle or iowait (ticks of 10 ms)', () => {
    expect(parseMachineCpu(STAT)).toEqual({ busyMs: (1000 + 20 + 300 + 7 + 13) * 10, stolenMs: 5 * 10 });
  });

  it('is unknown for a text without a well-formed aggregate line', () => {
    expect(parseMachineCpu('cpu0 1 2 3 4 5 6 7 8')).toBeUndefined();
    expect(parseMachineCpu('cpu  1 2 3')).toBeUndefined();
    expect(parseMachineCpu('cpu  1 2 x 4 5 6 7 8')).toBeUndefined();
    expect(parseMachineCpu('cpu  1 2 -3 4 5 6 7 8')).toBeUndefined();
  });

  it('is unknown where /proc/stat cannot be read', () => {
    expect(machineCpu(() => { throw new Error('ENOENT'); })).toBeUndefined();
  });

  it('grows while this machine works where /proc/stat exists, and is unknown where not', () => {
    const before = machineCpu();
    if (!existsSync('/proc/stat')) {
      expect(before).toBeUndefined();
      return;
    }
    const spinUntil = Date.now() + 60;
    let spins = 0;
    while (Date.now() < spinUntil) spins++;
    expect(spins).toBeGreaterThan(0);
    const after = machineCpu()!;
    expect(after.busyMs).toBeGreaterThan(before!.busyMs);
    expect(after.stolenMs).toBeGreaterThanOrEqual(before!.stolenMs);
  });
});
