/**
 * The impressions of one fingerprint enrollment narrowed to the template the gallery keeps
 * (core/biometrics/template-selection.ts): the request then carries that one impression only, so
 * the duplicate search, the partition and the enrollment stream see a single template as before.
 */
import { Modality, type EnrollRequest } from '../../proto/gen/biopay/v1/biometrics.js';
import { BiopayError, ErrorCode } from '../errors.js';
import type { ImpressionChoice } from '../biometrics/template-selection.js';

export interface NarrowedEnrollment {
  /** The request with `isoTemplate` the kept impression and no extra impressions. */
  request: EnrollRequest;
  /** Impressions offered (1 + extra impressions). */
  impressions: number;
  /** The kept impression: 0 is the request's isoTemplate, n its extraImpressions[n - 1]. */
  selectedImpression: number;
}

/** The engine's choice among ISO impressions (MatchEngine.chooseImpression: on a matcher thread). */
export type ImpressionChooser = (impressions: readonly Uint8Array[]) => Promise<ImpressionChoice>;

export async function narrowEnrollment(request: EnrollRequest, modality: Modality, choose: ImpressionChooser): Promise<NarrowedEnrollment> {
  const extras = request.extraImpressions;
  if (extras.length === 0) return { request, impressions: 1, selectedImpression: 0 };
  if (modality !== Modality.MODALITY_FINGERPRINT) {
    throw new BiopayError(ErrorCode.BadRequest, 'extra impressions are fingerprint records: a face or palm enrollment takes one embedding');
  }
  const impressions = [request.isoTemplate, ...extras];
  const { index } = await choose(impressions);
  return { request: { ...request, isoTemplate: impressions[index]!, extraImpressions: [] }, impressions: impressions.length, selectedImpression: index };
}
