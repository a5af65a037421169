/**
 * 1:N thresholds: the per-comparison FMR scales with the population searched, the synthetic tail
 * table never loosens the FVC one, and the tail fit recovers a known exponential tail.
 */
import { describe, expect, it } from 'vitest';
import { calibration, thresholdForFmr } from '../../../core/biometrics/calibration.js';
import { fmrForFpir, identificationThresholdForFmr, syntheticCalibration, thresholdForFpir } from '../../../core/biometrics/identification-calibration.js';
import { tailThreshold } from '../../../core/biometrics/synthetic-calibration.js';
import { ErrorCode } from '../../../core/errors.js';

const badRequest = expect.objectContaining({ code: ErrorCode.BadRequest });

describe('thresholds for a target FPIR', () => {
  it('divides the FPIR by the population (union bound)', () => {
    expect(fmrForFpir(1e-2, 100_000)).toBeCloseTo(1e-7, 15);
    expect(fmrForFpir(1e-3, 1)).toBe(1e-3);
    // An empty gallery cannot falsely match, but the threshold stays that of one comparison.
    expect(fmrForFpir(1e-3, 0)).toBe(1e-3);
  });

  it('rises with the population and with a stricter target', () => {
    // Non-decreasing: past the sample the table may hold at the highest impostor score seen.
    const populations = [1, 100, 1000, 10_000, 100_000, 1_000_000];
    const thresholds = populations.map((population) => thresholdForFpir(1e-2, population));
    for (let index = 1; index < thresholds.length; index++) expect(thresholds[index]!).toBeGreaterThanOrEqual(thresholds[index - 1]!);
    expect(thresholds.at(-1)!).toBeGreaterThan(thresholds[0]!);
    expect(thresholdForFpir(1e-3, 1000)).toBeGreaterThan(thresholdForFpir(1e-2, 1000));
  });

  it('is never looser than the FVC table, nor than one 1:1 comparison at the same target', () => {
    for (const fmr of [1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8]) expect(identificationThresholdForFmr(fmr)).toBeGreaterThanOrEqual(thresholdForFmr(fmr));
    expect(thresholdForFpir(1e-3, 10_000)).toBeGreaterThan(thresholdForFmr(1e-3));
  });

  it('refuses targets and populations out of range', () => {
    for (const target of [0, 1, -1, Number.NaN]) expect(() => fmrForFpir(target, 10)).toThrow(badRequest);
    for (const population of [-1, 1.5, Number.POSITIVE_INFINITY]) expect(() => fmrForFpir(1e-2, population)).toThrow(badRequest);
  });

  it('uses a synthetic table built for the matcher in use, on millions of pairs', () => {
    expect(syntheticCalibration.matcher).toBe(calibration.matcher);
    expect(syntheticCalibration.impostorPairs).toBeGreaterThanOrEqual(1_000_000);
    const points = [...syntheticCalibration.points].sort((a, b) => b.fmr - a.fmr);
    for (let index = 1; index < points.length; index++) expect(points[index]!.threshold).toBeGreaterThanOrEqual(points[index - 1]!.threshold);
    expect(points.at(-1)!.threshold).toBeGreaterThan(points[0]!.threshold);
  });
});

describe('tailThreshold', () => {
  // An ideal sample of an exponential tail: the score of rank r is beta * ln(pairs / (r + 0.5)).
  const beta = 0.01;
  const pairs = 10_000_000;
  const top = Float64Array.from({ length: 1000 }, (_, rank) => beta * Math.log(pairs / (rank + 0.5)));

  it('extrapolates an exponential tail beyond the sample', () => {
    for (const fmr of [1e-6, 1e-8, 1e-10]) {
      expect(tailThreshold({ top, pairs }, fmr)).toBeCloseTo(beta * Math.log(1 / fmr), 2);
    }
  });

  it('is never below the empirical quantile', () => {
    const withOutliers = Float64Array.from(top);
    withOutliers.fill(0.5, 0, 5); // five impostors far above the fitted tail
    expect(tailThreshold({ top: withOutliers, pairs }, 1e-7)).toBeGreaterThan(0.5);
  });

  it('refuses a sample too small to fit', () => {
    expect(() => tailThreshold({ top: new Float64Array(1), pairs: 10 }, 1e-3)).toThrow(badRequest);
  });
});
