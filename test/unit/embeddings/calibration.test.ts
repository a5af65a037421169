import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  analyticCalibration,
  analyticThreshold,
  calibrateFromImpostorScores,
  embeddingThreshold,
  randomCosineTail,
} from '../../../core/biometrics/embeddings/calibration.js';
import { randomUnitVector } from '../../../core/biometrics/embeddings/synthetic.js';
import { Rng } from '../../../core/biometrics/synthetic/random.js';
import { BiopayError, ErrorCode } from '../../../core/errors.js';

/** Cosines of `count` independent random unit-vector pairs (one side fixed: same distribution). */
function randomCosines(dimension: number, count: number, seed: number): Float64Array {
  const rng = Rng.fromSeed(seed);
  const cosines = new Float64Array(count);
  for (let index = 0; index < count; index++) cosines[index] = randomUnitVector(rng, dimension)[0]!;
  return cosines;
}

const fmrArbitrary = fc.double({ min: 1e-9, max: 0.2, noNaN: true });

describe('analytic thresholds for random unit vectors', () => {
  it('has a symmetric tail with half the mass above 0', () => {
    expect(randomCosineTail(512, 0)).toBeCloseTo(0.5, 12);
    expect(randomCosineTail(512, 0.1) + randomCosineTail(512, -0.1)).toBeCloseTo(1, 12);
    expect(randomCosineTail(512, 1)).toBe(0);
    expect(randomCosineTail(512, -1)).toBe(1);
  });

  it('is close to the normal approximation, sd 1 / sqrt(d), for large d', () => {
    // z for one-sided 1e-3 and 1e-6.
    expect(analyticThreshold(512, 1e-3)).toBeCloseTo(3.0902 / Math.sqrt(512), 2);
    expect(analyticThreshold(2048, 1e-6)).toBeCloseTo(4.7534 / Math.sqrt(2048), 2);
  });

  it('rises as the target FMR falls, and falls as the dimension rises', () => {
    fc.assert(
      fc.property(fc.integer({ min: 8, max: 4096 }), fmrArbitrary, fmrArbitrary, (dimension, a, b) => {
        const [strict, loose] = a < b ? [a, b] : [b, a];
        expect(analyticThreshold(dimension, strict)).toBeGreaterThanOrEqual(analyticThreshold(dimension, loose));
        if (dimension < 4096) expect(analyticThreshold(dimension + 1, strict)).toBeLessThanOrEqual(analyticThreshold(dimension, strict));
      }),
      { numRuns: 200 },
    );
  });

  it('gives an empirical FMR of random vectors close to the target', () => {
    const samples = 20_000;
    fc.assert(
      fc.property(fc.integer({ min: 8, max: 256 }), fc.double({ min: 0.005, max: 0.05, noNaN: true }), fc.nat(), (dimension, fmr, seed) => {
        const threshold = analyticThreshold(dimension, fmr);
        const cosines = randomCosines(dimension, samples, seed);
        const accepted = cosines.reduce((count, cosine) => count + (cosine >= threshold ? 1 : 0), 0);
        const expected = fmr * samples;
        // Binomial sd is ~sqrt(expected): five of them is a 1-in-a-million miss.
        expect(Math.abs(accepted - expected)).toBeLessThan(5 * Math.sqrt(expected));
      }),
      { numRuns: 15 },
    );
  });

  it('builds a table that thresholdFromTable reads back', () => {
    const table = analyticCalibration(512);
    expect(table.points.map((point) => point.fmr)).toEqual([1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8]);
    expect(embeddingThreshold(table, 1e-4)).toBe(analyticThreshold(512, 1e-4));
    expect(embeddingThreshold(table, 3e-5)).toBeGreaterThan(analyticThreshold(512, 1e-4));
    expect(embeddingThreshold(table, 3e-5)).toBeLessThan(analyticThreshold(512, 1e-5));
  });

  it('refuses targets outside (0, 1) and bad dimensions', () => {
    for (const action of [() => analyticThreshold(512, 0), () => analyticThreshold(512, 1), () => analyticThreshold(3, 0.1), () => analyticCalibration(512, [])]) {
      expect(action).toThrow(BiopayError);
    }
  });
});

describe('calibrateFromImpostorScores', () => {
  const cosines = randomCosines(128, 100_000, 11);

  it('agrees with the analytic thresholds on random-vector impostors, never below them by much', () => {
    const table = calibrateFromImpostorScores(cosines, [1e-2, 1e-3, 1e-4]);
    expect(table.impostorPairs).toBe(100_000);
    for (const point of table.points) {
      const analytic = analyticThreshold(128, point.fmr);
      expect(point.threshold).toBeGreaterThan(analytic - 0.01);
      expect(point.threshold).toBeLessThan(analytic + 0.05);
    }
  });

  it('is monotonic in the target FMR for any impostor sample', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: -1, max: 1, noNaN: true }), { minLength: 2, maxLength: 400 }), fmrArbitrary, fmrArbitrary, (scores, a, b) => {
        const [strict, loose] = a < b ? [a, b] : [b, a];
        const [looseTable, strictTable] = [calibrateFromImpostorScores(scores, [loose]), calibrateFromImpostorScores(scores, [strict])];
        expect(strictTable.points[0]!.threshold).toBeGreaterThanOrEqual(looseTable.points[0]!.threshold);
      }),
      { numRuns: 200 },
    );
  });

  it('refuses NaN, too few scores and bad targets with BAD_REQUEST', () => {
    for (const [scores, fmrs] of [[[0.1, Number.NaN], [1e-3]], [[0.1], [1e-3]], [[0.1, 0.2], [0]], [[0.1, 0.2], [2]]] as const) {
      try {
        calibrateFromImpostorScores(scores, fmrs);
        throw new Error('accepted');
      } catch (error) {
        expect((error as BiopayError).code).toBe(ErrorCode.BadRequest);
      }
    }
  });
});
