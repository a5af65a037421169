/**
 * The best k (slot, score) pairs of a gallery scan, best first: insertion into a short sorted list,
 * cheaper than a heap for the small k a search asks (k <= 1000, usually 1-10). Shared by the
 * fingerprint and the embedding search kernels; allocation-free per offer.
 */
export interface ScoredSlots {
  slots: Int32Array;
  scores: Float64Array;
}

export class TopK {
  readonly slots: Int32Array;
  readonly scores: Float64Array;
  size = 0;

  constructor(private readonly k: number) {
    this.slots = new Int32Array(k);
    this.scores = new Float64Array(k);
  }

  /** Equal scores rank the lower slot first, whatever order the slots are offered in. */
  offer(slot: number, score: number): void {
    if (this.size === this.k && !this.beats(score, slot, this.k - 1)) return;
    let index = this.size < this.k ? this.size++ : this.k - 1;
    for (; index > 0 && this.beats(score, slot, index - 1); index--) {
      this.scores[index] = this.scores[index - 1]!;
      this.slots[index] = this.slots[index - 1]!;
    }
    this.scores[index] = score;
    this.slots[index] = slot;
  }

  private beats(score: number, slot: number, index: number): boolean {
    const kept = this.scores[index]!;
    return score > kept || (score === kept && slot < this.slots[index]!);
  }

  /** The kept pairs, copied out (the result travels back from a worker). */
  result(): ScoredSlots {
    return { slots: this.slots.slice(0, this.size), scores: this.scores.slice(0, this.size) };
  }
}
