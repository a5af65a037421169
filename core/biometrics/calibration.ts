/**
 * Score thresholds for target false match rates, from the committed calibration table
 * (calibration-data.ts, produced by `biopay match calibrate`; see that file for how).
 *
 * Between table points the threshold is interpolated linearly in log10(FMR). A target stricter
 * than the table extrapolates along the last segment (the impostor tail keeps falling at least
 * that fast in our measurements); a looser target than the table gets the table's loosest point,
 * which is stricter than asked: both err toward fewer false matches.
 */
import { BiopayError, ErrorCode } from '../errors.js';
import { calibration } from './calibration-data.js';

export interface CalibrationPoint {
  fmr: number;
  threshold: number;
}

export interface Calibration {
  matcher: string;
  impostorPairs: number;
  method: string;
  points: readonly CalibrationPoint[];
}

/**
 * Each table sorted loosest (largest FMR) first, once: every identify computes a few thresholds,
 * and sorting a copy each time was a measurable share of a payment's allocations.
 */
const sortedTables = new WeakMap<readonly CalibrationPoint[], readonly CalibrationPoint[]>();

function loosestFirst(points: readonly CalibrationPoint[]): readonly CalibrationPoint[] {
  let sorted = sortedTables.get(points);
  if (sorted === undefined) {
    sorted = [...points].sort((a, b) => b.fmr - a.fmr);
    sortedTables.set(points, sorted);
  }
  return sorted;
}

export function thresholdFromTable(points: readonly CalibrationPoint[], targetFmr: number): number {
  if (!(targetFmr > 0 && targetFmr < 1)) throw new BiopayError(ErrorCode.BadRequest, 'target FMR must be in (0, 1)');
  const sorted = loosestFirst(points);
  if (sorted.length === 0) throw new BiopayError(ErrorCode.Internal, 'empty calibration table');
  if (targetFmr >= sorted[0]!.fmr || sorted.length === 1) return sorted[0]!.threshold;
  let upper = sorted.findIndex((point) => point.fmr <= targetFmr);
  if (upper === -1) upper = sorted.length - 1;
  const a = sorted[upper - 1]!;
  const b = sorted[upper]!;
  const position = (Math.log10(a.fmr) - Math.log10(targetFmr)) / (Math.log10(a.fmr) - Math.log10(b.fmr));
  return Math.max(a.threshold, a.threshold + position * (b.threshold - a.threshold));
}

export function thresholdForFmr(targetFmr: number): number {
  return thresholdFromTable(calibration.points, targetFmr);
}

export { calibration };
