/**
 * The search of a slice of a shared gallery against one probe: the pure kernel both the piscina
 * workers and the in-thread engine run. Imports only pure biometrics modules.
 *
 * Gallery memory (two SharedArrayBuffers, written only by the engine's thread):
 *   data: templates in matcher form (core/biometrics/template.ts), back to back, word aligned;
 *   directory: Int32 triples per slot [data word offset, word length (0 = removed), hint hash].
 * A slot is published by writing its directory entry after its data, and a search only reads the
 * slots that existed when it was dispatched, so readers never see a half-written template.
 */
import type { MccMatcher, TemplateRef } from './mcc-matcher.js';
import { TopK } from './top-k.js';

export const directoryStride = 3;

export interface GallerySlice {
  data: SharedArrayBuffer;
  directory: SharedArrayBuffer;
  fromSlot: number;
  toSlot: number;
  /**
   * Candidate slots chosen by the index, best first; when present, fromSlot and toSlot index this
   * list instead of the slots.
   */
  slots?: Int32Array;
  /** 0 = search every slot; otherwise only slots enrolled with this hint hash. */
  hintHash: number;
  topK: number;
}

/** What the engine posts to a worker: a slice and the probe in matcher form. */
export interface MatchTask extends GallerySlice {
  probe: Uint32Array;
}

export interface SliceResult {
  slots: Int32Array;
  scores: Float64Array;
  searched: number;
  /** A staged search stopped at a candidate reaching its accept score (the rest not compared). */
  stoppedEarly?: boolean;
}

/** Templates scored per matcher call (one native call each when the addon is built). */
const maxBatch = 1024;
// Reused by every search of this thread: searchSlice runs to completion, never interleaved.
const batchSlots = new Int32Array(maxBatch);
const batchBases = new Int32Array(maxBatch);
const batchScores = new Float64Array(maxBatch);

export function searchSlice(matcher: MccMatcher, probe: TemplateRef, slice: GallerySlice): SliceResult {
  const top = new TopK(Math.max(1, slice.topK));
  const searched = scanRange(matcher, probe, galleryView(slice), slice.fromSlot, slice.toSlot, top);
  return { ...top.result(), searched };
}

/**
 * First stage of a staged search, in candidates; each next stage is this many times larger. Two:
 * the index ranks the mate first or second in most searches that find one, so a found mate costs
 * about two comparisons instead of the eight a first stage of 8 took; a search that finds nobody
 * makes one more scoring call (2, 8, 32, 128, ... instead of 8, 32, 128, ...), the same comparisons.
 */
const firstStageCandidates = 2;
const stageGrowth = 4;

/**
 * A decision search over index candidates ranked best first: the first few are compared, and the
 * search stops there when one reaches `acceptScore` (a match the decision will take); otherwise
 * the next, larger stage, until every candidate was compared. The index ranks a mate first in
 * most searches, so a payment by an enrolled finger usually costs a few comparisons, while a
 * stranger's probe (no match to find) is compared with every candidate as before. An accept
 * score of 0 (no decision asked) compares every candidate: searchSlice.
 */
function searchStaged(matcher: MccMatcher, probe: TemplateRef, slice: GallerySlice, acceptScore: number): SliceResult {
  if (!(acceptScore > 0)) return searchSlice(matcher, probe, slice);
  const top = new TopK(Math.max(1, slice.topK));
  return stagedResult(top, scanStaged(matcher, probe, galleryView(slice), acceptScore, top));
}

/**
 * Ranked candidates compared: a decision search staged (searchStaged) and, given `wholeToSlot`,
 * followed by every other slot below it when no candidate decides (searchStagedWhole). The one
 * choice the engine's thread and the workers make alike.
 */
export function searchRanked(matcher: MccMatcher, probe: TemplateRef, ranked: GallerySlice & { slots: Int32Array }, acceptScore: number, wholeToSlot?: number): SliceResult {
  if (wholeToSlot !== undefined && acceptScore > 0) return searchStagedWhole(matcher, probe, ranked, acceptScore, wholeToSlot);
  return searchStaged(matcher, probe, ranked, acceptScore);
}

