/**
 * 1:N fingerprint identification over a SharedArrayBuffer gallery. Templates are converted once,
 * at `add` (or in the workers with `addMany`), into the matcher form; a search is split into
 * slices searched by piscina workers (or in this thread with `workers: 0`) and the per-slice top-K
 * lists are merged. Scores are in [0, 1]; decide with a target FPIR (`identify(..., { targetFpir })`,
 * the threshold scaled by the templates the search covers) or, for 1:1, `thresholdForFmr`; never
 * a fixed number.
 */
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import { asBiopayError, BiopayError, ErrorCode } from '../errors.js';
import { thresholdForFmr } from './calibration.js';
import { CandidateIndex, maxIndexedSlots } from './candidate-index.js';
import { thresholdForFpir } from './identification-calibration.js';
import { convertBatch, type ConvertResult, type ConvertTask } from './convert-batch.js';
import { directoryStride, searchRanked, searchSlice, type MatchTask, type SliceResult } from './gallery-search.js';
import { MccMatcher, templateRef } from './mcc-matcher.js';
import { acceptedAnswer, candidateSlots, type IndexedMatchTask, type IsoMatchTask, type IsoSliceResult, type ProbeRefusal } from './probe-search.js';
import { SharedGallery, type GallerySnapshot } from './shared-gallery.js';
import { matchableTemplateFromIso } from './template.js';
import { chooseImpression, ENROLL_IMPRESSIONS_MAX, type ChooseImpressionTask, type ImpressionChoice } from './template-selection.js';

export interface MatchCandidate {
  id: string;
  score: number;
}

export interface MatchEngineOptions {
  /** Worker threads; 0 searches in the calling thread. Default: available cores. */
  workers?: number;
  /** Templates to allocate room for up front (the gallery grows past it). */
  capacityTemplates?: number;
  /** Hard limit on enrolled templates. */
  maxTemplates?: number;
  /**
   * Templates the full matcher compares per search, chosen by the candidate index (triplet
   * hashing, candidate-index.ts); 0 = no index, every template is compared. Galleries of at most
   * twice this size are searched exhaustively. Default 600: on 10,000 synthetic fingers the mate is
   * among the first 600 about as often as among the first 1,500 (within half a point of TPIR, see
   * candidate-index.ts) for 40% of the comparisons of a search that finds no match.
   */
  candidates?: number;
  /**
   * The same for searches narrowed by a hint (a merchant's community): default `candidates` when
   * that is given, else 1,500 (a community of up to 3,000 is compared whole: accuracy first). A
   * decision search compared whole still goes in the index's order and stops at a match, so a
   * community of 1,000 costs 1,000 comparisons only for a probe that matches nobody there; 100-150
   * index candidates cost less again for a point or two of identification rate
   * (`npm run bench -- community`).
   */
  hintedCandidates?: number;
  /**
   * Brownout (see candidatesUnderLoad): while searches queue for the matcher threads, new decision
   * searches compare fewer index candidates instead of waiting longer. Default false: every search
   * compares its configured count however long the queue. On the hinted target workload near a
   * 2-core VM's capacity its effect on refused touches was within the VM's run-to-run drift; with
   * 40% unknown fingers past capacity it refused 47 touches against 766 and approved 3% more payers
   * (one pair; docs/performance-history.md, 2026-12-06): an operator's choice, not a default.
   */
  brownout?: boolean;
  /** With brownout: the wait of the oldest search in flight past which searches shrink (default 20 ms). */
  brownoutWaitMs?: number;
}

export interface EnrollmentEntry {
  id: string;
  isoBytes: Uint8Array;
  hint?: string;
}

export interface IdentifyOptions {
  topK?: number;
  /**
   * Only templates enrolled with the same hint are searched (a merchant's community, a phone
   * suffix). Hints are compared by 32-bit hash: a rare collision only widens the search.
   */
  hint?: string;
  /** Overrides the engine's `candidates` for this search (0 = compare every template). */
  candidates?: number;
  /**
   * Decide the search: the best candidate is a `match` when its score reaches the threshold that
   * keeps the false positive identification rate of a search of this `population` under the
   * target (identification-calibration.ts). In (0, 1), e.g. 1e-3.
   */
  targetFpir?: number;
  /**
   * A score that decides the search (a caller's decision threshold, or above it): index candidates
   * are then compared best first in stages and the search stops at the first stage holding one
   * that reaches it (gallery-search.ts searchStaged). Defaults to the `targetFpir` threshold;
   * 0 compares every candidate. Searches compared whole (no index) always compare everything.
   */
  acceptScore?: number;
}

