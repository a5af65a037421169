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

export const directoryStride = 3;

export interface GallerySlice {
  data: SharedArrayBuffer;
  directory: SharedArrayBuffer;
  fromSlot: number;
  toSlot: number;
  /**
   * Candidate slots chosen by the index, ascending; when present, fromSlot and toSlot index this
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
}

/** Keeps the best k (slot, score) pairs, best first, by insertion into a short sorted list. */
class TopK {
  readonly slots: Int32Array;
  readonly scores: Float64Array;
  size = 0;

  constructor(private readonly k: number) {
    this.slots = new Int32Array(k);
    this.scores = new Float64Array(k);
  }

  offer(slot: number, score: number): void {
    if (this.size === this.k && score <= this.scores[this.k - 1]!) return;
    let index = this.size < this.k ? this.size++ : this.k - 1;
    while (index > 0 && this.scores[index - 1]! < score) {
      this.scores[index] = this.scores[index - 1]!;
      this.slots[index] = this.slots[index - 1]!;
      index--;
    }
    this.scores[index] = score;
    this.slots[index] = slot;
  }
}

export function searchSlice(matcher: MccMatcher, probe: TemplateRef, slice: GallerySlice): SliceResult {
  const words = new Uint32Array(slice.data);
  const gallery: TemplateRef = { words, floats: new Float32Array(slice.data), base: 0 };
  const directory = new Int32Array(slice.directory);
  const top = new TopK(Math.max(1, slice.topK));
  let searched = 0;
  const candidates = slice.slots;
  for (let position = slice.fromSlot; position < slice.toSlot; position++) {
    const slot = candidates === undefined ? position : candidates[position]!;
    const entry = slot * directoryStride;
    if (directory[entry + 1] === 0) continue;
    if (slice.hintHash !== 0 && directory[entry + 2] !== slice.hintHash) continue;
    gallery.base = directory[entry]!;
    top.offer(slot, matcher.score(probe, gallery));
    searched++;
  }
  return { slots: top.slots.slice(0, top.size), scores: top.scores.slice(0, top.size), searched };
}