/**
 * A whole search in the index's order: the ranked candidates staged as searchStaged does, and,
 * when none reached `acceptScore`, every other live slot below `wholeToSlot` (hint-filtered) after
 * them. A search that finds nobody compares what an exhaustive search compares; one that finds its
 * mate among the first candidates stops there instead of comparing the whole community.
 */
function searchStagedWhole(matcher: MccMatcher, probe: TemplateRef, ranked: GallerySlice & { slots: Int32Array }, acceptScore: number, wholeToSlot: number): SliceResult {
  const top = new TopK(Math.max(1, ranked.topK));
  const view = galleryView(ranked);
  const staged = scanStaged(matcher, probe, view, acceptScore, top);
  if (staged.accepted) return stagedResult(top, staged);
  const rest = slotsNotIn(ranked.slots, ranked.fromSlot, ranked.toSlot, wholeToSlot);
  const searched = staged.searched + scanRange(matcher, probe, { ...view, slice: { ...ranked, slots: rest } }, 0, rest.length, top);
  return { ...top.result(), searched };
}

/** The slots below `toSlot` that are not among slots[from, to), ascending. */
function slotsNotIn(slots: Int32Array, from: number, to: number, toSlot: number): Int32Array {
  const taken = new Uint8Array(toSlot);
  for (let position = from; position < to; position++) {
    const slot = slots[position]!;
    if (slot >= 0 && slot < toSlot) taken[slot] = 1;
  }
  const rest = new Int32Array(toSlot);
  let count = 0;
  for (let slot = 0; slot < toSlot; slot++) if (taken[slot] === 0) rest[count++] = slot;
  return rest.subarray(0, count);
}

interface Staged {
  searched: number;
  accepted: boolean;
  /** Accepted before the last candidate: the rest were not compared. */
  stoppedEarly: boolean;
}

/** A staged search's answer: stoppedEarly is there when a candidate was accepted. */
function stagedResult(top: TopK, staged: Staged): SliceResult {
  if (!staged.accepted) return { ...top.result(), searched: staged.searched };
  return { ...top.result(), searched: staged.searched, stoppedEarly: staged.stoppedEarly };
}

/** The stages of a staged search into `top`: how many were compared, and whether one was accepted. */
function scanStaged(matcher: MccMatcher, probe: TemplateRef, view: GalleryView, acceptScore: number, top: TopK): Staged {
  const { slice } = view;
  let searched = 0;
  let from = slice.fromSlot;
  for (let stage = firstStageCandidates; from < slice.toSlot; stage *= stageGrowth) {
    const to = Math.min(slice.toSlot, from + stage);
    searched += scanRange(matcher, probe, view, from, to, top);
    from = to;
    if (top.size > 0 && top.scores[0]! >= acceptScore) return { searched, accepted: true, stoppedEarly: from < slice.toSlot };
  }
  return { searched, accepted: false, stoppedEarly: false };
}

/** Typed views of a slice's shared gallery buffers, made once per search. */
interface GalleryView {
  slice: GallerySlice;
  gallery: TemplateRef;
  directory: Int32Array;
}

function galleryView(slice: GallerySlice): GalleryView {
  return { slice, gallery: { words: new Uint32Array(slice.data), floats: new Float32Array(slice.data), base: 0 }, directory: new Int32Array(slice.directory) };
}

/** Offers the live slots at positions [from, to) of the slice (hint-filtered) to `top`; returns how many were compared. */
function scanRange(matcher: MccMatcher, probe: TemplateRef, view: GalleryView, from: number, to: number, top: TopK): number {
  const { slice, gallery, directory } = view;
  let searched = 0;
  let batched = 0;
  const flush = () => {
    matcher.scoreMany(probe, gallery, batchBases, batched, batchScores);
    for (let index = 0; index < batched; index++) top.offer(batchSlots[index]!, batchScores[index]!);
    batched = 0;
  };
  const candidates = slice.slots;
  for (let position = from; position < to; position++) {
    const slot = candidates === undefined ? position : candidates[position]!;
    const entry = slot * directoryStride;
    if (directory[entry + 1] === 0) continue;
    if (slice.hintHash !== 0 && directory[entry + 2] !== slice.hintHash) continue;
    batchSlots[batched] = slot;
    batchBases[batched] = directory[entry]!;
    batched++;
    searched++;
    if (batched === maxBatch) flush();
  }
  if (batched > 0) flush();
  return searched;
}
