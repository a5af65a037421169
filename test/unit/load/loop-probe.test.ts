import { describe, expect, it } from 'vitest';
import { EventLoopProbe, LOOP_PROBE_PERIOD_MS } from '../../../core/load/loop-probe.js';
import { LOOP_STALL_MS, PhaseMetrics, type LoopSampler } from '../../../core/load/metrics.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function blockLoop(ms: number): void {
  const untilMs = performance.now() + ms;
  while (performance.now() < untilMs) { /* the stall under test */ }
}

describe('event loop probe', () => {
  it('sees a stall of the loop, and a quiet loop after it', async () => {
    const probe = new EventLoopProbe();
    try {
      await sleep(3 * LOOP_PROBE_PERIOD_MS);
      probe.take();
      blockLoop(150);
      await sleep(2 * LOOP_PROBE_PERIOD_MS);
      const stalled = probe.take();
      // The timer due during the block fired about 140 ms late (scheduling adds, never removes).
      expect(stalled.delayMaxMs).toBeGreaterThanOrEqual(100);
      expect(stalled.utilization).toBeGreaterThan(0.5);
      await sleep(10 * LOOP_PROBE_PERIOD_MS);
      // Loose bounds: a loaded test machine delays timers too, but not by a stall's worth.
      expect(probe.take().delayMaxMs).toBeLessThan(100);
    } finally {
      probe.stop();
    }
  });

  it('counts a stall that a take interrupts once, not twice', () => {
    const probe = new EventLoopProbe();
    try {
      probe.take();
      blockLoop(60);
      expect(probe.take().delayMaxMs).toBeGreaterThanOrEqual(40);
      expect(probe.take().delayMaxMs).toBe(0);
    } finally {
      probe.stop();
    }
  });
});

describe('the timeline of the event loop', () => {
  /** Readings handed out in order, then quiet ones. */
  function sampler(readings: Array<{ delayMaxMs: number; utilization: number }>): LoopSampler & { taken: number } {
    const state = { taken: 0, take: () => readings[state.taken++] ?? { delayMaxMs: 0, utilization: 0 } };
    return state;
  }

  it('gives each second its reading, one reading to seconds closed together, and sums them up', () => {
    const loop = sampler([
      { delayMaxMs: 12, utilization: 0.5 }, { delayMaxMs: 230, utilization: 1 }, { delayMaxMs: 20, utilization: 0.6 }, { delayMaxMs: 300, utilization: 0.1 },
    ]);
    const metrics = new PhaseMetrics(0, 4, loop);
    metrics.advance(999);
    expect(loop.taken).toBe(0);
    metrics.advance(1000);
    // A stall that held the loop from 1 s to past 3 s closes seconds 2 and 3 with one reading.
    metrics.advance(3100);
    metrics.advance(4000);
    // The tail after the measured seconds: on the timeline, not in the summary (as in the charts).
    metrics.advance(5000);
    const summary = metrics.summary();
    expect(summary.timeline.map((point) => [point.tS, point.loopDelayMaxMs, point.loopUtilization])).toEqual([
      [1, 12, 0.5], [2, 230, 1], [3, 230, 1], [4, 20, 0.6], [5, 300, 0.1],
    ]);
    expect(summary.eventLoop).toEqual({ delayMaxMs: 230, delayMaxAtS: 2, stalledSeconds: 2, utilizationMean: 0.775 });
    expect(LOOP_STALL_MS).toBeLessThanOrEqual(230);
  });

  it('reads zeros without a probe', () => {
    const metrics = new PhaseMetrics(0, 1);
    metrics.advance(1000);
    expect(metrics.summary().timeline[0]).toMatchObject({ loopDelayMaxMs: 0, loopUtilization: 0 });
    expect(metrics.summary().eventLoop).toEqual({ delayMaxMs: 0, delayMaxAtS: 0, stalledSeconds: 0, utilizationMean: 0 });
  });
});
