/**
 * Accuracy figures from genuine and impostor score sets (higher score = more similar; a pair is
 * accepted when score >= threshold), as in the FVC reports: EER (Maio et al., FVC2000 definition
 * with its low/high bracket), FNMR at a given FMR, zero-FMR, DET points, and the threshold that
 * reaches a target FMR.
 */
import { BiopayError, ErrorCode } from '../errors.js';

export interface ErrorRates {
  threshold: number;
  fmr: number;
  fnmr: number;
}

export interface AccuracySummary {
  genuine: number;
  impostor: number;
  eer: number;
  eerLow: number;
  eerHigh: number;
  fnmrAtFmr1e2: number;
  fnmrAtFmr1e3: number;
  zeroFmr: number;
}

function sortedCopy(scores: ArrayLike<number>, what: string): Float64Array {
  if (scores.length === 0) throw new BiopayError(ErrorCode.BadRequest, `no ${what} scores`);
  const copy = Float64Array.from(scores);
  if (copy.some((value) => Number.isNaN(value))) throw new BiopayError(ErrorCode.BadRequest, `${what} scores contain NaN`);
  return copy.sort();
}

/** Number of values strictly below t in an ascending array. */
function countBelow(sorted: Float64Array, t: number): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (sorted[mid]! < t) low = mid + 1;
    else high = mid;
  }
  return low;
}

/**
 * Error rates at every distinct threshold (ascending thresholds, so FMR falls and FNMR rises),
 * ending with +Infinity where nothing is accepted.
 */
export function errorRateCurve(genuine: ArrayLike<number>, impostor: ArrayLike<number>): ErrorRates[] {
  const g = sortedCopy(genuine, 'genuine');
  const i = sortedCopy(impostor, 'impostor');
  const thresholds = Float64Array.from(new Set([...g, ...i, Infinity])).sort();
  return Array.from(thresholds, (threshold) => ({
    threshold,
    fmr: (i.length - countBelow(i, threshold)) / i.length,
    fnmr: countBelow(g, threshold) / g.length,
  }));
}

/** FVC2000 EER: bracket between the last threshold with FNMR <= FMR and the first with FNMR >= FMR. */
export function equalErrorRate(curve: readonly ErrorRates[]): { eer: number; low: number; high: number } {
  let t1: ErrorRates | undefined;
  let t2: ErrorRates | undefined;
  for (const point of curve) {
    if (point.fnmr <= point.fmr) t1 = point;
    if (t2 === undefined && point.fnmr >= point.fmr) t2 = point;
  }
  const first = t1 ?? curve[0]!;
  const second = t2 ?? curve[curve.length - 1]!;
  const [low, high] =
    first.fnmr + first.fmr <= second.fmr + second.fnmr ? [first.fnmr, first.fmr] : [second.fmr, second.fnmr];
  return { eer: (low + high) / 2, low, high };
}

/** Lowest FNMR among thresholds whose FMR is at most the target. */
export function fnmrAtFmr(curve: readonly ErrorRates[], targetFmr: number): number {
  let best = 1;
  for (const point of curve) if (point.fmr <= targetFmr && point.fnmr < best) best = point.fnmr;
  return best;
}

/** FNMR at the lowest threshold that accepts no impostor. */
export function zeroFmr(curve: readonly ErrorRates[]): number {
  return fnmrAtFmr(curve, 0);
}

/** DET curve points (FMR, FNMR), with consecutive duplicates dropped. */
export function detPoints(curve: readonly ErrorRates[]): { fmr: number; fnmr: number }[] {
  const points: { fmr: number; fnmr: number }[] = [];
  for (const { fmr, fnmr } of curve) {
    const last = points[points.length - 1];
    if (last === undefined || last.fmr !== fmr || last.fnmr !== fnmr) points.push({ fmr, fnmr });
  }
  return points;
}

export function summarizeAccuracy(genuine: ArrayLike<number>, impostor: ArrayLike<number>): AccuracySummary {
  const curve = errorRateCurve(genuine, impostor);
  const eer = equalErrorRate(curve);
  return {
    genuine: genuine.length,
    impostor: impostor.length,
    eer: eer.eer,
    eerLow: eer.low,
    eerHigh: eer.high,
    fnmrAtFmr1e2: fnmrAtFmr(curve, 1e-2),
    fnmrAtFmr1e3: fnmrAtFmr(curve, 1e-3),
    zeroFmr: zeroFmr(curve),
  };
}

/**
 * Smallest threshold whose empirical FMR is at most the target: strictly above the impostor score
 * of rank floor(target * count) from the top. With too few impostors for the target the answer is
 * just above the highest impostor score, and `resolved` is false.
 */
export function thresholdAtFmr(impostor: ArrayLike<number>, targetFmr: number): { threshold: number; resolved: boolean } {
  const sorted = sortedCopy(impostor, 'impostor');
  const allowed = Math.floor(targetFmr * sorted.length);
  const above = sorted[sorted.length - 1 - allowed]!;
  return { threshold: nextUp(above), resolved: allowed >= 1 };
}

/** The smallest double above x, so that `score >= threshold` excludes x itself. */
function nextUp(x: number): number {
  if (x === Infinity) return x;
  const buffer = new Float64Array([x === 0 ? 0 : x]);
  const bits = new BigInt64Array(buffer.buffer);
  if (x === 0) return Number.MIN_VALUE;
  bits[0] = x > 0 ? bits[0]! + 1n : bits[0]! - 1n;
  return buffer[0]!;
}

/** Impostors above the threshold needed before the empirical quantile is trusted on its own. */
const minTailCount = 10;
const minTailFit = 50;

/**
 * Conservative threshold for a target FMR from impostor scores: the larger of the empirical
 * quantile and an exponential fit of the upper tail (top 1%, at least 50 scores:
 * P(score > s) = p0 * exp(-(s - s0) / beta), beta the mean excess over s0), which extrapolates to
 * rates the sample cannot resolve. `empirical` says whether at least 10 impostors lay above the
 * target, i.e. whether the sample alone resolves it.
 */
export function calibratedThreshold(impostor: ArrayLike<number>, targetFmr: number): { threshold: number; empirical: boolean } {
  const sorted = sortedCopy(impostor, 'impostor');
  const count = sorted.length;
  const empirical = thresholdAtFmr(sorted, targetFmr).threshold;
  const tail = Math.min(count, Math.max(minTailFit, Math.ceil(count / 100)));
  const s0 = sorted[count - tail]!;
  let excess = 0;
  for (let index = count - tail; index < count; index++) excess += sorted[index]! - s0;
  const beta = excess / tail;
  const fitted = s0 + beta * Math.log(tail / count / targetFmr);
  return { threshold: Math.max(empirical, fitted), empirical: targetFmr * count >= minTailCount };
}
