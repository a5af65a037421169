/**
 * Cosine score thresholds for target false match rates of face and palm embeddings.
 *
 * There is no real face or palm data in this repository, so the default table is analytic: the
 * cosine of two independent, uniformly random unit vectors of dimension d, which is what an ideal
 * embedding model's impostor pairs would look like. Its tail is exact,
 *   P(cos >= t) = 1/2 * I_{1 - t^2}((d - 1) / 2, 1 / 2)   for t in [0, 1]
 * (t^2 follows Beta(1/2, (d - 1)/2)), and close to the normal approximation N(0, 1/d).
 *
 * A DEPLOYMENT MUST RECALIBRATE on its own model's impostor scores: real embeddings are not
 * isotropic (faces of one age group, sex or ethnicity sit closer together than random vectors), so
 * their impostor tail is heavier than this one and the analytic thresholds are too low for them.
 * Feed the cosine scores of many pairs of different people from the deployed model, at least
 * 10 / FMR of them for the smallest target, to `calibrateFromImpostorScores`, and decide with that.
 */
import { BiopayError, ErrorCode } from '../../errors.js';
import { thresholdFromTable, type Calibration } from '../calibration.js';
import { calibratedThreshold } from '../evaluation.js';
import { checkDimension } from './embedding-vector.js';

export type { Calibration, CalibrationPoint } from '../calibration.js';

export const defaultEmbeddingFmrs = [1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8] as const;

const minFmr = 1e-15;
const maxFmrCount = 64;
const maxImpostorScores = 100_000_000;
const continuedFractionSteps = 300;
const epsilon = 1e-15;
const bisectionSteps = 200;
/** Thresholds are rounded up to 6 decimals: they only ever err toward fewer false matches. */
const roundUp = (threshold: number): number => Math.ceil(threshold * 1e6) / 1e6;

function checkFmr(fmr: number): number {
  if (!(fmr >= minFmr && fmr < 1)) throw new BiopayError(ErrorCode.BadRequest, `target FMR must be in [${minFmr}, 1)`);
  return fmr;
}

function checkFmrs(fmrs: readonly number[]): readonly number[] {
  if (!Array.isArray(fmrs) || fmrs.length === 0 || fmrs.length > maxFmrCount) {
    throw new BiopayError(ErrorCode.BadRequest, `give between 1 and ${maxFmrCount} target FMRs`);
  }
  fmrs.forEach(checkFmr);
  return fmrs;
}

/** Lanczos approximation (g = 7, 9 terms), ~1e-15 relative for x > 0. */
const lanczos = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];

function logGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const z = x - 1;
  let sum = lanczos[0]!;
  for (let index = 1; index < lanczos.length; index++) sum += lanczos[index]! / (z + index);
  const t = z + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(sum);
}

/** Continued fraction of the incomplete beta function (modified Lentz). */
function betaContinuedFraction(x: number, a: number, b: number): number {
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  d = 1 / (Math.abs(d) < tiny ? tiny : d);
  let result = d;
  for (let m = 1; m <= continuedFractionSteps; m++) {
    for (const numerator of [(m * (b - m) * x) / ((a + 2 * m - 1) * (a + 2 * m)), (-(a + m) * (a + b + m) * x) / ((a + 2 * m) * (a + 2 * m + 1))]) {
      d = 1 + numerator * d;
      d = 1 / (Math.abs(d) < tiny ? tiny : d);
      c = 1 + numerator / c;
      if (Math.abs(c) < tiny) c = tiny;
      result *= c * d;
    }
    if (Math.abs(c * d - 1) < epsilon) break;
  }
  return result;
}

/** Regularized incomplete beta I_x(a, b). */
function regularizedBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const front = Math.exp(a * Math.log(x) + b * Math.log1p(-x) - (logGamma(a) + logGamma(b) - logGamma(a + b)));
  if (x < (a + 1) / (a + b + 2)) return (front * betaContinuedFraction(x, a, b)) / a;
  return 1 - (front * betaContinuedFraction(1 - x, b, a)) / b;
}

/** P(cos >= score) for two independent uniformly random unit vectors of `dimension`. */
export function randomCosineTail(dimension: number, score: number): number {
  const a = (checkDimension(dimension) - 1) / 2;
  if (!Number.isFinite(score)) throw new BiopayError(ErrorCode.BadRequest, 'score must be finite');
  if (score >= 1) return 0;
  if (score <= -1) return 1;
  const half = 0.5 * regularizedBeta(1 - score * score, a, 0.5);
  return score >= 0 ? half : 1 - half;
}

/** The smallest cosine whose random-vector FMR is at most `targetFmr`, rounded up. */
export function analyticThreshold(dimension: number, targetFmr: number): number {
  checkFmr(targetFmr);
  let low = -1;
  let high = 1;
  for (let step = 0; step < bisectionSteps && high - low > 1e-12; step++) {
    const middle = (low + high) / 2;
    if (randomCosineTail(dimension, middle) > targetFmr) low = middle;
    else high = middle;
  }
  return roundUp(high);
}

/** The analytic table for an ideal model of `dimension` (see the header: recalibrate in deployment). */
export function analyticCalibration(dimension: number, fmrs: readonly number[] = defaultEmbeddingFmrs): Calibration {
  checkFmrs(fmrs);
  return {
    matcher: `random-unit-vectors/${dimension}`,
    impostorPairs: 0,
    method: `analytic: cosine of independent uniform unit vectors of dimension ${dimension} (Beta tail); replace with calibrateFromImpostorScores on the deployed model`,
    points: fmrs.map((fmr) => ({ fmr, threshold: analyticThreshold(dimension, fmr) })),
  };
}

/**
 * A table from the deployed model's impostor cosine scores (pairs of different people), by the
 * same conservative rule as the fingerprint table: max(empirical quantile, exponential fit of the
 * top 1% tail), rounded up. The fit extrapolates to targets the sample cannot resolve.
 */
export function calibrateFromImpostorScores(scores: ArrayLike<number>, fmrs: readonly number[], matcher = 'embedding-model'): Calibration {
  checkFmrs(fmrs);
  if (scores === null || typeof scores !== 'object' || scores.length < 2 || scores.length > maxImpostorScores) {
    throw new BiopayError(ErrorCode.BadRequest, `give between 2 and ${maxImpostorScores} impostor scores`);
  }
  for (let index = 0; index < scores.length; index++) {
    if (!Number.isFinite(scores[index])) throw new BiopayError(ErrorCode.BadRequest, `impostor score ${index} is not finite`);
  }
  const points = fmrs.map((fmr) => ({ fmr, threshold: roundUp(calibratedThreshold(scores, fmr).threshold) }));
  return {
    matcher,
    impostorPairs: scores.length,
    method: 'impostor cosine scores of the deployed model; threshold = max(empirical quantile, exponential fit of the top 1% tail), rounded up',
    points,
  };
}

/** Threshold for a target FMR from a table (interpolated in log10 FMR, see ../calibration.ts). */
export function embeddingThreshold(calibration: Calibration, targetFmr: number): number {
  return thresholdFromTable(calibration.points, targetFmr);
}
