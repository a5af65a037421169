import { describe, expect, it } from 'vitest';
import { interArrivalMs, runOpenLoop, type Arrival, type Clock } from '../../../core/load/scheduler.js';
import { makeRandom } from '../../../core/biometrics/synthetic/index.js';

/** A virtual clock: sleeping advances time at once, so a test of 10 s of arrivals runs instantly. */
function virtualClock(): Clock & { advance(ms: number): void } {
  let nowMs = 0;
  return {
    nowMs: () => nowMs,
    sleepMs: async (ms) => { nowMs += ms; await Promise.resolve(); },
    advance: (ms) => { nowMs += ms; },
  };
}

describe('open-loop scheduler', () => {
  it('starts arrivals on the clock even when none of them ever completes', async () => {
    const clock = virtualClock();
    const started: Arrival[] = [];
    const never = new Promise<void>(() => undefined);
    const loop = runOpenLoop({
      rate: 100, durationMs: 10_000, arrival: 'constant', inFlightMax: 1_000_000, seed: 1, clock,
      start: (arrival) => { started.push(arrival); return started.length < 1000 ? never : Promise.resolve(); },
      overflow: () => undefined,
    });
    // The loop ends its schedule but then waits for in-flight work that never finishes: race it.
    await Promise.race([loop, new Promise((resolve) => setTimeout(resolve, 200))]);
    expect(started.length).toBe(999);
    expect(started[0]!.dueMs).toBeCloseTo(10, 6);
    expect(started[500]!.dueMs).toBeCloseTo(5010, 6);
  });

  it('does not slow down when the work is slow: the same arrivals with instant and slow work', async () => {
    const due = async (workMs: number) => {
      const clock = virtualClock();
      const dues: number[] = [];
      await runOpenLoop({
        rate: 50, durationMs: 2_000, arrival: 'poisson', inFlightMax: 10_000, seed: 7, clock,
        start: async (arrival) => { dues.push(arrival.dueMs); if (workMs > 0) await clock.sleepMs(workMs); },
        overflow: () => undefined,
      });
      return dues;
    };
    const fast = await due(0);
    const slow = await due(5_000);
    expect(slow).toEqual(fast);
    expect(fast.length).toBeGreaterThan(70);
    expect(fast.length).toBeLessThan(130);
  });

  it('counts arrivals beyond the in-flight bound as overflow instead of queueing them', async () => {
    const clock = virtualClock();
    const overflowed: number[] = [];
    let release!: () => void;
    const blocked = new Promise<void>((resolve) => { release = resolve; });
    const loop = runOpenLoop({
      rate: 10, durationMs: 1_000, arrival: 'constant', inFlightMax: 3, seed: 1, clock,
      start: () => blocked,
      overflow: (arrival) => overflowed.push(arrival.index),
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    release();
    const result = await loop;
    expect(result.arrivals).toBe(9);
    expect(result.overflowed).toBe(6);
    expect(overflowed).toEqual([3, 4, 5, 6, 7, 8]);
  });

  it('starts late arrivals at once and reports the lag', async () => {
    let nowMs = 0;
    const starts: Array<{ dueMs: number; atMs: number }> = [];
    const clock: Clock = { nowMs: () => nowMs, sleepMs: async (ms) => { nowMs += ms + 100; } };
    const result = await runOpenLoop({
      rate: 100, durationMs: 500, arrival: 'constant', inFlightMax: 100, seed: 1, clock,
      start: async (arrival) => { starts.push({ dueMs: arrival.dueMs, atMs: nowMs }); },
      overflow: () => undefined,
    });
    expect(result.arrivals).toBe(49);
    expect(result.lagMsMax).toBeGreaterThan(50);
    expect(starts.every((start) => start.atMs >= start.dueMs)).toBe(true);
  });

  it('gives Poisson gaps with the asked mean and constant gaps exactly', () => {
    const poisson = interArrivalMs('poisson', 200, makeRandom(3));
    let sum = 0;
    for (let index = 0; index < 20_000; index++) sum += poisson();
    expect(sum / 20_000).toBeGreaterThan(4.8);
    expect(sum / 20_000).toBeLessThan(5.2);
    expect(interArrivalMs('constant', 200, makeRandom(3))()).toBe(5);
    expect(() => interArrivalMs('constant', 0, makeRandom(3))).toThrow(/rate/);
  });
});
