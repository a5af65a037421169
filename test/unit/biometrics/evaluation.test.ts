import { describe, expect, it } from 'vitest';
import { thresholdFromTable } from '../../../core/biometrics/calibration.js';
import {
  calibratedThreshold,
  detPoints,
  equalErrorRate,
  errorRateCurve,
  fnmrAtFmr,
  summarizeAccuracy,
  thresholdAtFmr,
  zeroFmr,
} from '../../../core/biometrics/evaluation.js';
import { BiopayError } from '../../../core/errors.js';

describe('accuracy figures', () => {
  it('gives zero error for separated scores', () => {
    const summary = summarizeAccuracy([0.8, 0.9, 1], [0.1, 0.2, 0.3]);
    expect(summary.eer).toBe(0);
    expect(summary.zeroFmr).toBe(0);
    expect(summary.fnmrAtFmr1e3).toBe(0);
  });

  it('gives 50% for identical distributions', () => {
    const scores = [1, 2, 3, 4];
    expect(equalErrorRate(errorRateCurve(scores, scores)).eer).toBeCloseTo(0.5, 1);
  });

  it('brackets the EER where FMR and FNMR cross', () => {
    // One genuine below the two highest impostors out of 10 each.
    const genuine = [0.35, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1];
    const impostor = [0.05, 0.1, 0.12, 0.15, 0.2, 0.22, 0.25, 0.3, 0.4, 0.5];
    const curve = errorRateCurve(genuine, impostor);
    const eer = equalErrorRate(curve);
    expect(eer.low).toBeLessThanOrEqual(eer.eer);
    expect(eer.high).toBeGreaterThanOrEqual(eer.eer);
    expect(eer.eer).toBeCloseTo(0.1, 5);
    expect(fnmrAtFmr(curve, 0.1)).toBeCloseTo(0.1, 5);
    expect(fnmrAtFmr(curve, 0)).toBeCloseTo(0.1, 5);
    expect(zeroFmr(curve)).toBeCloseTo(0.1, 5);
  });

  it('draws a monotone DET curve ending at FMR 0, FNMR 1', () => {
    const points = detPoints(errorRateCurve([0.4, 0.6, 0.9], [0.1, 0.5, 0.7]));
    expect(points[0]).toEqual({ fmr: 1, fnmr: 0 });
    expect(points[points.length - 1]).toEqual({ fmr: 0, fnmr: 1 });
    for (let index = 1; index < points.length; index++) {
      expect(points[index]!.fmr).toBeLessThanOrEqual(points[index - 1]!.fmr);
      expect(points[index]!.fnmr).toBeGreaterThanOrEqual(points[index - 1]!.fnmr);
    }
  });

  it('refuses empty or NaN score sets', () => {
    expect(() => summarizeAccuracy([], [1])).toThrow(BiopayError);
    expect(() => summarizeAccuracy([1], [Number.NaN])).toThrow(BiopayError);
  });
});

describe('thresholds for a target FMR', () => {
  const impostor = Array.from({ length: 10_000 }, (_, index) => index / 10_000);

  it('lets through at most the target share of impostors', () => {
    for (const target of [1e-1, 1e-2, 1e-3]) {
      const { threshold, resolved } = thresholdAtFmr(impostor, target);
      expect(resolved).toBe(true);
      expect(impostor.filter((score) => score >= threshold).length / impostor.length).toBeLessThanOrEqual(target);
    }
    expect(thresholdAtFmr(impostor, 1e-6).resolved).toBe(false);
  });

  it('extrapolates conservatively past what the sample resolves', () => {
    const t3 = calibratedThreshold(impostor, 1e-3);
    const t5 = calibratedThreshold(impostor, 1e-5);
    expect(t3.empirical).toBe(true);
    expect(t5.empirical).toBe(false);
    expect(t5.threshold).toBeGreaterThan(Math.max(...impostor));
    expect(t5.threshold).toBeGreaterThan(t3.threshold);
  });

  it('interpolates the table in log FMR and errs strict outside it', () => {
    const table = [
      { fmr: 1e-3, threshold: 0.2 },
      { fmr: 1e-4, threshold: 0.3 },
      { fmr: 1e-5, threshold: 0.4 },
    ];
    expect(thresholdFromTable(table, 1e-4)).toBeCloseTo(0.3, 9);
    expect(thresholdFromTable(table, Math.sqrt(1e-3 * 1e-4))).toBeCloseTo(0.25, 9);
    expect(thresholdFromTable(table, 1e-2)).toBe(0.2);
    expect(thresholdFromTable(table, 1e-6)).toBeCloseTo(0.5, 9);
    expect(() => thresholdFromTable(table, 0)).toThrow(BiopayError);
    expect(() => thresholdFromTable(table, 1)).toThrow(BiopayError);
  });
});