export interface IdentifyResult {
  /** Best first, at most topK. */
  candidates: MatchCandidate[];
  /** Templates the full matcher compared. */
  searched: number;
  /** Templates the search covered: the gallery, or those enrolled with the hint. */
  population: number;
  /** With `targetFpir`: the score the best candidate needed. */
  threshold?: number;
  /** With `targetFpir`: the best candidate when it reached the threshold. */
  match?: MatchCandidate;
  /** The search stopped at a candidate reaching the accept score, before comparing every candidate. */
  stoppedEarly?: boolean;
}

const defaultTopK = 10;
/** Templates compared in full per search over everyone, when no count is given (see MatchEngineOptions.candidates). */
export const DEFAULT_CANDIDATES = 600;
const defaultHintedCandidates = 1500;

/**
 * The candidate counts a search uses: the defaults, and a hinted search takes `candidates` when
 * only that is given (one rule for the engine and the nodes that split counts over partitions).
 */
export function candidateCounts(options: Pick<MatchEngineOptions, 'candidates' | 'hintedCandidates'>): { candidates: number; hintedCandidates: number } {
  return {
    candidates: options.candidates ?? DEFAULT_CANDIDATES,
    hintedCandidates: options.hintedCandidates ?? options.candidates ?? defaultHintedCandidates,
  };
}
const maxCandidates = 1_000_000;
const maxBulkEntries = 1_000_000;
/** Records per conversion task: large enough to amortise a task, small enough to spread. */
const recordsPerConvertTask = 128;
const maxTopK = 1000;
const maxIdLength = 256;
const maxHintLength = 256;
const defaultMaxTemplates = 2_000_000;
const defaultCapacity = 1024;
const queuedTasksPerWorker = 64;
/** Bulk conversion tasks in flight per worker: leaves queue room for searches meanwhile. */
const convertTasksPerWorker = 2;
/** Slices per worker, so that a slow slice does not hold the whole search. */
const slicesPerWorker = 2;
/**
 * Brownout (Klein et al., "Brownout: building more robust cloud applications", ICSE 2014): the
 * optional part of a search is its tail of index candidates, compared in full only for a probe
 * that matches nobody among the first (a stranger, or a payer scoring under the threshold): such a
 * search costs 150 comparisons where a found payer costs about 5. A clump of them stands the
 * matcher's queue for a few hundred ms on a machine near capacity, and the terminal node then
 * refuses touches. So once the oldest search in flight has waited longer than `brownoutWaitMs`
 * (the queue is standing, not a burst the threads are about to clear), a new search's limit
 * shrinks in proportion (configured x brownoutWaitMs / that wait), to a quarter of the configured
 * count at least and never under `brownoutCandidatesMin` (unless configured under it). The
 * decision's threshold follows the population searched, not the candidates, so false matches
 * cannot rise (fewer impostors are compared); a payer whose mate ranks past the shortened list is
 * not found (candidates 150 -> 64: TPIR 0.779 -> 0.773 hinted, docs/performance-history.md). Only
 * decision searches (an accept score) are browned out: a search for every candidate's score
 * (enrollment's duplicate search) keeps its count.
 *
 * A wait, not a count of searches in flight: with a count (over three per thread) searches were
 * browned out in ordinary bursts too, and 0.05-0.2% more payers went unfound near capacity.
 * 20 ms: about what 16 searches in flight (the terminal node's default) take on two threads. It
 * also bounds what a flood of unknown fingers (a probing attacker, a faulty sensor) costs the
 * matcher: every one of them would otherwise compare the whole candidate list.
 */
const defaultBrownoutWaitMs = 20;
const brownoutWaitMsMax = 10_000;
const brownoutShareMin = 0.25;
const brownoutCandidatesMin = 16;

