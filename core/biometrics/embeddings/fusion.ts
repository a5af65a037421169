/**
 * Score-level fusion of the modalities of one capture (a fingerprint and a face, or a palm).
 *
 * Each modality's score becomes evidence e = -log10(FMR at that score) from the modality's
 * calibration table: how rare an impostor score this high is. Evidence is fused per candidate id
 * (the union of each modality's top-K), so a finger of one person and a face of another never add
 * up: ids must name the same identity in every gallery (the account), not a template.
 *
 * The decision threshold on the summed evidence is NOT simply -log10(target FMR): summing the
 * evidence of k independent modalities is Fisher's method, and for independent impostor scores
 * P(sum >= T) = c * sum_{i<k} (ln 1/c)^i / i!  with c = 10^-T,
 * so T = -log10(target) would let through ~15x the target at 1e-6 with two modalities. The
 * threshold below solves that equation for c instead, and equals -log10(target) for one modality.
 * It assumes that a modality's impostor scores are independent of another's (different sensors,
 * different models), and, as every per-comparison FMR, it is per compared identity: a 1:N search
 * over N identities has a false positive identification rate of up to N times it.
 */
import { BiopayError, ErrorCode } from '../../errors.js';
import { calibration as fingerprintCalibration, type Calibration, type CalibrationPoint } from '../calibration.js';

export type FusionModality = 'finger' | 'face' | 'palm';

export interface ScoredCandidate {
  id: string;
  score: number;
}

export interface ModalityEvidence {
  score: number;
  evidence: number;
}

export interface FusedCandidate {
  id: string;
  /** Sum of the modalities' evidence (a modality that did not list this id contributes 0). */
  evidence: number;
  modalities: Partial<Record<FusionModality, ModalityEvidence>>;
}

export interface ModalityInput {
  modality: FusionModality;
  candidates: readonly ScoredCandidate[];
  calibration: Calibration;
}

export interface FusionOptions {
  /** The face model's table (analyticCalibration, or better calibrateFromImpostorScores). */
  faceCalibration: Calibration;
  /** Default: the committed fingerprint table (core/biometrics/calibration-data.ts). */
  fingerCalibration?: Calibration;
}

export interface FusedDecision {
  match: boolean;
  reason: 'match' | 'below-threshold' | 'ambiguous' | 'no-candidates';
  /** The best fused candidate, whether or not it passed. */
  candidate: FusedCandidate | undefined;
  /** Evidence the best candidate needed (from the target FMR and the number of modalities). */
  requiredEvidence: number;
  candidates: FusedCandidate[];
}

/**
 * No modality may claim an FMR below 1e-10 however far its score lies beyond its table: the
 * extrapolation is a model, not a measurement.
 */
export const maxEvidencePerModality = 10;
const maxModalities = 3;
const maxCandidatesPerModality = 1000;
const maxIdLength = 256;
const bisectionSteps = 200;

/** Table points as (threshold, evidence), thresholds non-decreasing, one point per threshold. */
function evidencePoints(points: readonly CalibrationPoint[]): { threshold: number; evidence: number }[] {
  const sorted = [...points].sort((a, b) => b.fmr - a.fmr);
  const result: { threshold: number; evidence: number }[] = [];
  for (const point of sorted) {
    if (!(point.fmr > 0 && point.fmr < 1) || !Number.isFinite(point.threshold)) {
      throw new BiopayError(ErrorCode.BadRequest, 'calibration points need an FMR in (0, 1) and a finite threshold');
    }
    const threshold = Math.max(point.threshold, result.at(-1)?.threshold ?? -Infinity);
    if (result.at(-1)?.threshold === threshold) result.pop();
    result.push({ threshold, evidence: -Math.log10(point.fmr) });
  }
  if (result.length === 0) throw new BiopayError(ErrorCode.BadRequest, 'empty calibration table');
  return result;
}

/**
 * -log10(FMR at `score`), linear in the score between table points (the inverse of
 * thresholdFromTable) and along the nearest segment beyond them, clamped to [0, max]. For an
 * impostor tail whose log falls at least linearly (normal, exponential) the extrapolation on
 * either side under-states the evidence, i.e. errs toward fewer false matches.
 */
