/**
 * Candidate indexing for 1:N search: geometric hashing of minutia triplets with rotation-consistent
 * voting, so that a search runs the full matcher only on the templates most likely to match.
 *
 * Every minutia (the anchor) and two of its nearest neighbours form a triplet, described in the
 * anchor's own frame (distance, bearing relative to the anchor's direction, relative direction of
 * each neighbour): invariant to rotation and translation. The quantized description is the key; a
 * posting records the template's slot and the anchor's absolute direction. A probe triplet landing
 * in a bucket implies a rotation between probe and gallery template; votes are accumulated per
 * (template, rotation bin) and a template's score is its best rotation (with the two adjacent bins),
 * so chance collisions, spread over all rotations, count much less than a consistent set. Scores are
 * divided by the square root of the template's own triplet count: a template with many minutiae
 * collects more chance votes from any probe, and without it crowds the list with impostors.
 *
 * Measured alternatives (synthetic gallery of 3,000, one enrolled impression, probe = impression 2;
 * share of probes whose finger is in the top 1%): this index 89%; MCC cylinder bit-sampling LSH
 * (Cappelli 2011) 16-24% — our 256-bit cylinders are sparse (about 22 of 208 bits set) and mated
 * cylinders differ nearly as much as random ones, so cylinder keys carry little evidence.
 *
 * The index lives in the engine's thread, keyed by gallery slot. Removed slots stay in the postings
 * and are filtered out at selection; when the gallery is compacted (slots renumbered) the engine
 * rebuilds the index from the gallery's templates.
 */
import { cylinderWords, defaultMccParams } from './mcc-params.js';
import { templateOffsets } from './template.js';
import { directoryStride } from './gallery-search.js';
import { loadNativeKernel, nativeKernelError, type NativeKernel } from './native-kernel.js';

type NativeVotes = Required<Pick<NativeKernel, 'collectVotes'>>;
type NativeScoring = Required<Pick<NativeKernel, 'scoreVotes'>>;

function nativeIndexAllowed(): boolean {
  return process.env['BIOPAY_NATIVE_INDEX'] !== '0';
}

/** The addon's vote collection when it is built (and not disabled), else undefined: the JS walk. */
function nativeVotes(): NativeVotes | undefined {
  const kernel = loadNativeKernel();
  return kernel?.collectVotes !== undefined && nativeIndexAllowed() ? (kernel as NativeVotes) : undefined;
}

/** The addon's candidate scoring when it is built (and not disabled), else undefined: scoreChunks. */
function nativeScoring(): NativeScoring | undefined {
  const kernel = loadNativeKernel();
  return kernel?.scoreVotes !== undefined && nativeIndexAllowed() ? (kernel as NativeScoring) : undefined;
}

/**
 * Which slots a search may return: those live in the gallery's directory and, with a hint (its
 * hash, not 0), enrolled with it. The native scoring reads it directly; a function (tests) runs in
 * JavaScript.
 */
export interface SlotFilter {
  directory: Int32Array;
  hint: number;
}

/** The filter as a test of one slot: the native kernel's reading of it, bounds included. */
export function slotAccepted(filter: SlotFilter, slot: number): boolean {
  const entry = slot * directoryStride;
  if (entry + 2 >= filter.directory.length) return false;
  return filter.directory[entry + 1] !== 0 && (filter.hint === 0 || filter.directory[entry + 2] === filter.hint);
}

/** Postings are stored in blocks of this many entries plus a link to the next block. */
const blockSlots = 15;
const blockWords = blockSlots + 1;
const defaultInitialBlocks = 1 << 12;
const defaultBucketBits = 20;
const neighboursPerAnchor = 5;
const minNeighbourPx = 8;
const maxNeighbourPx = 110;
const distanceBinPx = 8;
const bearingBins = 24;
/**
 * Share of a bin, at either edge, within which a search also tries the adjacent bin. Measured on
 * 20,000 synthetic fingers (mate among 1,500 candidates / CPU ms per search): 0.5 (always the
 * nearer neighbour, 16 keys per triplet) 86% / 8-11 ms, 0.4 84.5% / 7.2 ms, 0.3 83.5% / 5.5-6 ms.
 */