/** The candidates a search may compare while the oldest search in flight has waited `oldestWaitMs`. */
export function candidatesUnderLoad(configured: number, oldestWaitMs: number, brownoutWaitMs = defaultBrownoutWaitMs): number {
  if (configured === 0 || !(oldestWaitMs > brownoutWaitMs)) return configured;
  const floor = Math.max(Math.ceil(configured * brownoutShareMin), Math.min(configured, brownoutCandidatesMin));
  return Math.max(floor, Math.ceil((configured * brownoutWaitMs) / oldestWaitMs));
}
/** Below this many slots a search is not worth splitting. */
const minSlotsPerSlice = 64;
/**
 * Hints with an index of their own, at most (0.8 MB each, 3 MB once large, plus 4 bytes per posting): a
 * hinted search then votes over its community's postings only, not the whole gallery's. Hints
 * beyond it are searched through the gallery's index, filtered: the same candidates, slower.
 */
const maxHintIndexes = 1024;
const hintIndexBucketBits = 16;
const hintIndexInitialBlocks = 1 << 8;
/**
 * A community that grows to this many templates gets its index rebuilt with 4x the buckets: a
 * community of 1,000 crowds 2^16 buckets enough to cost recall (its mate among the first 8 / 150
 * candidates: 65% / 84% at 16 bits, 74% / 89% at 18; synthetic, 250 probes), for 3 MB more.
 */
const largeHintTemplates = 256;
const largeHintIndexBucketBits = 18;
/**
 * A decision search over a population compared whole is ranked by the index first when it counts
 * at least minWholeRanked templates (smaller ones are cheap to compare as they are); the index
 * ranks at most maxWholeRanked of them (the default candidates of a search over everyone: a mate
 * ranked below is rare), and the rest follow in slot order.
 */
const minWholeRanked = 128;
const maxWholeRanked = DEFAULT_CANDIDATES;

/** Candidates the index ranks for a search, and whether every other slot follows them (indexPlan). */
interface IndexPlan {
  ranked: number;
  whole: boolean;
}

/** FNV-1a of the hint, never 0 (0 means "no hint"). */
function hintHash(hint: string | undefined): number {
  if (hint === undefined) return 0;
  let hash = 0x811c9dc5;
  for (let index = 0; index < hint.length; index++) hash = Math.imul(hash ^ hint.charCodeAt(index), 0x01000193);
  return hash === 0 ? 1 : hash;
}

function checkCandidates(value: number): void {
  if (!Number.isInteger(value) || value < 0 || value > maxCandidates) {
    throw new BiopayError(ErrorCode.BadRequest, `candidates must be an integer in [0, ${maxCandidates}]`);
  }
}

/** Scores are in [0, 1]: an accept score above 1 could never stop a search, below 0 is a mistake. */
function checkAcceptScore(value: number): number {
  if (!(Number.isFinite(value) && value >= 0 && value <= 1)) throw new BiopayError(ErrorCode.BadRequest, `acceptScore must be in [0, 1], got ${value}`);
  return value;
}

function checkText(value: string, what: string, maxLength: number): void {
  if (typeof value !== 'string' || value.length === 0 || value.length > maxLength) {
    throw new BiopayError(ErrorCode.BadRequest, `${what} must be a non-empty string of at most ${maxLength} characters`);
  }
}

/**
 * Tasks a matcher thread is given at once (piscina's concurrentTasksPerWorker; the thread runs them
 * one after another). Hinted load at 800/s, 2,000 enrolled, PostgreSQL, 20 s, single runs: with 1,
 * 2.22 / 2.30 ms of machine CPU per payment, p99 188 / 365 ms, the second run shedding 2,735
 * touches; with 2, 4 (two runs) or 8, none shed, 2.09-2.14 ms, p99 63-76 ms.
 */
const TASKS_HELD_PER_WORKER = 2;

/** The compiled worker next to this module under dist/, or the TS source run through tsx. */
function workerPool(threads: number): Piscina {
  const here = fileURLToPath(import.meta.url);
  const fromSource = here.endsWith('.ts');
  const filename = join(dirname(here), '..', '..', 'workers', fromSource ? 'match-worker.ts' : 'match-worker.js');
  return new Piscina({
    filename,
    minThreads: threads,
    maxThreads: threads,
    idleTimeout: Infinity,
    // Each worker holds its next task while it runs one: it starts it the moment it finishes,
    // instead of idling until this thread has read the answer and posted more (a wake-up each way
    // per task). Two, not more: tasks posted to a worker cannot move to the other when it frees.
    concurrentTasksPerWorker: TASKS_HELD_PER_WORKER,
    // Concurrent searches queue here; past the limit a search fails fast with UNAVAILABLE.
    maxQueue: threads * queuedTasksPerWorker,
    execArgv: fromSource ? ['--import', 'tsx'] : [],
  });
}

