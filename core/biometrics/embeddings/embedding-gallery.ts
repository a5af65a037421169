/**
 * A gallery of face or palm embeddings of one fixed dimension, stored unit-length in
 * SharedArrayBuffers (float32, or int8 with a scale per vector) that worker threads can read
 * without copying (layout in embedding-search.ts). Only this object's thread writes.
 *
 * Search is exhaustive cosine similarity in this thread: an embedding comparison is a few hundred
 * multiply-adds, about a hundred times cheaper than a minutiae comparison, so 1:N over 100,000
 * faces stays within tens of milliseconds (`npm run bench -- embeddings`).
 *
 * Removal leaves a hole; when holes outnumber live vectors the gallery is compacted. Growth and
 * compaction allocate new buffers and never touch the old ones, so a snapshot handed to a worker
 * stays consistent.
 */
import { BiopayError, ErrorCode } from '../../errors.js';
import { embeddingDirectoryStride, searchEmbeddingSlice, type EmbeddingProbe } from './embedding-search.js';
import {
  checkDimension,
  defaultDimensions,
  normalizeEmbedding,
  quantizeInto,
  type Modality,
  type Quantization,
} from './embedding-vector.js';

export interface EmbeddingGalleryOptions {
  modality: Modality;
  /** Default: 512 for face, 256 for palm. Every vector added or searched must have it. */
  dimension?: number;
  /** int8 stores a quarter of the bytes and ranks as float32 does (scores within ~1e-3). */
  quantization?: Quantization;
  /** Embeddings to allocate room for up front (the gallery grows past it). */
  capacity?: number;
  /** Hard limit on enrolled embeddings. */
  maxEmbeddings?: number;
}

export interface EmbeddingCandidate {
  id: string;
  /** Cosine similarity in [-1, 1]; decide with a calibrated threshold (calibration.ts). */
  score: number;
}

export interface EmbeddingSearchOptions {
  topK?: number;
  /** Only embeddings enrolled with the same hint are compared (hashed: a collision only widens). */
  hint?: string;
}

export interface EmbeddingSnapshot {
  quantization: Quantization;
  dimension: number;
  vectors: SharedArrayBuffer;
  scales: SharedArrayBuffer;
  directory: SharedArrayBuffer;
  slotCount: number;
  /** Slot to id at snapshot time (compaction renumbers slots into a new array). */
  slotIds: readonly (string | undefined)[];
}

export interface EmbeddingGalleryStats {
  size: number;
  /** Slots in use, holes included. */
  slots: number;
  capacity: number;
  /** Vector, scale and directory bytes of one enrolled embedding. */
  bytesPerEmbedding: number;
  /** Bytes allocated in shared buffers. */
  bytes: number;
}

const defaultTopK = 10;
const maxTopK = 1000;
const maxIdLength = 256;
const maxHintLength = 256;
const defaultCapacity = 1024;
const defaultMaxEmbeddings = 1_000_000;
const maxEmbeddingsLimit = 10_000_000;
/** Shared memory a gallery may hold: 1M x 512 float32 is 2 GiB. */
const maxGalleryBytes = 4 * 1024 ** 3;
const minCapacity = 16;
/** Removals below this many holes never trigger a compaction (it would cost more than it saves). */
const minCompactionSlots = 1024;
const directoryBytesPerSlot = embeddingDirectoryStride * Int32Array.BYTES_PER_ELEMENT;

/** FNV-1a of the hint, never 0 (0 means "no hint"). */
function hintHash(hint: string | undefined): number {
  if (hint === undefined) return 0;
  let hash = 0x811c9dc5;
  for (let index = 0; index < hint.length; index++) hash = Math.imul(hash ^ hint.charCodeAt(index), 0x01000193);
  return hash === 0 ? 1 : hash;
}

function checkText(value: unknown, what: string, maxLength: number): void {
  if (typeof value !== 'string' || value.length === 0 || value.length > maxLength) {
    throw new BiopayError(ErrorCode.BadRequest, `${what} must be a non-empty string of at most ${maxLength} characters`);
  }
}

function checkCount(value: number, what: string, max: number): number {
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw new BiopayError(ErrorCode.BadRequest, `${what} must be an integer in [1, ${max}]`);
  }
  return value;
}