const edgeShare = 0.35;
const directionBins = 8;
/** Rotation bins per template (a power of two: entries are slot * rotationBins + bin). */
const rotationBins = 16;
const rotationShift = 4;
const twoPi = 2 * Math.PI;
const tieSteps = 8;
/** A bucket holding more than this many times the mean count is skipped at search. */
const crowdedFactor = 8;
const minCrowdedBucket = 64;
const cylinderWordCount = cylinderWords(defaultMccParams);
/** Slots per counting chunk (a power of two): their votes (x rotationBins x 2 bytes, 128 KiB) stay in L2. */
const chunkSlotBits = 12;
const chunkSlots = 1 << chunkSlotBits;
const chunkCells = chunkSlots * rotationBins;
/** A cell's chunk is its value shifted by this (cells are slot << rotationShift | bin). */
const chunkCellShift = chunkSlotBits + rotationShift;
/** Score histogram bins for the running floor (scores are votes * tieSteps, mostly small). */
const floorBins = 8192;
/** Votes collected per search at most (16 MiB of scratch): past it, further keys are not read. */
const maxVotesPerSearch = 1 << 22;
/** Native collection calls per search at most (each after growing the scratch). */
const nativeCollectAttempts = 4;
/** Native scoring calls per search at most: outputs start at 1,024 and double, to 2^26 slots. */
const nativeScoreAttempts = 20;
/** Slots beyond this do not fit an entry (slot * 16 must stay a positive int32). */
export const maxIndexedSlots = 1 << 26;
/**
 * A slot's score is its votes' score times sizeScale / sqrt(its triplets): about 0.9 for a typical
 * synthetic or FVC template (300-400 triplets), so scores keep the integer range the floor and the
 * selection count in. Measured on 10,000 synthetic fingers (mate among the first 300 / 600
 * candidates, 591 mated probes, seed 13): raw votes 67.5% / 69.0%, divided by sqrt(triplets)
 * 68.5% / 69.7%, by triplets 67.3% / 69.0%, by triplets^0.25 68.4% / 69.4%.
 */
const sizeScale = 16;
const initialSizeSlots = 1024;
/** Triplets recorded per template at most (a template of 255 minutiae has at most 2,550). */
const maxRecordedTriplets = 0xffff;

/** What a slot's votes' score is multiplied by, from its template's triplet count (0: unknown, 1). */
function sizeFactor(triplets: number): number {
  return triplets > 0 ? sizeScale / Math.sqrt(triplets) : 1;
}

function positiveAngle(angle: number): number {
  const wrapped = angle % twoPi;
  return wrapped < 0 ? wrapped + twoPi : wrapped;
}

function mix(hash: number, value: number): number {
  return Math.imul(hash ^ value, 0x01000193);
}

/** Per-anchor neighbour scratch (one template at a time per thread): distance, bearing, direction. */
const maxTemplateMinutiae = 256;
const nearDistance = new Float64Array(maxTemplateMinutiae);
const nearBearing = new Float64Array(maxTemplateMinutiae);
const nearDirection = new Float64Array(maxTemplateMinutiae);
/** Offsets and index of each neighbour found: bearings and directions are computed for the kept ones only. */
const nearDx = new Float64Array(maxTemplateMinutiae);
const nearDy = new Float64Array(maxTemplateMinutiae);
const nearOther = new Int32Array(maxTemplateMinutiae);
/** The kept neighbours' indices into the scratch above: nearest first, then by bearing. */
const kept = new Int32Array(neighboursPerAnchor);

type NativeTriplets = Required<Pick<NativeKernel, 'tripletNeighbours' | 'tripletKeys'>>;

/** The addon's triplet keys when it is built (and the native index not disabled), else undefined. */
function nativeTriplets(): NativeTriplets | undefined {
  const kernel = loadNativeKernel();
  return kernel?.tripletNeighbours !== undefined && kernel.tripletKeys !== undefined && nativeIndexAllowed() ? (kernel as NativeTriplets) : undefined;
}

const tripletSettings = Float64Array.from([
  neighboursPerAnchor, minNeighbourPx, maxNeighbourPx, distanceBinPx, bearingBins, edgeShare, directionBins, rotationBins, maxTemplateMinutiae,
]);
/** Per kept neighbour in the native calls' neighbours array: other minutia, dx, dy, distance. */
const neighbourFields = 4;
/** Native triplet calls' working arrays (one template at a time per thread); keys grow on demand. */
const tripletScratch = {
  neighbours: new Float64Array(maxTemplateMinutiae * neighboursPerAnchor * neighbourFields),
  counts: new Uint8Array(maxTemplateMinutiae),
  bearings: new Float64Array(maxTemplateMinutiae * neighboursPerAnchor),
  keys: new Uint32Array(1 << 13),
  rotations: new Uint8Array(1 << 13),
};
/** Key output growths per template at most: each at least doubles, to the length the kernel asked for. */
const tripletKeyAttempts = 4;

/**
 * The template's keys into tripletScratch, natively; returns how many. The bearings are
 * Math.atan2's, computed here between the two calls: the C library's atan2 differs from V8's in
 * the last bit now and then, which would move a bearing across a bin edge.
 */
function nativeTriangleKeys(native: NativeTriplets, words: Uint32Array, base: number, multiProbe: boolean): number {
  try {
    return nativeTriangleKeysOrThrow(native, words, base, multiProbe);
  } catch (error) {
    throw nativeKernelError(error, 'native triplet keys');
  }
}

