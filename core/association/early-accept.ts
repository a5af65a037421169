/**
 * The accept score of a fingerprint identify: a score at which a partition may stop comparing
 * (match-engine.ts, staged search), because the decision would take it as a match.
 *
 * The decision threshold grows with the population the search covers, which is known only when
 * the partitions answer. The score offered up front is the threshold for twice the population the
 * last search of the same hint covered, so it is at least the decision's threshold unless the
 * population doubled meanwhile; the caller checks that after the answer and searches again in full
 * when it did (see AssociationService.identify). A hint not seen yet gets 0: a full search.
 */
export const POPULATION_SLACK = 2;
/** Hints remembered at most; when full the memory starts over (a few full searches, no harm). */
export const REMEMBERED_HINTS_MAX = 10_000;

export class EarlyAccept {
  readonly #populations = new Map<string, number>();

  /** `threshold(population)`: the decision threshold for a search covering that many templates. */
  scoreFor(hint: string, threshold: (population: number) => number): number {
    const population = this.#populations.get(hint);
    if (population === undefined) return 0;
    return threshold(Math.max(1, population) * POPULATION_SLACK);
  }

  remember(hint: string, population: number): void {
    if (!this.#populations.has(hint) && this.#populations.size >= REMEMBERED_HINTS_MAX) this.#populations.clear();
    this.#populations.set(hint, population);
  }
}
