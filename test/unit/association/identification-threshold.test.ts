/**
 * The fingerprint decision of a 1:N search: never looser than the per-comparison target FMR, and
 * held to the target FPIR as the population searched grows, so strangers do not match more often
 * as more people enroll.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_TARGET_FPIR, fingerIdentificationThreshold } from '../../../core/association/identify-decision.js';
import { thresholdForFmr } from '../../../core/biometrics/calibration.js';
import { thresholdForFpir } from '../../../core/biometrics/identification-calibration.js';

describe('fingerIdentificationThreshold', () => {
  it('is the 1:1 threshold for a tiny gallery', () => {
    expect(fingerIdentificationThreshold(1e-4, 1)).toBe(thresholdForFmr(1e-4));
    expect(fingerIdentificationThreshold(1e-4, 5)).toBe(thresholdForFmr(1e-4));
  });

  it('follows the target FPIR once the population makes FPIR / N the stricter rate', () => {
    for (const population of [1_000, 10_000, 100_000]) {
      const threshold = fingerIdentificationThreshold(1e-4, population);
      expect(threshold).toBe(thresholdForFpir(DEFAULT_TARGET_FPIR, population));
      expect(threshold).toBeGreaterThan(thresholdForFmr(1e-4));
    }
  });

  it('never falls as the population grows, and a stricter FMR still wins', () => {
    const populations = [1, 10, 100, 1_000, 10_000, 100_000, 1_000_000];
    const thresholds = populations.map((population) => fingerIdentificationThreshold(1e-4, population));
    for (let index = 1; index < thresholds.length; index++) expect(thresholds[index]).toBeGreaterThanOrEqual(thresholds[index - 1]!);
    expect(fingerIdentificationThreshold(1e-9, 10)).toBe(thresholdForFmr(1e-9));
  });
});