function nativeTriangleKeysOrThrow(native: NativeTriplets, words: Uint32Array, base: number, multiProbe: boolean): number {
  const scratch = tripletScratch;
  const used = native.tripletNeighbours(words, base, tripletSettings, scratch.neighbours, scratch.counts);
  const floats = new Float32Array(words.buffer, words.byteOffset, words.length);
  const thetas = templateOffsets(base, words[base + 1]!, cylinderWordCount).theta;
  for (let anchor = 0; anchor < used; anchor++) {
    const theta = floats[thetas + anchor]!;
    for (let place = 0; place < scratch.counts[anchor]!; place++) {
      const at = anchor * neighboursPerAnchor + place;
      const dx = scratch.neighbours[at * neighbourFields + 1]!;
      const dy = scratch.neighbours[at * neighbourFields + 2]!;
      scratch.bearings[at] = positiveAngle(Math.atan2(dy, dx) - theta);
    }
  }
  for (let attempt = 0; attempt < tripletKeyAttempts; attempt++) {
    const written = native.tripletKeys(words, base, tripletSettings, scratch.neighbours, scratch.counts, scratch.bearings, multiProbe, scratch.keys, scratch.rotations);
    if (written >= 0) return written;
    growTripletKeys(Math.max(-written, scratch.keys.length * 2));
  }
  throw new RangeError('triplet keys did not fit the grown output');
}

/**
 * Calls `emit(key, rotationBin)` for every triplet of the template at `base`. With `multiProbe`
 * (searches) a distance or bearing within `edgeShare` of a bin edge also tries the adjacent bin,
 * so that values close to an edge still meet their enrolled key (1 to 16 keys per triplet).
 */
export function triangleKeys(words: Uint32Array, base: number, multiProbe: boolean, emit: (key: number, rotation: number) => void): void {
  const count = tripletKeysOf(words, base, multiProbe);
  const { keys, rotations } = tripletScratch;
  for (let index = 0; index < count; index++) emit(keys[index]!, rotations[index]!);
}

/**
 * triangleKeys' keys and rotation bins into tripletScratch.keys and .rotations (valid until the
 * next call on this thread); returns how many. No call per key: the index's hot loops read them.
 */
function tripletKeysOf(words: Uint32Array, base: number, multiProbe: boolean): number {
  const native = nativeTriplets();
  if (native !== undefined) return nativeTriangleKeys(native, words, base, multiProbe);
  let count = 0;
  portableTriangleKeys(words, base, multiProbe, (key, rotation) => {
    if (count === tripletScratch.keys.length) growTripletKeys(count * 2);
    tripletScratch.keys[count] = key;
    tripletScratch.rotations[count++] = rotation;
  });
  return count;
}

function growTripletKeys(length: number): void {
  const keys = new Uint32Array(length);
  const rotations = new Uint8Array(length);
  keys.set(tripletScratch.keys.subarray(0, Math.min(length, tripletScratch.keys.length)));
  rotations.set(tripletScratch.rotations.subarray(0, Math.min(length, tripletScratch.rotations.length)));
  tripletScratch.keys = keys;
  tripletScratch.rotations = rotations;
}

/** triangleKeys in JavaScript: the definition the native kernel (triplet-keys.cc) equals key for key. */
export function portableTriangleKeys(words: Uint32Array, base: number, multiProbe: boolean, emit: (key: number, rotation: number) => void): void {
  const n = Math.min(words[base + 1]!, maxTemplateMinutiae);
  const floats = new Float32Array(words.buffer, words.byteOffset, words.length);
  const at = templateOffsets(base, words[base + 1]!, cylinderWordCount);
  for (let anchor = 0; anchor < n; anchor++) {
    const ax = floats[at.x + anchor]!;
    const ay = floats[at.y + anchor]!;
    const theta = floats[at.theta + anchor]!;
    let found = 0;
    for (let other = 0; other < n; other++) {
      if (other === anchor) continue;
      const dx = floats[at.x + other]! - ax;
      const dy = floats[at.y + other]! - ay;
      // Not Math.hypot (several times slower); no overflow is possible at pixel scales.
      const distance = Math.sqrt(dx * dx + dy * dy);
      if (distance < minNeighbourPx || distance > maxNeighbourPx) continue;
      nearDistance[found] = distance;
      nearDx[found] = dx;
      nearDy[found] = dy;
      nearOther[found] = other;
      found++;
    }
    const size = nearest(found);
    // Of the neighbours in reach (often 20-30) only the nearest few are kept: their angles alone are needed.
    for (let index = 0; index < size; index++) {
      const near = kept[index]!;
      nearBearing[near] = positiveAngle(Math.atan2(nearDy[near]!, nearDx[near]!) - theta);
      nearDirection[near] = positiveAngle(floats[at.theta + nearOther[near]!]! - theta);
    }
    orderByBearing(size);
    const rotation = Math.floor((positiveAngle(theta) / twoPi) * rotationBins) & (rotationBins - 1);
    for (let first = 0; first < size; first++) {
      for (let second = first + 1; second < size; second++) emitTriplet(kept[first]!, kept[second]!, multiProbe, rotation, emit);
    }
  }
}

