/**
 * Builds the synthetic impostor calibration used for 1:N thresholds (identification-calibration.ts)
 * and renders it as the committed module identification-calibration-data.ts.
 *
 * Workload: impression 1 of `galleryFingers` synthetic fingers enrolled in a MatchEngine (every
 * template compared, no candidate index), probed with impression 2 of `probeFingers` other fingers:
 * galleryFingers x probeFingers impostor pairs (10,000,000 by default). Each search keeps its top
 * `keptPerProbe` scores, far more than the tail the fit reads. The population seed differs from the
 * one bench/identify.ts measures FPIR on, so that check is independent of this fit.
 *
 * The tail is heavier than exponential far out: fitted on the top 1% (as the FVC table is), an
 * exponential puts FMR 1e-7 at 0.134 where 3,000,000 pairs already hold a score of 0.181. The fit
 * therefore reads only the top `fitShare` of the pairs (at least `minFitScores` scores), where the
 * slope is what the extreme tail continues with, and the threshold is never below the empirical
 * quantile.
 */
import { BiopayError, ErrorCode } from '../errors.js';
import type { Calibration } from './calibration.js';
import { matcherName } from './calibrate.js';
import { writeIsoRecord } from './iso.js';
import { MatchEngine, type EnrollmentEntry } from './match-engine.js';
import { populationFinger, populationImpression } from './synthetic/index.js';

export const syntheticCalibrationSeed = 7_000_001;
export const identificationTargets = [1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-9] as const;
const keptPerProbe = 100;
const fitShare = 1e-5;
const minFitScores = 100;
/** Thresholds are rounded up to this grid (and kept strictly above the score they exclude). */
const grid = 1e6;
const enrollChunk = 2000;

export interface SyntheticCalibrationOptions {
  galleryFingers?: number;
  probeFingers?: number;
  workers?: number;
  /** Called now and then with a line of progress (for stderr). */
  progress?: (line: string) => void;
}

function iso(fingerId: number, impression: number): Uint8Array {
  const master = populationFinger(syntheticCalibrationSeed, fingerId);
  return writeIsoRecord(populationImpression(syntheticCalibrationSeed, master, fingerId, impression));
}

export interface ImpostorTail {
  /** The highest impostor scores, best first. */
  top: Float64Array;
  /** Impostor pairs scored in all. */
  pairs: number;
}

/**
 * Threshold for a target FMR: the larger of the empirical quantile (strictly above the score of
 * rank floor(fmr x pairs)) and an exponential fit of the top `fitShare` of the pairs,
 * P(score > s) = (k / pairs) exp(-(s - s_k) / beta), beta the mean excess over s_k.
 */
export function tailThreshold(tail: ImpostorTail, targetFmr: number): number {
  const { top, pairs } = tail;
  const fitted = Math.min(top.length, Math.max(minFitScores, Math.ceil(pairs * fitShare)));
  if (fitted < 2) throw new BiopayError(ErrorCode.BadRequest, 'too few impostor scores to fit a tail');
  const edge = top[fitted - 1]!;
  let excess = 0;
  for (let rank = 0; rank < fitted; rank++) excess += top[rank]! - edge;
  const fit = edge + (excess / fitted) * Math.log(fitted / pairs / targetFmr);
  const allowed = Math.floor(targetFmr * pairs);
  const empirical = allowed < top.length ? Math.floor(top[allowed]! * grid + 1) / grid : 0;
  return Math.max(empirical, Math.ceil(fit * grid) / grid);
}

async function impostorTail(engine: MatchEngine, galleryFingers: number, probeFingers: number, progress: (line: string) => void): Promise<ImpostorTail> {
  for (let from = 1; from <= galleryFingers; from += enrollChunk) {
    const entries: EnrollmentEntry[] = [];
    for (let fingerId = from; fingerId < Math.min(galleryFingers + 1, from + enrollChunk); fingerId++) entries.push({ id: `g${fingerId}`, isoBytes: iso(fingerId, 1) });
    await engine.addMany(entries);
    progress(`enrolled ${engine.size}/${galleryFingers}`);
  }
  const scores = new Float64Array(Math.min(keptPerProbe, engine.size) * probeFingers);
  let filled = 0;
  let pairs = 0;
  for (let probe = 1; probe <= probeFingers; probe++) {
    const fingerId = galleryFingers + probe;
    try {
      const { candidates } = await engine.identify(iso(fingerId, 2), { topK: Math.min(keptPerProbe, engine.size), candidates: 0 });
      for (const candidate of candidates) scores[filled++] = candidate.score;
      pairs += engine.size;
    } catch (error) {
      if (!(error instanceof BiopayError && error.code === ErrorCode.InvalidTemplate)) throw error;
    }
    if (probe % 50 === 0) progress(`probed ${probe}/${probeFingers}`);
  }
  const top = scores.slice(0, filled).sort().reverse();
  return { top, pairs };
}

export async function buildSyntheticCalibration(options: SyntheticCalibrationOptions = {}): Promise<Calibration> {
  const galleryFingers = options.galleryFingers ?? 5000;
  const probeFingers = options.probeFingers ?? 2000;
  const progress = options.progress ?? (() => undefined);
  const engine = await MatchEngine.create({ workers: options.workers ?? 2, capacityTemplates: galleryFingers, candidates: 0 });
  try {
    const tail = await impostorTail(engine, galleryFingers, probeFingers, progress);
    return {
      matcher: matcherName,
      impostorPairs: tail.pairs,
      method:
        `synthetic impostors (population seed ${syntheticCalibrationSeed}): impression 1 of ${engine.size} fingers x impression 2 of ` +
        `${probeFingers} other fingers; threshold = max(empirical quantile, exponential fit of the top ${fitShare} of pairs), rounded up`,
      points: identificationTargets.map((fmr) => ({ fmr, threshold: tailThreshold(tail, fmr) })),
    };
  } finally {
    await engine.close();
  }
}

export function syntheticCalibrationSource(calibration: Calibration): string {
  return [
    '/**',
    ' * Generated by buildSyntheticCalibration (core/biometrics/synthetic-calibration.ts); do not edit by hand:',
    ' *   npm run build && node dist/bench/main.js calibrate-1n',
    ' * Regenerate after any change to the matcher, its parameters or the synthetic generator.',
    ' */',
    "import type { Calibration } from './calibration.js';",
    '',
    `export const syntheticCalibration: Calibration = ${JSON.stringify(calibration, null, 2)};`,
    '',
  ].join('\n');
}
