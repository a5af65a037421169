/**
 * 1:N fingerprint identification over a SharedArrayBuffer gallery. Templates are converted once,
 * at `add`, into the matcher form; a search is split into slices searched by piscina workers (or
 * in this thread with `workers: 0`) and the per-slice top-K lists are merged.
 */
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import { BiopayError, ErrorCode } from '../errors.js';
import { thresholdForFmr } from './calibration.js';
import { searchSlice, type SliceResult } from './gallery-search.js';
import { MccMatcher, templateRef } from './mcc-matcher.js';
import { SharedGallery, type GallerySnapshot } from './shared-gallery.js';
import { templateFromIso } from './template.js';

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
}

export interface IdentifyOptions {
  topK?: number;
  /** Only templates enrolled with the same hint are searched. */
  hint?: string;
}

const defaultTopK = 10;
const maxTopK = 1000;
const maxIdLength = 256;
const maxHintLength = 256;
const defaultMaxTemplates = 2_000_000;
const defaultCapacity = 1024;
/** Fewer usable minutiae than this cannot give a meaningful score. */
const minUsableMinutiae = 4;
/** Slices per worker, so that a slow slice does not hold the whole search. */
const slicesPerWorker = 2;
/** Below this many slots a search is not worth splitting. */
const minSlotsPerSlice = 64;

/** FNV-1a of the hint, never 0 (0 means "no hint"). */
function hintHash(hint: string | undefined): number {
  if (hint === undefined) return 0;
  let hash = 0x811c9dc5;
  for (let index = 0; index < hint.length; index++) hash = Math.imul(hash ^ hint.charCodeAt(index), 0x01000193);
  return hash === 0 ? 1 : hash;
}

function checkText(value: string, what: string, maxLength: number): void {
  if (typeof value !== 'string' || value.length === 0 || value.length > maxLength) {
    throw new BiopayError(ErrorCode.BadRequest, `${what} must be a non-empty string of at most ${maxLength} characters`);
  }
}

/** Matcher form of a record, refused when too few minutiae are usable to match anything. */
function matchableTemplate(isoBytes: Uint8Array): Uint32Array {
  const template = templateFromIso(isoBytes);
  if (template[1]! < minUsableMinutiae) {
    throw new BiopayError(ErrorCode.InvalidTemplate, `too few usable minutiae (${template[1]}, at least ${minUsableMinutiae} needed)`);
  }
  return template;
}

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
    maxQueue: 'auto',
    execArgv: fromSource ? ['--import', 'tsx'] : [],
  });
}

export class MatchEngine {
  private readonly gallery: SharedGallery;
  private readonly pool: Piscina | undefined;
  private readonly threads: number;
  private readonly localMatcher = new MccMatcher();
  private closed = false;

  private constructor(options: Required<MatchEngineOptions>) {
    this.gallery = new SharedGallery(options.maxTemplates, options.capacityTemplates);
    this.threads = options.workers;
    this.pool = options.workers > 0 ? workerPool(options.workers) : undefined;
  }

  static async create(options: MatchEngineOptions = {}): Promise<MatchEngine> {
    const workers = options.workers ?? availableParallelism();
    if (!Number.isInteger(workers) || workers < 0 || workers > 256) {
      throw new BiopayError(ErrorCode.BadRequest, 'workers must be an integer in [0, 256]');
    }
    const engine = new MatchEngine({
      workers,
      capacityTemplates: options.capacityTemplates ?? defaultCapacity,
      maxTemplates: options.maxTemplates ?? defaultMaxTemplates,
    });
    await engine.warmUp();
    return engine;
  }

  get size(): number {
    return this.gallery.size;
  }

  /** Enrolls (or replaces) a template; throws INVALID_TEMPLATE for a bad record. */
  add(id: string, isoBytes: Uint8Array, tags?: { hint?: string }): void {
    this.checkOpen();
    checkText(id, 'template id', maxIdLength);
    if (tags?.hint !== undefined) checkText(tags.hint, 'hint', maxHintLength);
    this.gallery.put(id, matchableTemplate(isoBytes), hintHash(tags?.hint));
  }

  remove(id: string): boolean {
    this.checkOpen();
    return this.gallery.remove(id);
  }

  async identify(isoBytes: Uint8Array, options: IdentifyOptions = {}): Promise<{ candidates: MatchCandidate[]; searched: number }> {
    this.checkOpen();
    const topK = options.topK ?? defaultTopK;
    if (!Number.isInteger(topK) || topK < 1 || topK > maxTopK) throw new BiopayError(ErrorCode.BadRequest, `topK must be an integer in [1, ${maxTopK}]`);
    if (options.hint !== undefined) checkText(options.hint, 'hint', maxHintLength);
    const probe = matchableTemplate(isoBytes);
    const snapshot = this.gallery.snapshot();
    const results = await this.searchSlices(probe, snapshot, topK, hintHash(options.hint));
    return this.merge(results, snapshot, topK);
  }

  /** Score threshold reaching the target false match rate (calibrated on FVC2002 impostors). */
  thresholdForFmr(targetFmr = 1e-4): number {
    return thresholdForFmr(targetFmr);
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

  private async searchSlices(probe: Uint32Array, snapshot: GallerySnapshot, topK: number, hint: number): Promise<SliceResult[]> {
    const base = { data: snapshot.data, directory: snapshot.directory, hintHash: hint, topK };
    if (this.pool === undefined) {
      return [searchSlice(this.localMatcher, templateRef(probe), { ...base, fromSlot: 0, toSlot: snapshot.slotCount })];
    }
    const slices = Math.max(1, Math.min(this.threads * slicesPerWorker, Math.floor(snapshot.slotCount / minSlotsPerSlice)));
    const step = Math.ceil(snapshot.slotCount / slices);
    const tasks: Promise<SliceResult>[] = [];
    for (let from = 0; from < snapshot.slotCount; from += step) {
      const task = { ...base, probe, fromSlot: from, toSlot: Math.min(snapshot.slotCount, from + step) };
      tasks.push(this.pool.run(task) as Promise<SliceResult>);
    }
    return Promise.all(tasks);
  }

  private merge(results: SliceResult[], snapshot: GallerySnapshot, topK: number): { candidates: MatchCandidate[]; searched: number } {
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
    return { candidates: candidates.slice(0, topK), searched };
  }
}