/** Into `kept`: the `neighboursPerAnchor` nearest of the `found` neighbours (ties to the earlier one, as a stable sort). */
function nearest(found: number): number {
  let size = 0;
  for (let candidate = 0; candidate < found; candidate++) {
    const distance = nearDistance[candidate]!;
    if (size === neighboursPerAnchor && distance >= nearDistance[kept[size - 1]!]!) continue;
    let place = size < neighboursPerAnchor ? size++ : size - 1;
    for (; place > 0 && nearDistance[kept[place - 1]!]! > distance; place--) kept[place] = kept[place - 1]!;
    kept[place] = candidate;
  }
  return size;
}

/** `kept` ordered by bearing (ties keep distance order), so that a triplet has one description whatever order its neighbours came in. */
function orderByBearing(size: number): void {
  for (let index = 1; index < size; index++) {
    const moving = kept[index]!;
    let place = index;
    for (; place > 0 && nearBearing[kept[place - 1]!]! > nearBearing[moving]!; place--) kept[place] = kept[place - 1]!;
    kept[place] = moving;
  }
}

const keyDims = 4;
/** Per dimension [bin, adjacent bin or -1]; one triplet at a time (searches run one at a time). */
const scratchBins = new Int32Array(keyDims * 2);

/** Writes the bin of a value (in bin units; `wrap` > 0 for angles) and, near an edge, its neighbour. */
function putBins(dim: number, value: number, wrap: number, multiProbe: boolean): void {
  const bin = Math.floor(value);
  const fraction = value - bin;
  let other = -1;
  if (multiProbe && (fraction < edgeShare || fraction > 1 - edgeShare)) {
    other = fraction < 0.5 ? bin - 1 : bin + 1;
    if (wrap > 0) other = (other + wrap) % wrap;
  }
  scratchBins[dim * 2] = wrap > 0 ? bin % wrap : bin;
  scratchBins[dim * 2 + 1] = other;
}

/** The keys of the triplet (anchor, neighbour a, neighbour b), a and b indices into the scratch. */
function emitTriplet(a: number, b: number, multiProbe: boolean, rotation: number, emit: (key: number, rotation: number) => void): void {
  putBins(0, nearDistance[a]! / distanceBinPx, 0, multiProbe);
  putBins(1, nearDistance[b]! / distanceBinPx, 0, multiProbe);
  putBins(2, (nearBearing[a]! / twoPi) * bearingBins, bearingBins, multiProbe);
  putBins(3, (nearBearing[b]! / twoPi) * bearingBins, bearingBins, multiProbe);
  let allowed = 0;
  for (let dim = 0; dim < keyDims; dim++) if (scratchBins[dim * 2 + 1]! >= 0) allowed |= 1 << dim;
  const directions = mix(Math.floor((nearDirection[a]! / twoPi) * directionBins) % directionBins, 1 + (Math.floor((nearDirection[b]! / twoPi) * directionBins) % directionBins));
  const seed = mix(0x811c9dc5, directions);
  // Every subset of the dimensions that have an adjacent bin: 0 is the triplet's own key.
  for (let mask = 0; mask < 1 << keyDims; mask++) {
    if ((mask & allowed) !== mask) continue;
    let hash = seed;
    for (let dim = 0; dim < keyDims; dim++) hash = mix(hash, scratchBins[dim * 2 + ((mask >>> dim) & 1)]! + 97 * dim);
    emit(hash >>> 0, rotation);
  }
}

/**
 * The largest score `value` such that at least `limit` kept slots score `value` or more: a slot
 * scoring less can no longer be selected. Scores beyond the histogram count as its last bin
 * (which only keeps the floor lower than it could be).
 */
class ScoreFloor {
  private readonly histogram = new Int32Array(floorBins);
  private limit = 0;
  private atLeast = 0;
  value = 0;

  reset(limit: number): this {
    this.histogram.fill(0);
    this.limit = limit;
    this.atLeast = 0;
    this.value = 0;
    return this;
  }

  /** Records a kept score (at least `value`). */
  add(score: number): void {
    if (this.limit === 0) return;
    this.histogram[Math.min(score, floorBins - 1)]!++;
    this.atLeast++;
    while (this.value < floorBins - 1 && this.atLeast - this.histogram[this.value]! >= this.limit) {
      this.atLeast -= this.histogram[this.value]!;
      this.value++;
    }
  }
}