export function evidenceFromTable(points: readonly CalibrationPoint[], score: number, maxEvidence = maxEvidencePerModality): number {
  if (!Number.isFinite(score)) throw new BiopayError(ErrorCode.BadRequest, 'score must be finite');
  const table = evidencePoints(points);
  if (table.length === 1) return score >= table[0]!.threshold ? Math.min(maxEvidence, table[0]!.evidence) : 0;
  let upper = table.findIndex((point) => point.threshold >= score);
  if (upper <= 0) upper = upper === 0 ? 1 : table.length - 1;
  const [a, b] = [table[upper - 1]!, table[upper]!];
  const evidence = a.evidence + ((score - a.threshold) * (b.evidence - a.evidence)) / (b.threshold - a.threshold);
  return Math.min(maxEvidence, Math.max(0, evidence));
}

/** P(sum of k independent modalities' evidence >= T) at c = 10^-T: Gamma(k, 1) tail at ln(1/c). */
function fusedFalseMatchRate(modalities: number, evidence: number): number {
  const y = evidence * Math.LN10;
  let term = 1;
  let sum = 1;
  for (let index = 1; index < modalities; index++) {
    term *= y / index;
    sum += term;
  }
  return Math.exp(-y) * sum;
}

/** The summed evidence that k independent modalities must reach for a fused FMR of `targetFmr`. */
export function fusedEvidenceThreshold(targetFmr: number, modalities: number): number {
  if (!(targetFmr > 0 && targetFmr < 1)) throw new BiopayError(ErrorCode.BadRequest, 'target FMR must be in (0, 1)');
  if (!Number.isInteger(modalities) || modalities < 1 || modalities > maxModalities) {
    throw new BiopayError(ErrorCode.BadRequest, `modalities must be an integer in [1, ${maxModalities}]`);
  }
  const single = -Math.log10(targetFmr);
  if (modalities === 1) return single;
  let low = single;
  let high = single + 10 * modalities;
  for (let step = 0; step < bisectionSteps && fusedFalseMatchRate(modalities, high) > targetFmr; step++) high *= 2;
  for (let step = 0; step < bisectionSteps && high - low > 1e-12; step++) {
    const middle = (low + high) / 2;
    if (fusedFalseMatchRate(modalities, middle) > targetFmr) low = middle;
    else high = middle;
  }
  return high;
}

function checkCandidates(input: ModalityInput): void {
  if (!Array.isArray(input.candidates) || input.candidates.length > maxCandidatesPerModality) {
    throw new BiopayError(ErrorCode.BadRequest, `${input.modality}: at most ${maxCandidatesPerModality} candidates`);
  }
  for (const candidate of input.candidates) {
    if (typeof candidate?.id !== 'string' || candidate.id.length === 0 || candidate.id.length > maxIdLength || !Number.isFinite(candidate.score)) {
      throw new BiopayError(ErrorCode.BadRequest, `${input.modality}: a candidate needs a non-empty id and a finite score`);
    }
  }
}