export class MatchEngine {
  private readonly gallery: SharedGallery;
  private readonly pool: Piscina | undefined;
  private readonly threads: number;
  private readonly localMatcher = new MccMatcher();
  /** Replaced, never cleared, when the gallery renumbers its slots: workers may still read the old one. */
  private index: CandidateIndex | undefined;
  /** Per hint hash, an index of the templates enrolled with it (when hinted searches use an index). */
  private hintIndexes = new Map<number, CandidateIndex>();
  private readonly candidateLimit: number;
  private readonly hintedCandidateLimit: number;
  private indexedGeneration = 0;
  /** Searches dispatched to the workers and not yet answered: past `threads`, searches are not split. */
  private searchesInFlight = 0;
  private readonly brownout: boolean;
  private readonly brownoutWaitMs: number;
  /** Searches that compared fewer candidates than configured (brownout), since the engine started. */
  private searchesBrownedOut = 0;
  /** With brownout: when each search in flight was handed to the workers, by token (oldest first). */
  private readonly searchStartsMs = new Map<number, number>();
  private nextSearchToken = 0;
  private closed = false;

  private constructor(options: Required<MatchEngineOptions>) {
    this.brownout = options.brownout;
    this.brownoutWaitMs = options.brownoutWaitMs;
    this.gallery = new SharedGallery(options.maxTemplates, options.capacityTemplates);
    this.candidateLimit = options.candidates;
    this.hintedCandidateLimit = options.hintedCandidates;
    this.index = options.candidates > 0 || options.hintedCandidates > 0 ? new CandidateIndex() : undefined;
    this.threads = options.workers;
    this.pool = options.workers > 0 ? workerPool(options.workers) : undefined;
  }

  static async create(options: MatchEngineOptions = {}): Promise<MatchEngine> {
    const workers = options.workers ?? availableParallelism();
    if (!Number.isInteger(workers) || workers < 0 || workers > 256) {
      throw new BiopayError(ErrorCode.BadRequest, 'workers must be an integer in [0, 256]');
    }
    const capacityTemplates = options.capacityTemplates ?? defaultCapacity;
    const maxTemplates = options.maxTemplates ?? defaultMaxTemplates;
    for (const [value, what] of [[capacityTemplates, 'capacityTemplates'], [maxTemplates, 'maxTemplates']] as const) {
      if (!Number.isInteger(value) || value < 1 || value > defaultMaxTemplates) {
        throw new BiopayError(ErrorCode.BadRequest, `${what} must be an integer in [1, ${defaultMaxTemplates}]`);
      }
    }
    const { candidates, hintedCandidates } = candidateCounts(options);
    checkCandidates(candidates);
    checkCandidates(hintedCandidates);
    const waitMs = options.brownoutWaitMs;
    if (waitMs !== undefined && !(waitMs > 0 && waitMs <= brownoutWaitMsMax)) {
      throw new BiopayError(ErrorCode.BadRequest, `brownoutWaitMs must be in (0, ${brownoutWaitMsMax}]`);
    }
    const engine = new MatchEngine({
      workers, capacityTemplates, maxTemplates: Math.min(maxTemplates, maxIndexedSlots / 2), candidates, hintedCandidates,
      brownout: options.brownout ?? false, brownoutWaitMs: options.brownoutWaitMs ?? defaultBrownoutWaitMs,
    });
    await engine.warmUp();
    return engine;
  }

  get size(): number {
    return this.gallery.size;
  }

  /** Memory held by the gallery and its candidate index (capacity planning), and searches browned out so far. */
  stats(): { templates: number; galleryBytes: number; galleryAllocatedBytes: number; indexBytes: number; searchesBrownedOut: number } {
    let indexBytes = this.index?.bytes ?? 0;
    for (const hintIndex of this.hintIndexes.values()) indexBytes += hintIndex.bytes;
    return {
      templates: this.gallery.size, galleryBytes: this.gallery.liveBytes, galleryAllocatedBytes: this.gallery.bytes, indexBytes,
      searchesBrownedOut: this.searchesBrownedOut,
    };
  }

  /** Enrolls (or replaces) a template; throws INVALID_TEMPLATE for a bad record. */
  add(id: string, isoBytes: Uint8Array, tags?: { hint?: string }): void {
    this.checkOpen();
    checkText(id, 'template id', maxIdLength);
    if (tags?.hint !== undefined) checkText(tags.hint, 'hint', maxHintLength);
    this.store(id, matchableTemplateFromIso(isoBytes), hintHash(tags?.hint));
  }