/**
 * Per-search scratch, reused by every index of this thread (searches run one at a time): the
 * votes collected, then grouped by chunk of slots. Shared so that an index per community costs
 * its postings and buckets only.
 */
class SearchScratch {
  cells: Uint32Array = new Uint32Array(1 << 16);
  grouped: Uint32Array = new Uint32Array(1 << 16);
  /** What scoreChunks reads: grouped, or cells themselves when there is one chunk. */
  groupedView: Uint32Array = this.cells;
  chunkStarts = new Int32Array(64);
  readonly chunkVotes = new Uint16Array(chunkCells);
  /** Per slot of the chunk, its votes (saturating): a bound on its score. */
  readonly chunkTotals = new Uint8Array(chunkSlots);
  readonly floor = new ScoreFloor();
  scoredSlots = new Int32Array(1024);
  scoredValues = new Int32Array(1024);
  /** The probe's keys (bucket, rotation bin), gathered before the postings are read. */
  buckets = new Uint32Array(4096);
  rotations = new Uint8Array(4096);
}

let sharedScratch: SearchScratch | undefined;

/**
 * An index as a worker thread receives it: its tables are SharedArrayBuffers, read in place.
 *
 * The engine's thread keeps appending while workers search. It writes a posting before its
 * bucket's count grows and links a block before filling it, and a pool that grows is a new buffer
 * (the old one is never written again), so a search sees the postings of some recent moment;
 * those of slots past its gallery snapshot are skipped. Plain (non-atomic) reads give no ordering
 * guarantee, so a search racing an append may read a stale word: a chance vote, never a read out
 * of bounds or an endless walk (every walk is bounded by the count it read), and every candidate
 * is scored by the full matcher anyway.
 */
export interface SharedCandidateIndex {
  bucketBits: number;
  heads: SharedArrayBuffer;
  counts: SharedArrayBuffer;
  pool: SharedArrayBuffer;
  /** Per slot, its template's triplet count (Uint16): what its score is divided by. */
  sizes: SharedArrayBuffer;
  postings: number;
}

export class CandidateIndex {
  readonly bucketBits: number;
  private readonly bucketShift: number;
  private readonly heads: Int32Array;
  private readonly tails: Int32Array;
  private readonly counts: Int32Array;
  private pool: Int32Array;
  private sizes: Uint16Array;
  private blocksUsed = 1; // block 0 means "none"
  private postings = 0;
  private readonly readOnly: boolean;
  private readonly scratch = (sharedScratch ??= new SearchScratch());

  /**
   * `bucketBits`: 2^bits buckets, each a list of postings: too few buckets for the postings and
   * unrelated triplets share lists, adding chance votes that cost recall (a community index grows
   * from 16 to 18 bits at 256 templates, see match-engine.ts).
   */
  constructor(bucketBits = defaultBucketBits, initialBlocks = defaultInitialBlocks, shared?: SharedCandidateIndex) {
    if (!Number.isInteger(bucketBits) || bucketBits < 8 || bucketBits > 24) throw new RangeError('bucketBits must be an integer in [8, 24]');
    this.bucketBits = bucketBits;
    this.bucketShift = 32 - bucketBits;
    const table = () => new Int32Array(new SharedArrayBuffer(4 << bucketBits));
    this.readOnly = shared !== undefined;
    this.heads = shared ? new Int32Array(shared.heads) : table();
    this.counts = shared ? new Int32Array(shared.counts) : table();
    this.tails = shared ? new Int32Array(0) : table();
    this.pool = shared ? new Int32Array(shared.pool) : new Int32Array(new SharedArrayBuffer(initialBlocks * blockWords * 4));
    this.sizes = shared ? new Uint16Array(shared.sizes) : new Uint16Array(new SharedArrayBuffer(initialSizeSlots * 2));
    if (shared) this.postings = shared.postings;
  }

  /** A searchable view, in a worker thread, of an index another thread writes. */
  static view(shared: SharedCandidateIndex): CandidateIndex {
    if ((4 << shared.bucketBits) !== shared.heads.byteLength || shared.heads.byteLength !== shared.counts.byteLength || shared.pool.byteLength % (blockWords * 4) !== 0 || shared.sizes.byteLength % 2 !== 0) {
      throw new RangeError('shared candidate index tables do not agree');
    }
    return new CandidateIndex(shared.bucketBits, 0, shared);
  }

  /** What a worker needs to search this index as it is now (its tables are shared, not copied). */
  shared(): SharedCandidateIndex {
    return {
      bucketBits: this.bucketBits, heads: this.heads.buffer as SharedArrayBuffer, counts: this.counts.buffer as SharedArrayBuffer,
      pool: this.pool.buffer as SharedArrayBuffer, sizes: this.sizes.buffer as SharedArrayBuffer, postings: this.postings,
    };
  }