/** Fused candidates of any set of distinct modalities, most evidence first (ties in id order). */
export function fuseModalities(inputs: readonly ModalityInput[]): FusedCandidate[] {
  if (inputs.length > maxModalities || new Set(inputs.map((input) => input.modality)).size !== inputs.length) {
    throw new BiopayError(ErrorCode.BadRequest, `at most ${maxModalities} distinct modalities`);
  }
  const fused = new Map<string, FusedCandidate>();
  for (const input of inputs) {
    checkCandidates(input);
    for (const { id, score } of input.candidates) {
      const entry = fused.get(id) ?? { id, evidence: 0, modalities: {} };
      const previous = entry.modalities[input.modality];
      // Several templates of one identity (two fingers): its best score speaks for it.
      if (previous !== undefined && previous.score >= score) continue;
      entry.modalities[input.modality] = { score, evidence: evidenceFromTable(input.calibration.points, score) };
      fused.set(id, entry);
    }
  }
  const candidates = [...fused.values()];
  for (const candidate of candidates) {
    candidate.evidence = Object.values(candidate.modalities).reduce((sum, part) => sum + part.evidence, 0);
  }
  return candidates.sort((a, b) => b.evidence - a.evidence || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/**
 * Decides a capture of `inputs.length` modalities against a target FMR. A match needs the best
 * identity to reach the fused threshold and no other identity to reach it too (two identities
 * passing, e.g. one person's finger and another's face, is a conflict, never a payment).
 */
export function decideModalities(inputs: readonly ModalityInput[], targetFmr: number): FusedDecision {
  if (inputs.length === 0) throw new BiopayError(ErrorCode.BadRequest, 'no modality to decide on');
  const requiredEvidence = fusedEvidenceThreshold(targetFmr, inputs.length);
  const candidates = fuseModalities(inputs);
  const [best, second] = candidates;
  const passes = (candidate: FusedCandidate | undefined) => candidate !== undefined && candidate.evidence >= requiredEvidence;
  const reason = best === undefined ? 'no-candidates' : !passes(best) ? 'below-threshold' : passes(second) ? 'ambiguous' : 'match';
  return { match: reason === 'match', reason, candidate: best, requiredEvidence, candidates };
}

function fingerFaceInputs(
  finger: readonly ScoredCandidate[] | undefined,
  face: readonly ScoredCandidate[] | undefined,
  options: FusionOptions,
): ModalityInput[] {
  const inputs: ModalityInput[] = [];
  if (finger !== undefined) inputs.push({ modality: 'finger', candidates: finger, calibration: options.fingerCalibration ?? fingerprintCalibration });
  if (face !== undefined) inputs.push({ modality: 'face', candidates: face, calibration: options.faceCalibration });
  return inputs;
}

/**
 * Fused candidates of a capture's finger and face top-K lists (pass undefined for a modality the
 * capture lacks; an empty list means it was searched and found nothing).
 */
export function fuseCandidates(
  finger: readonly ScoredCandidate[] | undefined,
  face: readonly ScoredCandidate[] | undefined,
  options: FusionOptions,
): FusedCandidate[] {
  return fuseModalities(fingerFaceInputs(finger, face, options));
}

export function decideFused(
  finger: readonly ScoredCandidate[] | undefined,
  face: readonly ScoredCandidate[] | undefined,
  options: FusionOptions & { targetFmr: number },
): FusedDecision {
  return decideModalities(fingerFaceInputs(finger, face, options), options.targetFmr);
}

export interface IdentityDecision extends FusedDecision {
  /** Modalities the reported candidate was judged on (those of the capture it is enrolled with). */
  judgedModalities: number;
}

/**
 * Like decideModalities, but each identity is judged only on the capture's modalities it is
 * enrolled with (`enrolledModalities(id)`, at least the ones that listed it): a customer enrolled
 * with a finger only must not need the evidence of two modalities because the terminal also has a
 * camera. Each identity is then one test at the target FMR with its own k, so the per-identity
 * false match rate is still the target. A match needs exactly one identity to pass.
 */
export function decideByIdentity(
  inputs: readonly ModalityInput[],
  targetFmr: number,
  enrolledModalities: (id: string) => number,
): IdentityDecision {
  if (inputs.length === 0) throw new BiopayError(ErrorCode.BadRequest, 'no modality to decide on');
  const candidates = fuseModalities(inputs);
  const judged = candidates.map((candidate) => {
    const listed = Object.keys(candidate.modalities).length;
    const modalities = Math.min(inputs.length, Math.max(listed, enrolledModalities(candidate.id)));
    const requiredEvidence = fusedEvidenceThreshold(targetFmr, modalities);
    return { candidate, modalities, requiredEvidence, margin: candidate.evidence - requiredEvidence };
  });
  const passing = judged.filter((entry) => entry.margin >= 0);
  // The reported candidate: the one passing, else the closest to passing.
  const reported = passing[0] ?? [...judged].sort((a, b) => b.margin - a.margin)[0];
  const reason = reported === undefined ? 'no-candidates' : passing.length === 0 ? 'below-threshold' : passing.length > 1 ? 'ambiguous' : 'match';
  return {
    match: reason === 'match',
    reason,
    candidate: reported?.candidate,
    requiredEvidence: reported?.requiredEvidence ?? fusedEvidenceThreshold(targetFmr, inputs.length),
    judgedModalities: reported?.modalities ?? inputs.length,
    candidates,
  };
}