  /** Puts a template in the gallery and the index (rebuilt when the gallery renumbered its slots). */
  private store(id: string, template: Uint32Array, hint: number): void {
    const slot = this.gallery.put(id, template, hint);
    if (this.index === undefined) return;
    if (this.gallery.generation !== this.indexedGeneration) this.rebuildIndex();
    else this.indexSlot(slot, template, 0, hint);
  }

  private indexSlot(slot: number, words: Uint32Array, base: number, hint: number): void {
    this.index!.add(slot, words, base);
    if (hint === 0 || this.hintedCandidateLimit === 0) return;
    let hintIndex = this.hintIndexes.get(hint);
    if (hintIndex === undefined && this.hintIndexes.size < maxHintIndexes) {
      hintIndex = new CandidateIndex(this.hintIndexBits(hint), hintIndexInitialBlocks);
      this.hintIndexes.set(hint, hintIndex);
    }
    // The slot is in the gallery already: a rebuilt index holds it.
    if (hintIndex !== undefined && hintIndex.bucketBits < this.hintIndexBits(hint)) this.rebuildHintIndex(hint);
    else hintIndex?.add(slot, words, base);
  }

  private hintIndexBits(hint: number): number {
    return this.gallery.hintCount(hint) >= largeHintTemplates ? largeHintIndexBucketBits : hintIndexBucketBits;
  }

  /** The hint's index anew, at the size its community has reached (searches hold the old one's tables). */
  private rebuildHintIndex(hint: number): void {
    const hintIndex = new CandidateIndex(this.hintIndexBits(hint), hintIndexInitialBlocks);
    this.forEachLiveSlot((slot, words, base, slotHint) => {
      if (slotHint === hint) hintIndex.add(slot, words, base);
    });
    this.hintIndexes.set(hint, hintIndex);
  }

  /** Every live slot of the gallery as it is now, with its template's words, offset and hint hash. */
  private forEachLiveSlot(visit: (slot: number, words: Uint32Array, base: number, hint: number) => void): void {
    const snapshot = this.gallery.snapshot();
    const words = new Uint32Array(snapshot.data);
    const directory = new Int32Array(snapshot.directory);
    for (let slot = 0; slot < snapshot.slotCount; slot++) {
      const entry = slot * directoryStride;
      if (directory[entry + 1] !== 0) visit(slot, words, directory[entry]!, directory[entry + 2]!);
    }
  }

  private rebuildIndex(): void {
    this.index = new CandidateIndex();
    this.hintIndexes = new Map();
    // Hint indexes are created at their community's final size here: none is rebuilt on the way.
    this.forEachLiveSlot((slot, words, base, hint) => this.indexSlot(slot, words, base, hint));
    this.indexedGeneration = this.gallery.generation;
  }

  /**
   * Bulk enrollment (an association node rebuilding its gallery): records are converted by the
   * workers in parallel, then stored in the order given (a later entry replaces an earlier one with
   * the same id). Bad entries are reported, not thrown, so one bad record does not stop the rest.
   */
  async addMany(entries: readonly EnrollmentEntry[]): Promise<{ added: number; refused: { id: string; code: string; reason: string }[] }> {
    this.checkOpen();
    if (entries.length > maxBulkEntries) throw new BiopayError(ErrorCode.BadRequest, `at most ${maxBulkEntries} entries per call`);
    const refused: { id: string; code: string; reason: string }[] = [];
    const valid = entries.filter((entry) => {
      try {
        checkText(entry.id, 'template id', maxIdLength);
        if (entry.hint !== undefined) checkText(entry.hint, 'hint', maxHintLength);
        return true;
      } catch (error) {
        refused.push({ id: String(entry.id), code: ErrorCode.BadRequest, reason: (error as Error).message });
        return false;
      }
    });
    const results = await this.convertAll(valid.map((entry) => entry.isoBytes));
    this.checkOpen();
    let added = 0;
    results.forEach((result, batch) => {
      result.templates.forEach((template, index) => {
        const entry = valid[batch * recordsPerConvertTask + index]!;
        if (template === null) {
          refused.push({ id: entry.id, code: ErrorCode.InvalidTemplate, reason: result.reasons[index] ?? 'invalid template' });
          return;
        }
        try {
          this.store(entry.id, template, hintHash(entry.hint));
          added++;
        } catch (error) {
          const reason = asBiopayError(error);
          refused.push({ id: entry.id, code: reason.code, reason: reason.message });
        }
      });
    });
    return { added, refused };
  }

