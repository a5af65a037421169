/**
 * The one-to-one comparison kernel: bit-vector MCC local similarities (popcounts), then LSS-R
 * global consolidation (greedy one-to-one pair selection, relaxation on geometric compatibility,
 * average of the most efficient pairs). Pure CPU on preallocated typed arrays: it runs inside
 * piscina workers over a SharedArrayBuffer gallery.
 *
 * Cost control (about 10 µs per comparison, 35 x 35 minutiae, in JavaScript):
 *   - the whole comparison runs in C++ (native-kernel.ts, workers/native/mcc-kernel.cc) when the
 *     addon is built; otherwise the local stage runs in WebAssembly SIMD (simd-local-stage.ts).
 *     This file's JavaScript (portableScore) is the reference both must equal bit for bit;
 *   - only cylinders of minutiae with close directions are compared (maxDirectionDiffRad): templates
 *     keep minutiae sorted by direction, so those pairs are one run per probe minutia, visited
 *     outwards from its place in the other template without testing the rest;
 *   - similarity 1 - sqrt(popcount(a xor b)) / (|a| + |b|), norms precomputed at enrollment;
 *   - keys are chained per bucket of their top 8 bits as they are made, so that selection visits
 *     the best buckets first and sorts only their few keys, until it has the pairs it wants;
 *   - compatibility sigmoids come from tables, the cheapest tests reject first (a distance bound
 *     without square roots, then directions), and incompatible pairs (the usual case between
 *     impostors) are dropped, so relaxation works on a sparse matrix;
 *   - nothing is allocated per comparison but the view the SIMD stage copies from.
 */
import { BiopayError, ErrorCode } from '../errors.js';
import { cylinderWords, defaultMccParams, type MccParams } from './mcc-params.js';
import { loadNativeKernel, nativeKernelError, type MatcherKernelName, type NativeKernel, type NativeKernelHandle, type NativeLocalStage } from './native-kernel.js';
import { SimdLocalStage, simdCylinderWords } from './simd-local-stage.js';
import { templateHeaderWords, templateOffsets, templateWords } from './template.js';

const twoPi = 2 * Math.PI;
const buckets = 256;
/** Sigmoid tables: 1024 steps up to where the sigmoid falls under `negligible`. */
const tableSize = 1024;
const negligible = 1e-4;

