/**
 * The identification decision over the candidates every partition returned. One modality: the best
 * score against that modality's threshold for the target FMR (fingerprints exactly as before).
 * Several (a finger and a face): score-level fusion per account, each account judged on the
 * capture's modalities it is enrolled with (fusion.ts, decideByIdentity).
 */
import { Modality, type GalleryCandidate, type IdentifyResponse } from '../../proto/gen/biopay/v1/biometrics.js';
import { thresholdForFmr, type Calibration } from '../biometrics/calibration.js';
import { thresholdForFpir } from '../biometrics/identification-calibration.js';
import { embeddingThreshold } from '../biometrics/embeddings/calibration.js';
import { decideByIdentity, type FusionModality, type ModalityInput } from '../biometrics/embeddings/fusion.js';

export interface DecisionContext {
  /**
   * The fingerprint threshold for a target FMR per comparison over a 1:N search of `population`
   * templates (the node also holds the identification to its target FPIR: never looser than that).
   */
  fingerThreshold(targetFmr: number, population: number): number;
  /** Score-to-FMR tables per modality (finger for fusion; face and palm for both paths). */
  readonly calibrations: Readonly<Record<FusionModality, Calibration>>;
  /** How many of `modalities` the account has a credential of (in any partition). */
  enrolledModalities(accountId: string, modalities: readonly Modality[]): number;
}

/**
 * False positive identification rate a fingerprint identification is held to by default: with N
 * templates searched, a per-comparison FMR alone lets strangers match about N x FMR of the time
 * (1e-4 over a community of 1,000 would charge a wrong person for ~10% of unknown fingers).
 */
export const DEFAULT_TARGET_FPIR = 1e-3;

/**
 * The fingerprint threshold of a 1:N decision over `population` templates: the stricter of the
 * per-comparison target FMR and the target FPIR (FMR = FPIR / N, identification-calibration.ts).
 */
export function fingerIdentificationThreshold(targetFmr: number, population: number, targetFpir = DEFAULT_TARGET_FPIR): number {
  return Math.max(thresholdForFmr(targetFmr), thresholdForFpir(targetFpir, population));
}

export function fusionModality(modality: Modality): FusionModality {
  if (modality === Modality.MODALITY_FACE) return 'face';
  if (modality === Modality.MODALITY_PALM) return 'palm';
  return 'finger';
}

/** Candidates per modality kept after the merge (fusion refuses longer lists). */
const MERGED_CANDIDATES_MAX = 100;

/** Every partition's candidates of one modality, best first (ties in credential order). */
function ranked(candidates: readonly GalleryCandidate[], modality: Modality): GalleryCandidate[] {
  return candidates
    .filter((candidate) => candidate.modality === modality && candidate.accountId !== '')
    .sort((a, b) => b.score - a.score || (a.credentialId < b.credentialId ? -1 : a.credentialId > b.credentialId ? 1 : 0))
    .slice(0, MERGED_CANDIDATES_MAX);
}

/** Threshold of a single-modality decision. */
export function modalityThreshold(modality: Modality, targetFmr: number, context: DecisionContext, population: number): number {
  const name = fusionModality(modality);
  return name === 'finger' ? context.fingerThreshold(targetFmr, population) : embeddingThreshold(context.calibrations[name], targetFmr);
}

export function decideIdentity(
  candidates: readonly GalleryCandidate[],
  captured: readonly Modality[],
  targetFmr: number,
  context: DecisionContext,
  searched: number,
  fingerPopulation: number,
): IdentifyResponse {
  if (captured.length === 1) return decideSingle(ranked(candidates, captured[0]!), captured[0]!, targetFmr, context, searched, fingerPopulation);
  const lists = captured.map((modality) => ({ modality, list: ranked(candidates, modality) }));
  const inputs: ModalityInput[] = lists.map(({ modality, list }) => ({
    modality: fusionModality(modality),
    candidates: list.map((candidate) => ({ id: candidate.accountId, score: candidate.score })),
    calibration: context.calibrations[fusionModality(modality)],
  }));
  const decision = decideByIdentity(inputs, targetFmr, (accountId) => context.enrolledModalities(accountId, captured));
  const best = decision.candidate;
  const credentialId = best && decision.match ? strongestCredential(best.id, best.modalities, lists) : '';
  return {
    matched: decision.match && credentialId !== '',
    accountId: decision.match ? best!.id : '',
    credentialId,
    score: best?.evidence ?? 0,
    threshold: decision.requiredEvidence,
    candidatesSearched: searched,
  };
}

function decideSingle(
  list: readonly GalleryCandidate[], modality: Modality, targetFmr: number, context: DecisionContext, searched: number, fingerPopulation: number,
): IdentifyResponse {
  const threshold = modalityThreshold(modality, targetFmr, context, fingerPopulation);
  const best = list[0];
  const matched = best !== undefined && best.score >= threshold;
  return {
    matched,
    accountId: matched ? best.accountId : '',
    credentialId: matched ? best.credentialId : '',
    score: best?.score ?? 0,
    threshold,
    candidatesSearched: searched,
  };
}

/** The account's best credential in the modality that gave the most evidence (its policy applies). */
function strongestCredential(
  accountId: string,
  modalities: Partial<Record<FusionModality, { evidence: number }>>,
  lists: readonly { modality: Modality; list: readonly GalleryCandidate[] }[],
): string {
  const strongest = lists
    .filter(({ modality }) => modalities[fusionModality(modality)] !== undefined)
    .sort((a, b) => modalities[fusionModality(b.modality)]!.evidence - modalities[fusionModality(a.modality)]!.evidence)[0];
  return strongest?.list.find((candidate) => candidate.accountId === accountId)?.credentialId ?? '';
}