  remove(id: string): boolean {
    this.checkOpen();
    return this.gallery.remove(id);
  }

  async identify(isoBytes: Uint8Array, options: IdentifyOptions = {}): Promise<IdentifyResult> {
    this.checkOpen();
    const topK = options.topK ?? defaultTopK;
    if (!Number.isInteger(topK) || topK < 1 || topK > maxTopK) throw new BiopayError(ErrorCode.BadRequest, `topK must be an integer in [1, ${maxTopK}]`);
    if (options.hint !== undefined) checkText(options.hint, 'hint', maxHintLength);
    const hint = hintHash(options.hint);
    const configured = options.candidates ?? (hint === 0 ? this.candidateLimit : this.hintedCandidateLimit);
    checkCandidates(configured);
    const snapshot = this.gallery.snapshot();
    const population = hint === 0 ? this.gallery.size : this.gallery.hintCount(hint);
    // Checked before the search: a bad target must not cost a search.
    const threshold = options.targetFpir === undefined ? undefined : thresholdForFpir(options.targetFpir, population);
    const acceptScore = checkAcceptScore(options.acceptScore ?? threshold ?? 0);
    const limit = acceptScore > 0 ? this.limitNow(configured) : configured;
    const plan = this.indexPlan(population, limit, acceptScore);
    const results = this.pool === undefined
      ? this.searchHere(matchableTemplateFromIso(isoBytes), snapshot, { topK, hint, acceptScore }, plan)
      : plan === undefined
        ? await this.searchIso(isoBytes, snapshot, topK, hint)
        : await this.searchIndexed(isoBytes, snapshot, topK, hint, plan, acceptScore);
    // Fields are set on the merged result, not spread into a new one: a spread followed by a new
    // property takes V8's slow path (about 1 µs a property on Node 20), on every payment's search.
    const merged = this.merge(results, snapshot, topK, population);
    if (results.some((result) => result.stoppedEarly === true)) merged.stoppedEarly = true;
    if (threshold === undefined) return merged;
    merged.threshold = threshold;
    const best = merged.candidates[0];
    if (best !== undefined && best.score >= threshold) merged.match = best;
    return merged;
  }

  /**
   * A decision search's candidates: as configured, or fewer while searches queue for the matcher
   * threads (brownout). A search without an accept score asks for the scores of every candidate
   * (enrollment's duplicate search, evaluations) and keeps its count.
   */
  private limitNow(configured: number): number {
    if (!this.brownout || this.pool === undefined) return configured;
    // Insertion order: the first start time left is the oldest search's.
    const oldestStartMs = this.searchStartsMs.values().next().value;
    const limit = oldestStartMs === undefined ? configured : candidatesUnderLoad(configured, performance.now() - oldestStartMs, this.brownoutWaitMs);
    if (limit < configured) this.searchesBrownedOut++;
    return limit;
  }

  /**
   * How a search uses the index, the same with workers and without: undefined compares every slot
   * (no index, or a population within twice the limit and no decision asked); `ranked` candidates
   * from the index otherwise. A decision search over a population within twice the limit is
   * `whole`: the index's order first, so that it usually stops at the mate among the first
   * candidates, then every other slot, so that a probe matching nobody is compared with everyone.
   */
  private indexPlan(population: number, limit: number, acceptScore: number): IndexPlan | undefined {
    if (this.index === undefined || limit === 0) return undefined;
    if (population > 2 * limit) return { ranked: limit, whole: false };
    return acceptScore > 0 && population >= minWholeRanked ? { ranked: Math.min(limit, maxWholeRanked), whole: true } : undefined;
  }