  /** Bytes held by the postings and bucket tables. */
  get bytes(): number {
    return this.pool.byteLength + this.heads.byteLength * 3 + this.sizes.byteLength;
  }

  /** Indexes the template (matcher form) stored at `base` of `words` under `slot`. */
  add(slot: number, words: Uint32Array, base = 0): void {
    if (this.readOnly) throw new RangeError('a shared view of a candidate index is read-only');
    if (!Number.isInteger(slot) || slot < 0 || slot >= maxIndexedSlots) throw new RangeError(`slot must be an integer in [0, ${maxIndexedSlots})`);
    if (slot >= this.sizes.length) this.growSizes(slot + 1);
    const triplets = tripletKeysOf(words, base, false);
    const { keys, rotations } = tripletScratch;
    for (let index = 0; index < triplets; index++) this.append(keys[index]! >>> this.bucketShift, (slot << rotationShift) | rotations[index]!);
    // Written after the postings: a search racing this add reads 0 (no scaling), never garbage.
    this.sizes[slot] = Math.min(triplets, maxRecordedTriplets);
  }

  /** A grown copy: searches holding the old one read 0 for slots added since (no scaling). */
  private growSizes(needed: number): void {
    let length = this.sizes.length;
    while (length < needed) length *= 2;
    const grown = new Uint16Array(new SharedArrayBuffer(length * 2));
    grown.set(this.sizes);
    this.sizes = grown;
  }

  private append(bucket: number, entry: number): void {
    const count = this.counts[bucket]!;
    let tail = this.tails[bucket]!;
    const used = count % blockSlots;
    // A template's triplets are indexed one after another: a repeat is the bucket's last entry.
    if (count > 0 && this.pool[tail * blockWords + 1 + ((count - 1) % blockSlots)] === entry) return;
    if (count === 0 || used === 0) {
      const block = this.allocateBlock();
      if (count === 0) this.heads[bucket] = block;
      else this.pool[tail * blockWords] = block;
      this.tails[bucket] = block;
      tail = block;
    }
    this.pool[tail * blockWords + 1 + used] = entry;
    this.counts[bucket] = count + 1;
    this.postings++;
  }

  private allocateBlock(): number {
    if ((this.blocksUsed + 1) * blockWords > this.pool.length) {
      const grown = new Int32Array(new SharedArrayBuffer(this.pool.byteLength * 2));
      grown.set(this.pool);
      this.pool = grown;
    }
    return this.blocksUsed++;
  }

  /**
   * The `limit` slots scoring best against the probe (matcher form), among slots below
   * `slotCount` that `accept` takes, best first (equal scores: lower slot first), so that a
   * decision search can compare the likeliest first and stop at a match. A slot filter is scored
   * by the native kernel when it is built; a test function always in JavaScript.
   */
  candidates(probe: Uint32Array, slotCount: number, limit: number, accept: SlotFilter | ((slot: number) => boolean)): Int32Array {
    const collected = this.collect(probe, slotCount);
    if (typeof accept === 'function') return this.select(this.scoreChunks(this.group(collected, slotCount), slotCount, limit, accept), limit);
    const native = nativeScoring();
    const kept = native === undefined ? undefined : this.scoreNatively(native, collected, slotCount, limit, accept);
    if (kept !== undefined) return this.select(kept, limit);
    return this.select(this.scoreChunks(this.group(collected, slotCount), slotCount, limit, (slot) => slotAccepted(accept, slot)), limit);
  }

  /**
   * scoreChunks (grouping included) in the native kernel: the same slots and scores, in the same
   * order; undefined if the outputs never grew enough (the JavaScript scoring then answers).
   */
  private scoreNatively(native: NativeScoring, cellCount: number, slotCount: number, limit: number, filter: SlotFilter): number | undefined {
    // Each retry at least doubles the outputs, which never need more than a place per slot.
    for (let attempt = 0; attempt < nativeScoreAttempts; attempt++) {
      const { scoredSlots, scoredValues } = this.scratch;
      const kept = native.scoreVotes(this.scratch.cells, cellCount, slotCount, limit, this.sizes, filter.directory, filter.hint, scoredSlots, scoredValues);
      if (kept >= 0) return kept;
      this.growScored(Math.min(-kept, slotCount + 1));
    }
    return undefined;
  }

