import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { machineBusyMs, parseBusyMs } from '../../../core/load/machine-cpu.js';

const STAT = [
  'cpu  1000 20 300 9000 50 7 13 5 0 0',
  'cpu0 500 10 150 4500 25 3 7 2 0 0',
  'intr 12345',
].join('\n');

describe('machine CPU from /proc/stat', () => {
  it('counts user, nice, system, irq, softirq and steal, not idle or iowait (ticks of 10 ms)', () => {
    expect(parseBusyMs(STAT)).toBe((1000 + 20 + 300 + 7 + 13 + 5) * 10);
  });

  it('is unknown for a text without a well-formed aggregate line', () => {
    expect(parseBusyMs('cpu0 1 2 3 4 5 6 7 8')).toBeUndefined();
    expect(parseBusyMs('cpu  1 2 3')).toBeUndefined();
    expect(parseBusyMs('cpu  1 2 x 4 5 6 7 8')).toBeUndefined();
    expect(parseBusyMs('cpu  1 2 -3 4 5 6 7 8')).toBeUndefined();
  });

  it('is unknown where /proc/stat cannot be read', () => {
    expect(machineBusyMs(() => { throw new Error('ENOENT'); })).toBeUndefined();
  });

  it('grows while this machine works where /proc/stat exists, and is unknown where not', () => {
    const before = machineBusyMs();
    if (!existsSync('/proc/stat')) {
      expect(before).toBeUndefined();
      return;
    }
    const spinUntil = Date.now() + 60;
    let spins = 0;
    while (Date.now() < spinUntil) spins++;
    expect(spins).toBeGreaterThan(0);
    expect(machineBusyMs()!).toBeGreaterThan(before!);
  });
});