export class EmbeddingGallery {
  readonly modality: Modality;
  readonly dimension: number;
  readonly quantization: Quantization;
  private readonly maxEmbeddings: number;
  private readonly valueBytes: number;
  private vectors!: SharedArrayBuffer;
  private scales!: SharedArrayBuffer;
  private directory!: SharedArrayBuffer;
  private capacity = 0;
  private slotCount = 0;
  private deadSlots = 0;
  private slotIds: (string | undefined)[] = [];
  private readonly slotsById = new Map<string, number>();

  constructor(options: EmbeddingGalleryOptions) {
    if (options.modality !== 'face' && options.modality !== 'palm') {
      throw new BiopayError(ErrorCode.BadRequest, `modality must be face or palm, got ${String(options.modality)}`);
    }
    const quantization = options.quantization ?? 'float32';
    if (quantization !== 'float32' && quantization !== 'int8') {
      throw new BiopayError(ErrorCode.BadRequest, `quantization must be float32 or int8, got ${String(quantization)}`);
    }
    this.modality = options.modality;
    this.quantization = quantization;
    this.dimension = checkDimension(options.dimension ?? defaultDimensions[options.modality]);
    this.valueBytes = quantization === 'int8' ? 1 : 4;
    this.maxEmbeddings = checkCount(options.maxEmbeddings ?? defaultMaxEmbeddings, 'maxEmbeddings', maxEmbeddingsLimit);
    if (this.maxEmbeddings * this.bytesPerEmbedding() > maxGalleryBytes) {
      throw new BiopayError(ErrorCode.BadRequest, `maxEmbeddings x dimension exceeds the ${maxGalleryBytes} byte gallery limit`);
    }
    const capacity = checkCount(options.capacity ?? defaultCapacity, 'capacity', maxEmbeddingsLimit);
    this.allocate(Math.max(minCapacity, Math.min(capacity, this.maxEmbeddings)));
  }

  get size(): number {
    return this.slotsById.size;
  }

  has(id: string): boolean {
    return this.slotsById.has(id);
  }

  stats(): EmbeddingGalleryStats {
    const bytes = this.vectors.byteLength + this.scales.byteLength + this.directory.byteLength;
    return { size: this.size, slots: this.slotCount, capacity: this.capacity, bytesPerEmbedding: this.bytesPerEmbedding(), bytes };
  }

  snapshot(): EmbeddingSnapshot {
    const { quantization, dimension, vectors, scales, directory, slotCount, slotIds } = this;
    return { quantization, dimension, vectors, scales, directory, slotCount, slotIds };
  }

  /**
   * Enrolls (or replaces) the embedding of `id`. Throws INVALID_TEMPLATE for a wrong dimension,
   * NaN or infinite components or the zero vector (an earlier embedding of `id` is then kept),
   * UNAVAILABLE when the gallery is full.
   */
  add(id: string, values: ArrayLike<number>, tags?: { hint?: string }): void {
    checkText(id, 'embedding id', maxIdLength);
    if (tags?.hint !== undefined) checkText(tags.hint, 'hint', maxHintLength);
    const unit = normalizeEmbedding(values, this.dimension);
    this.remove(id);
    if (this.size >= this.maxEmbeddings) {
      throw new BiopayError(ErrorCode.Unavailable, `${this.modality} gallery is full (${this.maxEmbeddings} embeddings)`);
    }
    this.reserveSlot();
    this.publish(this.slotCount, unit, hintHash(tags?.hint));
    this.slotIds[this.slotCount] = id;
    this.slotsById.set(id, this.slotCount);
    this.slotCount++;
  }

  remove(id: string): boolean {
    const slot = this.slotsById.get(id);
    if (slot === undefined) return false;
    Atomics.store(new Int32Array(this.directory), slot * embeddingDirectoryStride, 0);
    this.slotsById.delete(id);
    this.slotIds[slot] = undefined;
    this.deadSlots++;
    if (this.deadSlots >= minCompactionSlots && this.deadSlots > this.size) this.compact(this.compactedCapacity());
    return true;
  }

  /** The probe in the form the search kernel compares (validated like an enrolled embedding). */
  prepareProbe(values: ArrayLike<number>): EmbeddingProbe {
    const unit = normalizeEmbedding(values, this.dimension);
    if (this.quantization === 'float32') return { unit };
    const quantized = new Int8Array(this.dimension);
    return { unit, quantized: { values: quantized, scale: quantizeInto(unit, quantized, 0) } };
  }