  /** Without worker threads: conversion, index and comparisons in this thread. */
  private searchHere(probe: Uint32Array, snapshot: GallerySnapshot, search: { topK: number; hint: number; acceptScore: number }, plan: IndexPlan | undefined): SliceResult[] {
    const base = { data: snapshot.data, directory: snapshot.directory, hintHash: search.hint, topK: search.topK };
    const every = { ...base, fromSlot: 0, toSlot: snapshot.slotCount };
    if (plan === undefined) return [searchSlice(this.localMatcher, templateRef(probe), every)];
    const slots = candidateSlots(this.indexFor(search.hint), probe, every, plan.ranked);
    const ranked = { ...base, slots, fromSlot: 0, toSlot: slots.length };
    return [searchRanked(this.localMatcher, templateRef(probe), ranked, search.acceptScore, plan.whole ? snapshot.slotCount : undefined)];
  }

  /** The hint's own index when it has one, else the gallery's (its candidates filtered by hint). */
  private indexFor(hint: number): CandidateIndex {
    return (hint === 0 ? undefined : this.hintIndexes.get(hint)) ?? this.index!;
  }

  /**
   * One worker converts the probe, asks the (shared) index for candidates and compares them: the
   * engine's thread, which also carries the node's messaging, does none of it.
   */
  private async searchIndexed(isoBytes: Uint8Array, snapshot: GallerySnapshot, topK: number, hint: number, plan: IndexPlan, acceptScore: number): Promise<SliceResult[]> {
    const limit = plan.ranked;
    const task: IndexedMatchTask = {
      data: snapshot.data, directory: snapshot.directory, hintHash: hint, topK, probeIso: isoBytes.slice(),
      fromSlot: 0, toSlot: snapshot.slotCount, index: this.indexFor(hint).shared(), limit, acceptScore, whole: plan.whole,
    };
    // Idle workers and many candidates: the comparisons are shared out (latency of a lone search).
    // A staged search is not: it usually ends after its first few comparisons.
    if (acceptScore === 0 && this.sliceCount(limit, this.threads * slicesPerWorker) > 1) {
      const chosen = acceptedAnswer(await this.tracked(this.runTask(task, 'candidates') as Promise<{ probe: Uint32Array; slots: Int32Array } | ProbeRefusal>));
      return this.searchSlices(chosen.probe, snapshot, topK, hint, chosen.slots);
    }
    return [acceptedAnswer(await this.tracked(this.runTask(task, 'searchIndexed') as Promise<IsoSliceResult>))];
  }

  /**
   * Every slot compared, the probe converted by the workers: one slice per worker when they are
   * idle (latency), one slice in all when searches already wait (throughput: no probe converted
   * twice, no merge).
   */
  private async searchIso(isoBytes: Uint8Array, snapshot: GallerySnapshot, topK: number, hint: number): Promise<SliceResult[]> {
    const probeIso = isoBytes.slice();
    const slices = this.sliceCount(snapshot.slotCount, this.threads);
    const step = Math.max(1, Math.ceil(snapshot.slotCount / slices));
    const tasks: Promise<IsoSliceResult>[] = [];
    for (let from = 0; from === 0 || from < snapshot.slotCount; from += step) {
      const task: IsoMatchTask = { data: snapshot.data, directory: snapshot.directory, hintHash: hint, topK, probeIso, fromSlot: from, toSlot: Math.min(snapshot.slotCount, from + step) };
      tasks.push(this.runTask(task, 'searchIso') as Promise<IsoSliceResult>);
    }
    return (await this.tracked(Promise.all(tasks))).map(acceptedAnswer);
  }

  /** Slices for a search of `total` slots, at most `most`: 1 while other searches are in flight. */
  private sliceCount(total: number, most: number): number {
    if (this.searchesInFlight >= this.threads) return 1;
    return Math.max(1, Math.min(most, Math.floor(total / minSlotsPerSlice)));
  }

  private async tracked<T>(work: Promise<T>): Promise<T> {
    this.searchesInFlight++;
    const token = this.nextSearchToken++;
    if (this.brownout) this.searchStartsMs.set(token, performance.now());
    try {
      return await work;
    } finally {
      this.searchesInFlight--;
      if (this.brownout) this.searchStartsMs.delete(token);
    }
  }

  /** Score threshold reaching the target per-comparison false match rate (FVC2002 impostors): for 1:1. */
  thresholdForFmr(targetFmr = 1e-4): number {
    return thresholdForFmr(targetFmr);
  }

  /**
   * Score threshold keeping the false positive identification rate under `targetFpir` for a search
   * covering `population` templates (default: the whole gallery).
   */
  thresholdForFpir(targetFpir: number, population = this.gallery.size): number {
    return thresholdForFpir(targetFpir, population);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool?.destroy();
  }

