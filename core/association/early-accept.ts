/**
 * The accept score of a fingerprint identify: a score at which a partition may stop comparing
 * (match-engine.ts, staged search), because the decision would take it as a match.
 *
 * The decision threshold grows with the population the search covers, which is known only when
 * the partitions answer. The score offered up front is the threshold for the population the last
 * search of the same hint covered plus a tenth, so it is at least the decision's threshold unless the
 * population grew more than that meanwhile; the caller checks that after the answer and searches
 * again in full when it did (see AssociationService.identify). A hint not seen yet gets 0: a full
 * search.
 *
 * The slack is kept small because an enrolled payer scoring between the decision's threshold and
 * the accept score is compared with every candidate although the decision takes the first: with
 * twice the population (the first slack), payers found cost 6.9 comparisons on average hinted (150
 * candidates) and 22.2 in full 1:N (600); with a tenth more, 5.5 and 15.5, the same decisions.
 */
export const POPULATION_SLACK = 1.1;
/** Hints remembered at most; when full the memory starts over (a few full searches, no harm). */
export const REMEMBERED_HINTS_MAX = 10_000;

export class EarlyAccept {
  readonly #populations = new Map<string, number>();

  /** `threshold(population)`: the decision threshold for a search covering that many templates. */
  scoreFor(hint: string, threshold: (population: number) => number): number {
    const population = this.#populations.get(hint);
    if (population === undefined) return 0;
    // Rounded up: a population is a whole number of templates (thresholds refuse anything else).
    return threshold(Math.ceil(Math.max(1, population) * POPULATION_SLACK));
  }

  remember(hint: string, population: number): void {
    if (!this.#populations.has(hint) && this.#populations.size >= REMEMBERED_HINTS_MAX) this.#populations.clear();
    this.#populations.set(hint, population);
  }
}