  /** The topK most similar embeddings (cosine), best first; `searched` counts the comparisons. */
  search(values: ArrayLike<number>, options: EmbeddingSearchOptions = {}): { candidates: EmbeddingCandidate[]; searched: number } {
    const topK = checkCount(options.topK ?? defaultTopK, 'topK', maxTopK);
    if (options.hint !== undefined) checkText(options.hint, 'hint', maxHintLength);
    const probe = this.prepareProbe(values);
    const snapshot = this.snapshot();
    const slice = { ...snapshot, fromSlot: 0, toSlot: snapshot.slotCount, hintHash: hintHash(options.hint), topK };
    const result = searchEmbeddingSlice(probe, slice);
    const candidates: EmbeddingCandidate[] = [];
    result.slots.forEach((slot, index) => candidates.push({ id: snapshot.slotIds[slot]!, score: result.scores[index]! }));
    // Equal scores in id order, so that a search is reproducible whatever the enrollment order.
    candidates.sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    return { candidates, searched: result.searched };
  }

  private bytesPerEmbedding(): number {
    const scaleBytes = this.quantization === 'int8' ? Float32Array.BYTES_PER_ELEMENT : 0;
    return this.dimension * this.valueBytes + scaleBytes + directoryBytesPerSlot;
  }

  private allocate(capacity: number): void {
    this.vectors = new SharedArrayBuffer(capacity * this.dimension * this.valueBytes);
    this.scales = new SharedArrayBuffer(this.quantization === 'int8' ? capacity * Float32Array.BYTES_PER_ELEMENT : 0);
    this.directory = new SharedArrayBuffer(capacity * directoryBytesPerSlot);
    this.capacity = capacity;
  }

  /** Writes vector, scale and hint, then marks the slot live: readers never see it half-written. */
  private publish(slot: number, unit: Float32Array, hint: number): void {
    const base = slot * this.dimension;
    if (this.quantization === 'int8') {
      new Float32Array(this.scales)[slot] = quantizeInto(unit, new Int8Array(this.vectors), base);
    } else {
      new Float32Array(this.vectors).set(unit, base);
    }
    const entries = new Int32Array(this.directory);
    entries[slot * embeddingDirectoryStride + 1] = hint;
    Atomics.store(entries, slot * embeddingDirectoryStride, 1);
  }

  /** A free slot at the end: compaction when a quarter of the slots are holes, else growth. */
  private reserveSlot(): void {
    if (this.slotCount < this.capacity) return;
    if (this.deadSlots * 4 >= this.capacity) {
      this.compact(this.capacity);
      return;
    }
    const grown = Math.max(this.slotCount + 1, Math.min(this.capacity * 2, this.maxEmbeddings));
    this.compact(grown);
  }

  private compactedCapacity(): number {
    return Math.max(minCapacity, Math.min(this.size * 2, this.maxEmbeddings));
  }

  /** Rewrites the live embeddings densely into new buffers of `capacity` slots; slots renumber. */
  private compact(capacity: number): void {
    const old = this.snapshot();
    this.allocate(capacity);
    const stride = this.dimension * this.valueBytes;
    const [oldVectors, newVectors] = [new Uint8Array(old.vectors), new Uint8Array(this.vectors)];
    const [oldScales, newScales] = [new Float32Array(old.scales), new Float32Array(this.scales)];
    const [oldEntries, newEntries] = [new Int32Array(old.directory), new Int32Array(this.directory)];
    const ids: string[] = [];
    for (let slot = 0; slot < old.slotCount; slot++) {
      const id = old.slotIds[slot];
      if (id === undefined) continue;
      const target = ids.length;
      newVectors.set(oldVectors.subarray(slot * stride, (slot + 1) * stride), target * stride);
      if (newScales.length > 0) newScales[target] = oldScales[slot]!;
      newEntries[target * embeddingDirectoryStride] = 1;
      newEntries[target * embeddingDirectoryStride + 1] = oldEntries[slot * embeddingDirectoryStride + 1]!;
      ids.push(id);
    }
    this.slotIds = ids;
    this.slotCount = ids.length;
    this.deadSlots = 0;
    this.slotsById.clear();
    ids.forEach((id, slot) => this.slotsById.set(id, slot));
  }
}