  /**
   * Every vote of the probe, as a cell (slot * rotationBins + rotation difference), in posting
   * order. Counting them in place would touch a slot-sized table at random (megabytes at 100,000
   * templates, a cache miss per vote); they are grouped first and counted chunk by chunk.
   */
  private collect(probe: Uint32Array, slotCount: number): number {
    const keyCount = this.probeBuckets(probe);
    // Keys far more common than average (regular ridge flow) cost most and tell least: skipped.
    const crowded = Math.floor(Math.max(minCrowdedBucket, (crowdedFactor * this.postings) / this.counts.length));
    const native = nativeVotes();
    if (native === undefined) return this.walkPostings(keyCount, slotCount, crowded);
    // A short scratch is grown to what the kernel asked for; appends racing the search may ask
    // again, so the attempts are bounded and the JavaScript walk finishes the rare rest.
    for (let attempt = 0; attempt < nativeCollectAttempts; attempt++) {
      const { buckets, rotations } = this.scratch;
      const written = native.collectVotes(buckets, rotations, keyCount, this.heads, this.counts, this.pool, slotCount, crowded, maxVotesPerSearch, this.scratch.cells);
      if (written >= 0) return written;
      this.growCells(-written);
    }
    return this.walkPostings(keyCount, slotCount, crowded);
  }

  /** The probe's search keys as buckets (and the rotation bin of each) into the scratch; returns how many. */
  private probeBuckets(probe: Uint32Array): number {
    const count = tripletKeysOf(probe, 0, true);
    while (this.scratch.buckets.length < count) this.growKeys();
    const { keys, rotations } = tripletScratch;
    const { buckets, rotations: probeRotations } = this.scratch;
    for (let index = 0; index < count; index++) {
      buckets[index] = keys[index]! >>> this.bucketShift;
      probeRotations[index] = rotations[index]!;
    }
    return count;
  }

  private growKeys(): void {
    const buckets = new Uint32Array(this.scratch.buckets.length * 2);
    const rotations = new Uint8Array(buckets.length);
    buckets.set(this.scratch.buckets);
    rotations.set(this.scratch.rotations);
    this.scratch.buckets = buckets;
    this.scratch.rotations = rotations;
  }

  /** The postings walk in JavaScript (the native kernel's collectVotes does the same, faster). */
  private walkPostings(keyCount: number, slotCount: number, crowded: number): number {
    const { pool, heads, counts } = this;
    const { buckets, rotations } = this.scratch;
    let cells = this.scratch.cells;
    let size = 0;
    for (let key = 0; key < keyCount; key++) {
      const bucket = buckets[key]!;
      let remaining = counts[bucket]!;
      if (remaining > crowded || size + remaining > maxVotesPerSearch) continue;
      if (size + remaining > cells.length) cells = this.growCells(size + remaining);
      const rotation = rotations[key]!;
      for (let block = heads[bucket]!; remaining > 0; block = pool[block * blockWords]!) {
        const inBlock = remaining < blockSlots ? remaining : blockSlots;
        const start = block * blockWords + 1;
        for (let index = start; index < start + inBlock; index++) {
          const entry = pool[index]!;
          if (entry >>> rotationShift >= slotCount) continue;
          cells[size++] = (entry & ~(rotationBins - 1)) | ((rotation - entry) & (rotationBins - 1));
        }
        remaining -= inBlock;
      }
    }
    return size;
  }

  private growCells(needed: number): Uint32Array {
    let length = this.scratch.cells.length;
    while (length < needed) length *= 2;
    const grown = new Uint32Array(Math.min(length, maxVotesPerSearch));
    grown.set(this.scratch.cells);
    this.scratch.cells = grown;
    this.scratch.grouped = new Uint32Array(grown.length);
    return grown;
  }

  /** Counting sort of the cells by chunk of `chunkSlots` slots; returns the number of chunks. */
  private group(size: number, slotCount: number): number {
    const chunks = Math.max(1, Math.ceil(slotCount / chunkSlots));
    if (this.scratch.chunkStarts.length < chunks + 1) this.scratch.chunkStarts = new Int32Array(2 * chunks + 1);
    const starts = this.scratch.chunkStarts;
    const { cells, grouped } = this.scratch;
    if (chunks === 1) {
      // Already one group (a gallery of at most chunkSlots): scoreChunks reads the cells as they are.
      starts[0] = 0;
      starts[1] = size;
      this.scratch.groupedView = cells;
      return 1;
    }
    this.scratch.groupedView = grouped;
    starts.fill(0, 0, chunks + 1);
    for (let index = 0; index < size; index++) starts[(cells[index]! >>> chunkCellShift) + 1]!++;
    for (let chunk = 0; chunk < chunks; chunk++) starts[chunk + 1]! += starts[chunk]!;
    // starts[c] is used as chunk c's write cursor, then restored from its neighbour.
    for (let index = 0; index < size; index++) {
      const cell = cells[index]!;
      grouped[starts[cell >>> chunkCellShift]!++] = cell;
    }
    for (let chunk = chunks; chunk > 0; chunk--) starts[chunk] = starts[chunk - 1]!;
    starts[0] = 0;
    return chunks;
  }