  private checkOpen(): void {
    if (this.closed) throw new BiopayError(ErrorCode.Stopped, 'match engine is closed');
  }

  /** Starts every worker thread now rather than on the first search. */
  private async warmUp(): Promise<void> {
    if (this.pool === undefined) return;
    const empty = this.gallery.snapshot();
    const probe = new Uint32Array(2);
    const idle = { data: empty.data, directory: empty.directory, fromSlot: 0, toSlot: 0, hintHash: 0, topK: 1, probe };
    await Promise.all(Array.from({ length: this.threads }, () => this.pool!.run(idle)));
  }

  /**
   * Of several ISO impressions of one finger, the one an enrollment keeps (template-selection.ts),
   * chosen on a matcher thread: converting and comparing them is the CPU of a small search.
   */
  async chooseImpression(impressions: readonly Uint8Array[]): Promise<ImpressionChoice> {
    this.checkOpen();
    // Too many are refused here (BAD_REQUEST), before the records would be posted to a worker.
    if (this.pool === undefined || impressions.length > ENROLL_IMPRESSIONS_MAX) return chooseImpression(this.localMatcher, impressions);
    const task: ChooseImpressionTask = { impressions: [...impressions] };
    return acceptedAnswer(await this.runTask(task, 'chooseImpression') as ImpressionChoice | ProbeRefusal);
  }

  /** Splits the candidate list into slices compared by the workers. */
  private async searchSlices(probe: Uint32Array, snapshot: GallerySnapshot, topK: number, hint: number, slots: Int32Array): Promise<SliceResult[]> {
    const base = { data: snapshot.data, directory: snapshot.directory, hintHash: hint, topK, slots };
    const total = slots.length;
    const slices = this.sliceCount(total, this.threads * slicesPerWorker);
    const step = Math.max(1, Math.ceil(total / slices));
    const tasks: Promise<SliceResult>[] = [];
    for (let from = 0; from < total; from += step) {
      const task = { ...base, probe, fromSlot: from, toSlot: Math.min(total, from + step) };
      tasks.push(this.runTask(task) as Promise<SliceResult>);
    }
    return this.tracked(Promise.all(tasks));
  }

  /** Batches of `recordsPerConvertTask` records, a bounded number in flight at a time. */
  private async convertAll(records: Uint8Array[]): Promise<ConvertResult[]> {
    const batches = Math.ceil(records.length / recordsPerConvertTask);
    const results: ConvertResult[] = new Array(batches);
    let next = 0;
    const lane = async () => {
      for (let batch = next++; batch < batches; batch = next++) {
        const task: ConvertTask = { records: records.slice(batch * recordsPerConvertTask, (batch + 1) * recordsPerConvertTask) };
        results[batch] = this.pool === undefined ? convertBatch(task) : ((await this.runTask(task, 'convert')) as ConvertResult);
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, this.threads * convertTasksPerWorker) }, lane));
    return results;
  }

  /** Pool failures (queue full, pool destroyed, worker crash) as typed errors. */
  private async runTask(task: MatchTask | IsoMatchTask | IndexedMatchTask | ConvertTask | ChooseImpressionTask, name = 'default'): Promise<unknown> {
    try {
      return await this.pool!.run(task, { name });
    } catch (error) {
      if (this.closed) throw new BiopayError(ErrorCode.Stopped, 'match engine closed during the search', { cause: error });
      // Say which: an overloaded node (shed load, retry elsewhere) is not a crashed worker (a bug).
      const queueFull = /queue is at limit/i.test(String((error as Error)?.message));
      const reason = queueFull ? `match queue full (${this.pool!.options.maxQueue} tasks waiting): the node is overloaded` : 'match worker failed';
      throw new BiopayError(ErrorCode.Unavailable, reason, { cause: error });
    }
  }

  private merge(results: SliceResult[], snapshot: GallerySnapshot, topK: number, population: number): IdentifyResult {
    const candidates: MatchCandidate[] = [];
    let searched = 0;
    for (const result of results) {
      searched += result.searched;
      result.slots.forEach((slot, index) => {
        const id = snapshot.slotIds[slot];
        // Removed while the search ran: never report a deleted enrollment.
        if (id !== undefined && this.gallery.has(id)) candidates.push({ id, score: result.scores[index]! });
      });
    }
    candidates.sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    return { candidates: candidates.slice(0, topK), searched, population };
  }
}
