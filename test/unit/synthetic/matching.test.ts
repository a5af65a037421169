/**
 * Synthetic fingers through the real matcher: impressions of one finger must match each other far
 * better than impressions of different fingers, yet not perfectly (real captures never separate
 * cleanly either: on FVC2002 our matcher's EER is a few percent).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { summarizeAccuracy } from '../../../core/biometrics/evaluation.js';
import { writeIsoRecord } from '../../../core/biometrics/iso.js';
import { MatchEngine } from '../../../core/biometrics/match-engine.js';
import { generatePopulation } from '../../../core/biometrics/synthetic/index.js';

const fingers = 30;
const impressionsPerFinger = 4;

function mean(values: readonly number[]): number {
  return values.reduce((sum, value) => sum + value, 0) / values.length;
}

describe('synthetic fingers with the MCC matcher', () => {
  let engine: MatchEngine;
  const genuine: number[] = [];
  const impostor: number[] = [];

  beforeAll(async () => {
    engine = await MatchEngine.create({ workers: 0 });
    const samples = [...generatePopulation({ fingers, impressionsPerFinger, seed: 20261122 })].map((entry) => ({
      id: `${entry.fingerId}_${entry.impression}`,
      finger: entry.fingerId,
      bytes: writeIsoRecord(entry.record),
    }));
    for (const sample of samples) engine.add(sample.id, sample.bytes);
    const index = new Map(samples.map((sample, position) => [sample.id, position]));
    for (const [a, probe] of samples.entries()) {
      const { candidates } = await engine.identify(probe.bytes, { topK: samples.length });
      for (const candidate of candidates) {
        const b = index.get(candidate.id)!;
        // Every unordered pair once, probe = the earlier sample.
        if (b <= a) continue;
        (samples[b]!.finger === probe.finger ? genuine : impostor).push(candidate.score);
      }
    }
  });

  afterAll(async () => {
    await engine.close();
  });

  it('scores every pair', () => {
    const pairs = (fingers * impressionsPerFinger * (fingers * impressionsPerFinger - 1)) / 2;
    expect(genuine.length).toBe((fingers * impressionsPerFinger * (impressionsPerFinger - 1)) / 2);
    expect(genuine.length + impostor.length).toBe(pairs);
  });

  it('separates genuine from impostor scores, as on real fingers', () => {
    expect(mean(genuine)).toBeGreaterThan(3 * mean(impostor));
    const accuracy = summarizeAccuracy(genuine, impostor);
    expect(accuracy.eer).toBeLessThanOrEqual(0.1);
  });

  it('is not trivially separable: the distributions overlap', () => {
    expect(Math.min(...genuine)).toBeLessThan(Math.max(...impostor));
    expect(summarizeAccuracy(genuine, impostor).zeroFmr).toBeGreaterThan(0);
  });
});