function popcount(v: number): number {
  v = v - ((v >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24;
}

function wrap(d: number): number {
  if (d >= Math.PI) return d - twoPi;
  if (d < -Math.PI) return d + twoPi;
  return d;
}

function sigmoid(value: number, mu: number, tau: number): number {
  return 1 / (1 + Math.exp(-tau * (value - mu)));
}

/** atan2 within about 0.004 rad (enough against compatibility tolerances of 0.26 rad). */
function fastAtan2(y: number, x: number): number {
  const ax = Math.abs(x);
  const ay = Math.abs(y);
  if (ax === 0 && ay === 0) return 0;
  const swap = ay > ax;
  const z = swap ? ax / ay : ay / ax;
  let angle = z * (Math.PI / 4 + 0.273 * (1 - z));
  if (swap) angle = Math.PI / 2 - angle;
  if (x < 0) angle = Math.PI - angle;
  return y < 0 ? -angle : angle;
}

/** A decreasing sigmoid tabulated on [0, limit), zero beyond. */
class SigmoidTable {
  readonly values = new Float64Array(tableSize + 1);
  readonly scale: number;

  constructor(mu: number, tau: number) {
    // tau < 0: the sigmoid falls from ~1 to 0 as the difference grows.
    const limit = mu + Math.log(1 / negligible - 1) / -tau;
    this.scale = tableSize / limit;
    for (let index = 0; index < tableSize; index++) this.values[index] = sigmoid(index / this.scale, mu, tau);
    this.values[tableSize] = 0;
  }

  at(value: number): number {
    const index = (value * this.scale) | 0;
    return index < tableSize ? this.values[index]! : 0;
  }
}

/** A view of one template inside a word array (the gallery or a standalone template). */
export interface TemplateRef {
  words: Uint32Array;
  floats: Float32Array;
  base: number;
}

export function templateRef(template: Uint32Array, base = 0): TemplateRef {
  return { words: template, floats: new Float32Array(template.buffer, template.byteOffset, template.length), base };
}

/** The addon and this matcher's state in it. */
interface NativeScorer {
  kernel: NativeKernel;
  handle: NativeKernelHandle;
}

export interface MccMatcherOptions {
  /** false: without the native kernel, the local stage runs in JavaScript, not WebAssembly SIMD. */
  useSimd?: boolean;
  /** false keeps the comparison in JavaScript / WebAssembly even where the native addon loads. */
  useNative?: boolean;
  /**
   * false keeps the native local stage two pairs at a time even on a CPU with AVX-512 (eight at
   * a time): the scores are the same, which tests check by comparing the two.
   */
  nativeWide?: boolean;
}

export class MccMatcher {
  private readonly params: MccParams;
  private readonly words: number;
  private readonly maxMinutiae: number;
  private readonly distanceTable: SigmoidTable;
  private readonly angleTable: SigmoidTable;
  private readonly pairsWanted: Int32Array;
  /**
   * buildCompatibility's distance bound: 2 L², L a little beyond the table's end, so that it
   * rejects only what the table would. Computed once, here, for both kernels.
   */
  private readonly rejectSquared: number;
  private readonly native: NativeScorer | undefined;
  /** score()'s one-template batch for the native kernel. */
  private readonly oneBase = new Int32Array(1);
  private readonly oneScore = new Float64Array(1);
  private readonly simd: SimdLocalStage | undefined;
  // Local stage output: keys chained per bucket (heads, next), in wasm memory when SIMD runs.
  private readonly keys: Uint32Array;
  private readonly heads: Int32Array;
  private readonly next: Int32Array;
  private count = 0;
  /** The keys of one bucket, as sortBucket orders them. */
  private readonly run: Uint32Array;
  private readonly usedA: Int32Array;
  private readonly usedB: Int32Array;
  private stamp = 0;
  // Selected pairs, geometry copied out of the templates.
  private readonly pairXa: Float64Array;
  private readonly pairYa: Float64Array;
  private readonly pairTa: Float64Array;
  private readonly pairXb: Float64Array;
  private readonly pairYb: Float64Array;
  private readonly pairTb: Float64Array;
  /** Per pair, the rotation from a to b (ta - tb, wrapped). */
  private readonly pairTurn: Float64Array;
  private readonly lambda0: Float64Array;
  private readonly lambda: Float64Array;
  private readonly lambdaNext: Float64Array;
  // Sparse symmetric compatibility matrix (pair rows, entries with rho above negligible).
  private readonly rowLength: Int32Array;
  /** Pairs with at least one compatible pair. */
  private readonly connected: Int32Array;
  private readonly entryColumn: Int32Array;
  private readonly entryValue: Float64Array;
  private readonly topEfficiency: Float64Array;
  private readonly topLambda: Float64Array;

  constructor(params: MccParams = defaultMccParams, options: MccMatcherOptions = {}) {
    this.params = params;
    this.words = cylinderWords(params);
    const m = params.maxMinutiae;
    this.maxMinutiae = m;
    this.distanceTable = new SigmoidTable(params.relaxDistanceMuPx, params.relaxDistanceTau);
    this.angleTable = new SigmoidTable(params.relaxAngleMuRad, params.relaxAngleTau);
    this.pairsWanted = Int32Array.from({ length: m + 1 }, (_, n) => params.minPairs + Math.round(sigmoid(n, params.pairsMu, params.pairsTau) * (params.maxPairs - params.minPairs)));
    this.rejectSquared = 2 * ((tableSize * 1.001) / this.distanceTable.scale) ** 2;
    this.native = options.useNative === false ? undefined : this.createNative(options.nativeWide !== false);
    const simdFits = this.native === undefined && this.words === simdCylinderWords && m <= 128 && options.useSimd !== false;
    this.simd = simdFits ? SimdLocalStage.create() : undefined;
    this.keys = this.simd?.keys ?? new Uint32Array(m * m);
    this.heads = this.simd?.heads ?? new Int32Array(buckets);
    this.next = this.simd?.next ?? new Int32Array(m * m);
    this.run = new Uint32Array(m * m);
    this.usedA = new Int32Array(m);
    this.usedB = new Int32Array(m);
    [this.pairXa, this.pairYa, this.pairTa, this.pairXb, this.pairYb, this.pairTb, this.pairTurn] = Array.from({ length: 7 }, () => new Float64Array(m));
    this.lambda0 = new Float64Array(m);
    this.lambda = new Float64Array(m);
    this.lambdaNext = new Float64Array(m);
    this.rowLength = new Int32Array(m);
    this.connected = new Int32Array(m);
    this.entryColumn = new Int32Array(m * m);
    this.entryValue = new Float64Array(m * m);
    this.topEfficiency = new Float64Array(params.maxPairs);
    this.topLambda = new Float64Array(params.maxPairs);
  }

  /** The native kernel for these parameters, or undefined (no addon, or parameters it cannot run). */
  private createNative(allowWide: boolean): NativeScorer | undefined {
    const kernel = loadNativeKernel();
    if (kernel === undefined) return undefined;
    const p = this.params;
    const settings = [this.words, this.maxMinutiae, p.maxDirectionDiffRad, p.minLocalSimilarity, p.maxRelaxPairs, p.relaxIterations, p.relaxWeight, this.distanceTable.scale, this.angleTable.scale, this.rejectSquared];
    try {
      return { kernel, handle: kernel.create(Float64Array.from(settings), this.distanceTable.values, this.angleTable.values, this.pairsWanted, allowWide) };
    } catch {
      return undefined;
    }
  }

  get isNative(): boolean {
    return this.native !== undefined;
  }

  /** How many pairs the native local stage scores at once ('avx512': 8, 'sse2': 2), when native. */
  get nativeLocalStage(): NativeLocalStage | undefined {
    return this.native?.kernel.localStage?.(this.native.handle);
  }

  get kernelName(): MatcherKernelName {
    if (this.native) return 'native';
    return this.simd ? 'wasm-simd' : 'javascript';
  }

  /**
   * Similarity in [0, 1] of two templates in matcher form. Refuses (INVALID_TEMPLATE) a template
   * outside its word array or with more than maxMinutiae minutiae.
   */
  score(a: TemplateRef, b: TemplateRef): number {
    if (this.native === undefined) {
      this.checkTemplate(a.words, a.base);
      this.checkTemplate(b.words, b.base);
      return this.portableScore(a, b);
    }
    this.oneBase[0] = b.base;
    this.nativeScoreMany(this.native, a, b.words, this.oneBase, 1, this.oneScore);
    return this.oneScore[0]!;
  }

  /**
   * Scores the probe against the `count` templates of gallery.words at word offsets
   * bases[0..count) into out[0..count): one native call, or a loop over score.
   */
  scoreMany(probe: TemplateRef, gallery: TemplateRef, bases: Int32Array, count: number, out: Float64Array): void {
    if (!Number.isInteger(count) || count < 0 || count > bases.length || count > out.length) {
      throw new BiopayError(ErrorCode.BadRequest, `scoreMany: count ${count} outside bases (${bases.length}) or out (${out.length})`);
    }
    if (this.native !== undefined) {
      this.nativeScoreMany(this.native, probe, gallery.words, bases, count, out);
      return;
    }
    this.checkTemplate(probe.words, probe.base);
    const candidate: TemplateRef = { words: gallery.words, floats: gallery.floats, base: 0 };
    for (let index = 0; index < count; index++) {
      candidate.base = bases[index]!;
      this.checkTemplate(candidate.words, candidate.base);
      out[index] = this.portableScore(probe, candidate);
    }
  }

  /** What the native kernel checks before it reads a template, for the portable path. */
  private checkTemplate(words: Uint32Array, base: number): void {
    if (!Number.isInteger(base) || base < 0 || base + templateHeaderWords > words.length) {
      throw new BiopayError(ErrorCode.InvalidTemplate, `template base ${base} outside the word array (${words.length} words)`);
    }
    const n = words[base + 1]!;
    if (n > this.maxMinutiae) throw new BiopayError(ErrorCode.InvalidTemplate, `template has ${n} minutiae, more than ${this.maxMinutiae}`);
    if (base + templateWords(n, this.words) > words.length) {
      throw new BiopayError(ErrorCode.InvalidTemplate, `template at ${base} runs past the end of the word array`);
    }
  }

  private nativeScoreMany(native: NativeScorer, probe: TemplateRef, words: Uint32Array, bases: Int32Array, count: number, out: Float64Array): void {
    try {
      native.kernel.scoreMany(native.handle, probe.words, probe.base, words, bases, count, out);
    } catch (error) {
      throw nativeKernelError(error, 'native matcher');
    }
  }

  /** The JavaScript (and WebAssembly) comparison: the reference the native kernel equals. */
  private portableScore(a: TemplateRef, b: TemplateRef): number {
    const nA = Math.min(a.words[a.base + 1]!, this.maxMinutiae);
    const nB = Math.min(b.words[b.base + 1]!, this.maxMinutiae);
    if (nA === 0 || nB === 0) return 0;
    const aTheta = a.base + templateHeaderWords + 2 * nA;
    const bTheta = b.base + templateHeaderWords + 2 * nB;
    if (this.simd) this.simd.compare(a.words, aTheta, nA, b.words, bTheta, nB, this.params.maxDirectionDiffRad, this.params.minLocalSimilarity);
    else this.localSimilarities(a, nA, b, nB);
    const pairs = this.selectPairs(a, nA, b, nB, Math.min(nA, nB, this.params.maxRelaxPairs));
    if (pairs === 0) return 0;
    this.relax(pairs);
    return this.consolidate(pairs, this.pairsWanted[Math.min(nA, nB)]!);
  }

  /**
   * Fills keys with (similarity << 16 | i << 8 | j) for every comparable pair, chained per bucket
   * (top 8 bits) from heads through next, exactly as the SIMD stage does: b is sorted by direction,
   * so the minutiae within maxDiff of a direction form one run round the circle through the first
   * one not below it (c) and the one before (c - 1), visited outwards.
   */
  private localSimilarities(a: TemplateRef, nA: number, b: TemplateRef, nB: number): void {
    const at = templateOffsets(a.base, nA, this.words);
    const bt = templateOffsets(b.base, nB, this.words);
    const bf = b.floats;
    this.heads.fill(-1);
    this.count = 0;
    let c = 0;
    for (let i = 0; i < nA; i++) {
      const thetaA = a.floats[at.theta + i]!;
      while (c < nB && bf[bt.theta + c]! < thetaA) c++;
      while (c > 0 && bf[bt.theta + c - 1]! >= thetaA) c--;
      let visited = 0;
      for (let j = c === nB ? 0 : c; visited < nB && this.withinDirection(thetaA, bf[bt.theta + j]!); j = j + 1 === nB ? 0 : j + 1, visited++) this.localPair(a, at, i, b, bt, j);
      for (let j = c === 0 ? nB - 1 : c - 1; visited < nB && this.withinDirection(thetaA, bf[bt.theta + j]!); j = j === 0 ? nB - 1 : j - 1, visited++) this.localPair(a, at, i, b, bt, j);
    }
  }

  private withinDirection(thetaA: number, thetaB: number): boolean {
    let d = thetaA - thetaB;
    if (d < 0) d = -d;
    if (d > Math.PI) d = twoPi - d;
    return d <= this.params.maxDirectionDiffRad;
  }

  private localPair(a: TemplateRef, at: ReturnType<typeof templateOffsets>, i: number, b: TemplateRef, bt: ReturnType<typeof templateOffsets>, j: number): void {
    const w = this.words;
    const aBits = at.bits + i * w;
    const bBits = bt.bits + j * w;
    let differ = 0;
    for (let k = 0; k < w; k++) differ += popcount(a.words[aBits + k]! ^ b.words[bBits + k]!);
    const norms = a.floats[at.norm + i]! + b.floats[bt.norm + j]!;
    if (norms === 0) return;
    const similarity = 1 - Math.sqrt(differ) / norms;
    if (similarity <= this.params.minLocalSimilarity) return;
    const key = (((similarity * 0xffff) << 16) | (i << 8) | j) >>> 0;
    const count = this.count++;
    this.keys[count] = key;
    this.next[count] = this.heads[key >>> 24]!;
    this.heads[key >>> 24] = count;
  }

  /**
   * Greedy one-to-one choice of the best local pairs (LSS with each minutia used once): buckets
   * best first, each bucket's few keys sorted, until `limit` pairs.
   */
  private selectPairs(a: TemplateRef, nA: number, b: TemplateRef, nB: number, limit: number): number {
    const usedA = this.usedA;
    const usedB = this.usedB;
    // A minutia is taken when its mark is this comparison's stamp: no clearing per comparison.
    const stamp = this.nextStamp();
    const heads = this.heads;
    const ax = a.base + templateHeaderWords;
    const bx = b.base + templateHeaderWords;
    const af = a.floats;
    const bf = b.floats;
    let pairs = 0;
    for (let bucket = buckets - 1; bucket >= 0 && pairs < limit; bucket--) {
      if (heads[bucket]! < 0) continue;
      for (let index = this.sortBucket(heads[bucket]!) - 1; index >= 0 && pairs < limit; index--) {
        const key = this.run[index]!;
        const i = (key >>> 8) & 0xff;
        const j = key & 0xff;
        if (usedA[i] === stamp || usedB[j] === stamp) continue;
        usedA[i] = stamp;
        usedB[j] = stamp;
        this.pairXa[pairs] = af[ax + i]!;
        this.pairYa[pairs] = af[ax + nA + i]!;
        this.pairTa[pairs] = af[ax + 2 * nA + i]!;
        this.pairXb[pairs] = bf[bx + j]!;
        this.pairYb[pairs] = bf[bx + nB + j]!;
        this.pairTb[pairs] = bf[bx + 2 * nB + j]!;
        this.lambda0[pairs] = (key >>> 16) / 0xffff;
        pairs++;
      }
    }
    return pairs;
  }

  private nextStamp(): number {
    if (this.stamp === 0x7fffffff) {
      this.stamp = 0;
      this.usedA.fill(0);
      this.usedB.fill(0);
    }
    return ++this.stamp;
  }

  /**
   * The keys chained from `first` into `run`, last to first by minutia indices (i, then j):
   * similarities within one bucket (1/256) count as equal, and the ties go to the lower indices,
   * as with a stable counting sort. The chain runs from the latest key back, so mostly in that
   * order already: the insertion sort rarely moves anything.
   */
  private sortBucket(first: number): number {
    const run = this.run;
    let size = 0;
    for (let index = first; index >= 0; index = this.next[index]!) {
      const key = this.keys[index]!;
      const minutiae = key & 0xffff;
      let at = size++;
      while (at > 0 && (run[at - 1]! & 0xffff) < minutiae) {
        run[at] = run[at - 1]!;
        at--;
      }
      run[at] = key;
    }
    return size;
  }

  /**
   * Relaxation: a pair keeps its similarity only if geometrically compatible pairs support it.
   * Pairs compatible with none (most, between impostors) just decay by relaxWeight per iteration,
   * so only the connected ones are iterated.
   */
  private relax(pairs: number): void {
    const p = this.params;
    this.buildCompatibility(pairs);
    const lambda = this.lambda;
    const next = this.lambdaNext;
    const rowLength = this.rowLength;
    const entryColumn = this.entryColumn;
    const entryValue = this.entryValue;
    const connected = this.connected;
    const keep = p.relaxWeight;
    let linked = 0;
    for (let t = 0; t < pairs; t++) {
      lambda[t] = this.lambda0[t]!;
      if (rowLength[t]! > 0) connected[linked++] = t;
      else for (let iteration = 0; iteration < p.relaxIterations; iteration++) lambda[t] = keep * lambda[t]!;
    }
    const spread = pairs > 1 ? (1 - keep) / (pairs - 1) : 0;
    for (let iteration = 0; iteration < p.relaxIterations; iteration++) {
      for (let row = 0; row < linked; row++) {
        const t = connected[row]!;
        let support = 0;
        const start = t * pairs;
        const end = start + rowLength[t]!;
        for (let entry = start; entry < end; entry++) support += entryValue[entry]! * lambda[entryColumn[entry]!]!;
        next[t] = keep * lambda[t]! + spread * support;
      }
      for (let row = 0; row < linked; row++) lambda[connected[row]!] = next[connected[row]!]!;
    }
  }

  /**
   * Sparse rows of rho(t, k): distances, relative directions and radial angles agree. Row t has
   * room for `pairs` entries at t * pairs. Most pairs of pairs fail one test: cheapest first.
   */
  private buildCompatibility(pairs: number): void {
    const xa = this.pairXa;
    const ya = this.pairYa;
    const xb = this.pairXb;
    const yb = this.pairYb;
    const turn = this.pairTurn;
    const distanceValues = this.distanceTable.values;
    const distanceScale = this.distanceTable.scale;
    const rejectSquared = this.rejectSquared;
    const angle = this.angleTable;
    const angleValues = angle.values;
    const angleScale = angle.scale;
    for (let t = 0; t < pairs; t++) turn[t] = wrap(this.pairTa[t]! - this.pairTb[t]!);
    this.rowLength.fill(0, 0, pairs);
    for (let t = 0; t < pairs; t++) {
      const xat = xa[t]!;
      const yat = ya[t]!;
      const xbt = xb[t]!;
      const ybt = yb[t]!;
      const turnT = turn[t]!;
      for (let k = t + 1; k < pairs; k++) {
        const dxa = xa[k]! - xat;
        const dya = ya[k]! - yat;
        const dxb = xb[k]! - xbt;
        const dyb = yb[k]! - ybt;
        const squaredA = dxa * dxa + dya * dya;
        const squaredB = dxb * dxb + dyb * dyb;
        // |da - db| = |da² - db²| / (da + db) >= |da² - db²| / sqrt(2 (da² + db²)): a bound
        // that rejects most pairs of pairs without a square root.
        const squaredGap = squaredA - squaredB;
        if (squaredGap * squaredGap > rejectSquared * (squaredA + squaredB)) continue;
        // Relative directions: (ta_t - ta_k) - (tb_t - tb_k), i.e. the two pairs' turns differ.
        const directionIndex = (Math.abs(wrap(turnT - turn[k]!)) * angleScale) | 0;
        if (directionIndex >= tableSize) continue;
        const distanceIndex = (Math.abs(Math.sqrt(squaredA) - Math.sqrt(squaredB)) * distanceScale) | 0;
        if (distanceIndex >= tableSize) continue;
        // Radial angles: ta_t - angle(a_t a_k) against tb_t - angle(b_t b_k); the difference of
        // the two segment angles is one atan2 of their cross and dot products.
        const segmentTurn = fastAtan2(dxb * dya - dyb * dxa, dxa * dxb + dya * dyb);
        const radial = angle.at(Math.abs(wrap(turnT - segmentTurn)));
        const rho = distanceValues[distanceIndex]! * angleValues[directionIndex]! * radial;
        if (rho === 0) continue;
        this.addEntry(t, k, pairs, rho);
        this.addEntry(k, t, pairs, rho);
      }
    }
  }

  private addEntry(row: number, column: number, pairs: number, rho: number): void {
    const entry = row * pairs + this.rowLength[row]!++;
    this.entryColumn[entry] = column;
    this.entryValue[entry] = rho;
  }

  /** Mean relaxed similarity of the `wanted` pairs that kept the largest share of their similarity. */
  private consolidate(pairs: number, wanted: number): number {
    let size = 0;
    for (let t = 0; t < pairs; t++) {
      const efficiency = this.lambda[t]! / this.lambda0[t]!;
      if (size === wanted && efficiency <= this.topEfficiency[size - 1]!) continue;
      let index = size < wanted ? size++ : size - 1;
      while (index > 0 && this.topEfficiency[index - 1]! < efficiency) {
        this.topEfficiency[index] = this.topEfficiency[index - 1]!;
        this.topLambda[index] = this.topLambda[index - 1]!;
        index--;
      }
      this.topEfficiency[index] = efficiency;
      this.topLambda[index] = this.lambda[t]!;
    }
    let sum = 0;
    for (let index = 0; index < size; index++) sum += this.topLambda[index]!;
    return sum / wanted;
  }
}

/**
 * The comparison kernel a default matcher runs in this process, with the native local stage's
 * width: 'native-avx512', 'native-sse2', 'native-scalar', 'wasm-simd' or 'javascript'. Load
 * reports record it, so that runs on CPUs with and without AVX-512 are not compared unawares.
 */
export function matcherKernelSetting(): string {
  const matcher = new MccMatcher();
  const stage = matcher.nativeLocalStage;
  return stage === undefined ? matcher.kernelName : `native-${stage}`;
}
