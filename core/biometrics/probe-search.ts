/**
 * A search task that carries the probe as the terminal sent it (ISO 19794-2 bytes): the worker
 * converts it into matcher form before searching its slice, so that the engine's thread (which
 * also runs the node's messaging) never builds cylinders. A record the matcher refuses comes back
 * as a typed refusal, not as a worker failure: errors thrown in a worker lose their code on the way
 * back to the engine's thread.
 */
import { BiopayError, isBiopayError } from '../errors.js';
import { CandidateIndex, type SharedCandidateIndex } from './candidate-index.js';
import { searchRanked, searchSlice, type GallerySlice, type SliceResult } from './gallery-search.js';
import type { MccMatcher } from './mcc-matcher.js';
import { templateRef } from './mcc-matcher.js';
import { matchableTemplateFromIso } from './template.js';

export interface IsoMatchTask extends GallerySlice {
  /** Its own buffer (a view into a larger one would copy all of it into the worker). */
  probeIso: Uint8Array;
}

/** Candidates chosen by a shared index, then compared: one task does the whole search. */
export interface IndexedMatchTask extends IsoMatchTask {
  index: SharedCandidateIndex;
  /** Candidates compared in full, at most. */
  limit: number;
  /** > 0: a decision search, staged, stopping at a candidate scoring this or more (gallery-search.ts). */
  acceptScore?: number;
  /**
   * With an accept score: when no candidate reaches it, every other slot of [0, toSlot) (with the
   * hint) is compared too, so that the search covers everything (gallery-search.ts searchRanked).
   */
  whole?: boolean;
}

export interface ProbeRefusal {
  refused: { code: string; message: string };
}

export type IsoSliceResult = SliceResult | ProbeRefusal;

export function isProbeRefusal<Answer extends object>(result: Answer | ProbeRefusal): result is ProbeRefusal {
  return (result as ProbeRefusal).refused !== undefined;
}

/** A worker's answer, or the refusal it carried thrown again as the typed error it was. */
export function acceptedAnswer<Answer extends object>(result: Answer | ProbeRefusal): Answer {
  if (isProbeRefusal(result)) throw new BiopayError(result.refused.code, result.refused.message);
  return result;
}

/**
 * `work`'s answer in a worker, or its typed refusal as data (a thrown error would reach the
 * engine as a worker failure); anything but a BiopayError is a bug and is thrown.
 */
export function answerOrRefusal<Answer>(work: () => Answer): Answer | ProbeRefusal {
  try {
    return work();
  } catch (error) {
    if (!isBiopayError(error)) throw error;
    return { refused: { code: error.code, message: error.message } };
  }
}

/** The probe in matcher form, or why it was refused. */
function convertProbe(task: IsoMatchTask): Uint32Array | ProbeRefusal {
  return answerOrRefusal(() => matchableTemplateFromIso(task.probeIso));
}

export function searchIsoSlice(matcher: MccMatcher, task: IsoMatchTask): IsoSliceResult {
  const probe = convertProbe(task);
  return probe instanceof Uint32Array ? searchSlice(matcher, templateRef(probe), task) : probe;
}

export function searchIndexedSlice(matcher: MccMatcher, task: IndexedMatchTask): IsoSliceResult {
  const chosen = chooseCandidates(task);
  if (!('slots' in chosen)) return chosen;
  const ranked = { ...task, slots: chosen.slots, fromSlot: 0, toSlot: chosen.slots.length };
  return searchRanked(matcher, templateRef(chosen.probe), ranked, task.acceptScore ?? 0, task.whole === true ? task.toSlot : undefined);
}

/** The probe converted and its candidates chosen, for the engine to split their comparison. */
export function chooseCandidates(task: IndexedMatchTask): { probe: Uint32Array; slots: Int32Array } | ProbeRefusal {
  const probe = convertProbe(task);
  if (!(probe instanceof Uint32Array)) return probe;
  return { probe, slots: candidateSlots(CandidateIndex.view(task.index), probe, task, task.limit) };
}

/** The index's best `limit` live slots of the slice's range (and of its hint, when it has one). */
export function candidateSlots(index: CandidateIndex, probe: Uint32Array, slice: GallerySlice, limit: number): Int32Array {
  return index.candidates(probe, slice.toSlot, limit, { directory: new Int32Array(slice.directory), hint: slice.hintHash });
}
