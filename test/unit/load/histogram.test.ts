import { describe, expect, it } from 'vitest';
import { LatencyHistogram } from '../../../core/load/histogram.js';

describe('LatencyHistogram', () => {
  it('gives exact percentiles below 256 us and the recorded maximum', () => {
    const histogram = new LatencyHistogram();
    for (let value = 1; value <= 100; value++) histogram.record(value);
    expect(histogram.percentileUs(50)).toBe(50);
    expect(histogram.percentileUs(99)).toBe(99);
    expect(histogram.percentileUs(100)).toBe(100);
    expect(histogram.summary().maxMs).toBe(0.1);
    expect(histogram.summary().meanMs).toBeCloseTo(0.0505, 3);
  });

  it('keeps every percentile within 0.8% of the true value over a wide range', () => {
    const histogram = new LatencyHistogram();
    const values: number[] = [];
    let x = 17;
    for (let index = 0; index < 20_000; index++) {
      x = (x * 48271) % 2147483647;
      const value = Math.round(10 ** (2 + (x / 2147483647) * 5)); // 100 us .. 10 s, log-uniform
      values.push(value);
      histogram.record(value);
    }
    values.sort((a, b) => a - b);
    for (const percentile of [50, 90, 99, 99.9]) {
      const exact = values[Math.ceil((percentile / 100) * values.length) - 1]!;
      const estimate = histogram.percentileUs(percentile);
      expect(estimate).toBeGreaterThanOrEqual(exact);
      expect((estimate - exact) / exact).toBeLessThan(0.008);
    }
  });

  it('merges, resets, and is empty-safe', () => {
    const a = new LatencyHistogram();
    const b = new LatencyHistogram();
    a.record(1_000);
    b.record(3_000_000);
    a.merge(b);
    expect(a.count).toBe(2);
    expect(a.summary().maxMs).toBe(3000);
    a.reset();
    expect(a.count).toBe(0);
    expect(a.summary()).toMatchObject({ count: 0, p50Ms: 0, p99Ms: 0, maxMs: 0 });
  });

  it('clamps huge values and refuses negative or non-finite ones', () => {
    const histogram = new LatencyHistogram();
    histogram.record(1e15);
    expect(histogram.percentileUs(100)).toBe(2 ** 36);
    expect(() => histogram.record(-1)).toThrow(/latency/);
    expect(() => histogram.record(Number.NaN)).toThrow(/latency/);
    expect(() => histogram.percentileUs(101)).toThrow(/percentile/);
  });
});
