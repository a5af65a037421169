/**
 * Score thresholds for 1:N decisions. A search compares the probe with up to N enrolled templates,
 * so a per-comparison FMR of 1e-4 falsely identifies a stranger about N x 1e-4 of the time (35% at
 * 10,000 templates searched whole). The decision is therefore set from a target false positive
 * identification rate (FPIR) and the number of templates the search covers:
 *
 *   FPIR <= N x FMR (union bound, whatever the correlation between one probe's impostor scores),
 *
 * so FMR = FPIR / N per comparison. N is the population the search covered (the gallery, or the
 * templates sharing the probe's hint), not the candidates the index let through: the index keeps
 * the templates most like the probe, whose impostor scores are higher than a random template's, so
 * the compared count would understate the risk.
 *
 * Such FMRs (1e-7 at 100,000 templates and FPIR 1%) are far below what the 49,920 FVC impostor
 * pairs resolve, so the threshold is the larger of the FVC table (calibration-data.ts, extrapolated
 * along its last segment) and a table fitted on millions of synthetic impostor pairs
 * (identification-calibration-data.ts, built by synthetic-calibration.ts): real data where it has
 * evidence, synthetic tail where it has none, and never the looser of the two.
 */
import { BiopayError, ErrorCode } from '../errors.js';
import { thresholdForFmr, thresholdFromTable } from './calibration.js';
import { syntheticCalibration } from './identification-calibration-data.js';

/** Largest population a threshold is computed for (the engine's hard template limit). */
const maxPopulation = 100_000_000;

/** Per-comparison FMR that keeps a search of `population` impostor templates under `targetFpir`. */
export function fmrForFpir(targetFpir: number, population: number): number {
  if (!(targetFpir > 0 && targetFpir < 1)) throw new BiopayError(ErrorCode.BadRequest, 'target FPIR must be in (0, 1)');
  if (!Number.isInteger(population) || population < 0 || population > maxPopulation) {
    throw new BiopayError(ErrorCode.BadRequest, `population must be an integer in [0, ${maxPopulation}]`);
  }
  return targetFpir / Math.max(1, population);
}

/** Score threshold for a per-comparison FMR, valid far below what FVC alone resolves. */
export function identificationThresholdForFmr(targetFmr: number): number {
  return Math.max(thresholdForFmr(targetFmr), thresholdFromTable(syntheticCalibration.points, targetFmr));
}

/** Score threshold so that a search covering `population` templates has FPIR at most `targetFpir`. */
export function thresholdForFpir(targetFpir: number, population: number): number {
  return identificationThresholdForFmr(fmrForFpir(targetFpir, population));
}

export { syntheticCalibration };