  /**
   * Counts each chunk's votes in a table that stays in cache, then scores its slots (best rotation
   * bin with both neighbours; ties to the sharper peak). Most touched slots hold a vote or two by
   * chance: a slot whose vote total cannot reach the `limit`-th best score so far is not scored.
   * Returns how many slots were kept, in ascending slot order in scoredSlots / scoredValues.
   */
  private scoreChunks(chunks: number, slotCount: number, limit: number, accept: (slot: number) => boolean): number {
    const { groupedView: grouped, chunkStarts, chunkVotes: votes, chunkTotals: totals } = this.scratch;
    const sizes = this.sizes;
    const floor = this.scratch.floor.reset(limit);
    let scored = 0;
    for (let chunk = 0; chunk < chunks; chunk++) {
      const from = chunkStarts[chunk]!;
      const to = chunkStarts[chunk + 1]!;
      if (from === to) continue;
      for (let index = from; index < to; index++) {
        const cell = grouped[index]! & (chunkCells - 1);
        const local = cell >>> rotationShift;
        if (totals[local]! < 0xff) totals[local]!++;
        if (votes[cell]! < 0xffff) votes[cell]!++;
      }
      // The last chunk may be partial: its slots past slotCount have no votes.
      const slotsInChunk = Math.min(chunkSlots, slotCount - chunk * chunkSlots);
      for (let local = 0; local < slotsInChunk; local++) {
        const total = totals[local]!;
        if (total === 0) continue;
        totals[local] = 0;
        const slot = chunk * chunkSlots + local;
        const scale = sizeFactor(slot < sizes.length ? sizes[slot]! : 0);
        // best three-bin sum <= total: the votes' score is at most total * tieSteps + tieSteps - 1.
        if (total < 0xff && Math.floor((total * tieSteps + tieSteps - 1) * scale) < floor.value) continue;
        const score = Math.floor(this.slotScore(local << rotationShift) * scale);
        if (score < floor.value || !accept(slot)) continue;
        if (scored === this.scratch.scoredSlots.length) this.growScored(scored + 1);
        this.scratch.scoredSlots[scored] = slot;
        this.scratch.scoredValues[scored++] = score;
        floor.add(score);
      }
      votes.fill(0, 0, slotsInChunk << rotationShift);
    }
    return scored;
  }

  private growScored(needed: number): void {
    let length = this.scratch.scoredSlots.length;
    while (length < needed) length *= 2;
    const slots = new Int32Array(length);
    const values = new Int32Array(length);
    slots.set(this.scratch.scoredSlots);
    values.set(this.scratch.scoredValues);
    this.scratch.scoredSlots = slots;
    this.scratch.scoredValues = values;
  }

  /** A slot's score from its bins at `from` in the chunk table. */
  private slotScore(from: number): number {
    const votes = this.scratch.chunkVotes;
    let best = 0;
    let centre = 0;
    for (let bin = 0; bin < rotationBins; bin++) {
      const middle = votes[from + bin]!;
      const sum = middle + votes[from + ((bin + 1) & (rotationBins - 1))]! + votes[from + ((bin + rotationBins - 1) & (rotationBins - 1))]!;
      if (sum > best || (sum === best && middle > centre)) {
        best = sum;
        centre = middle;
      }
    }
    // Ties on the three-bin sum (common: scores are small counts) go to the sharper peak.
    return best * tieSteps + Math.min(tieSteps - 1, centre);
  }

  /** Counting sort by score, best first; equal scores (and ties at the cut) go to the lower slots first. */
  private select(scored: number, limit: number): Int32Array {
    const { scoredSlots: slots, scoredValues: values } = this.scratch;
    let maxScore = 0;
    for (let index = 0; index < scored; index++) if (values[index]! > maxScore) maxScore = values[index]!;
    const histogram = new Int32Array(maxScore + 1);
    for (let index = 0; index < scored; index++) histogram[values[index]!]!++;
    let cut = maxScore;
    let taken = 0;
    while (cut > 0 && taken + histogram[cut]! <= limit) taken += histogram[cut--]!;
    let room = limit - taken;
    // histogram[value] becomes the write position of that score in the best-first list.
    let position = 0;
    for (let value = maxScore; value >= cut; value--) {
      const count = histogram[value]!;
      histogram[value] = position;
      position += value > cut ? count : 0;
    }
    const chosen = new Int32Array(Math.min(limit, scored));
    let size = 0;
    for (let index = 0; index < scored && size < chosen.length; index++) {
      const value = values[index]!;
      if (value > cut || (value === cut && value > 0 && room-- > 0)) {
        chosen[histogram[value]!++] = slots[index]!;
        size++;
      }
    }
    return chosen.subarray(0, size);
  }
}
