/**
 * The one-to-one comparison kernel: bit-vector MCC local similarities (popcounts), then LSS-R
 * global consolidation (greedy one-to-one pair selection, relaxation on geometric compatibility,
 * average of the most efficient pairs). Pure CPU on preallocated typed arrays: it runs inside
 * piscina workers over a SharedArrayBuffer gallery.
 *
 * Cost control (the budget is about 10 µs per comparison; we are at about 20):
 *   - the local stage runs in WebAssembly SIMD (simd-local-stage.ts), with this file's JavaScript
 *     version as the fallback and the reference it must equal bit for bit;
 *   - only cylinders of minutiae with close directions are compared (maxDirectionDiffRad), and
 *     templates keep minutiae sorted by direction so that this test is well predicted;
 *   - similarity 1 - sqrt(popcount(a xor b)) / (|a| + |b|), norms precomputed at enrollment;
 *   - only the best few local pairs are ordered, by a counting sort on the top 8 bits of their
 *     similarity cut where a few times the wanted pairs are reached;
 *   - compatibility sigmoids come from tables, and incompatible pairs (the usual case between
 *     impostors) are dropped, so relaxation works on a sparse matrix.
 */
import { cylinderWords, defaultMccParams, type MccParams } from './mcc-params.js';
import { SimdLocalStage, simdCylinderWords } from './simd-local-stage.js';
import { templateOffsets } from './template.js';

const twoPi = 2 * Math.PI;
const buckets = 256;
/** Keys sorted first: this many times the pairs wanted (a minutia often appears in several). */
const cutMultiple = 8;
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

export class MccMatcher {
  private readonly params: MccParams;
  private readonly words: number;
  private readonly maxMinutiae: number;
  private readonly distanceTable: SigmoidTable;
  private readonly angleTable: SigmoidTable;
  private readonly pairsWanted: Int32Array;
  private readonly keys: Uint32Array;
  private readonly simd: SimdLocalStage | undefined;
  private readonly ordered: Uint32Array;
  private readonly offsets = new Int32Array(buckets);
  private readonly histogram = new Int32Array(buckets);
  private readonly usedA: Uint8Array;
  private readonly usedB: Uint8Array;
  // Selected pairs, geometry copied out of the templates.
  private readonly pairXa: Float64Array;
  private readonly pairYa: Float64Array;
  private readonly pairTa: Float64Array;
  private readonly pairXb: Float64Array;
  private readonly pairYb: Float64Array;
  private readonly pairTb: Float64Array;
  private readonly lambda0: Float64Array;
  private readonly lambda: Float64Array;
  private readonly lambdaNext: Float64Array;
  // Sparse symmetric compatibility matrix (pair rows, entries with rho above negligible).
  private readonly rowStart: Int32Array;
  private readonly rowLength: Int32Array;
  private readonly entryColumn: Int32Array;
  private readonly entryValue: Float64Array;
  private readonly topEfficiency: Float64Array;
  private readonly topLambda: Float64Array;

  /** `useSimd: false` forces the JavaScript local stage (the reference the SIMD stage must equal). */
  constructor(params: MccParams = defaultMccParams, options: { useSimd?: boolean } = {}) {
    this.params = params;
    this.words = cylinderWords(params);
    const m = params.maxMinutiae;
    this.maxMinutiae = m;
    this.distanceTable = new SigmoidTable(params.relaxDistanceMuPx, params.relaxDistanceTau);
    this.angleTable = new SigmoidTable(params.relaxAngleMuRad, params.relaxAngleTau);
    this.pairsWanted = Int32Array.from({ length: m + 1 }, (_, n) => params.minPairs + Math.round(sigmoid(n, params.pairsMu, params.pairsTau) * (params.maxPairs - params.minPairs)));
    this.keys = new Uint32Array(m * m);
    const simdFits = this.words === simdCylinderWords && m <= 128 && options.useSimd !== false;
    this.simd = simdFits ? SimdLocalStage.create() : undefined;
    this.ordered = new Uint32Array(m * m);
    this.usedA = new Uint8Array(m);
    this.usedB = new Uint8Array(m);
    [this.pairXa, this.pairYa, this.pairTa, this.pairXb, this.pairYb, this.pairTb] = Array.from({ length: 6 }, () => new Float64Array(m));
    this.lambda0 = new Float64Array(m);
    this.lambda = new Float64Array(m);
    this.lambdaNext = new Float64Array(m);
    this.rowStart = new Int32Array(m);
    this.rowLength = new Int32Array(m);
    this.entryColumn = new Int32Array(m * m);
    this.entryValue = new Float64Array(m * m);
    this.topEfficiency = new Float64Array(params.maxPairs);
    this.topLambda = new Float64Array(params.maxPairs);
  }

  /** Similarity in [0, 1] of two templates in matcher form. */
  score(a: TemplateRef, b: TemplateRef): number {
    const nA = Math.min(a.words[a.base + 1]!, this.maxMinutiae);
    const nB = Math.min(b.words[b.base + 1]!, this.maxMinutiae);
    if (nA === 0 || nB === 0) return 0;
    const count = this.simd
      ? this.simd.compare(a.words, templateOffsets(a.base, nA, this.words).theta, nA, b.words, templateOffsets(b.base, nB, this.words).theta, nB, this.params.maxDirectionDiffRad, this.params.minLocalSimilarity)
      : this.localSimilarities(a, nA, b, nB);
    const pairs = this.selectPairs(a, nA, b, nB, count, Math.min(nA, nB, this.params.maxRelaxPairs));
    if (pairs === 0) return 0;
    this.relax(pairs);
    return this.consolidate(pairs, this.pairsWanted[Math.min(nA, nB)]!);
  }

  /**
   * Fills keys with (similarity << 16 | i << 8 | j) for every comparable pair, and the histogram
   * of their top 8 bits; returns the count.
   */
  private localSimilarities(a: TemplateRef, nA: number, b: TemplateRef, nB: number): number {
    const w = this.words;
    const at = templateOffsets(a.base, nA, w);
    const bt = templateOffsets(b.base, nB, w);
    const aw = a.words;
    const bw = b.words;
    const af = a.floats;
    const bf = b.floats;
    const maxDiff = this.params.maxDirectionDiffRad;
    const minSimilarity = this.params.minLocalSimilarity;
    const keys = this.keys;
    this.histogram.fill(0);
    let count = 0;
    for (let i = 0; i < nA; i++) {
      const thetaA = af[at.theta + i]!;
      const normA = af[at.norm + i]!;
      const aBits = at.bits + i * w;
      for (let j = 0; j < nB; j++) {
        let d = thetaA - bf[bt.theta + j]!;
        if (d < 0) d = -d;
        if (d > Math.PI) d = twoPi - d;
        if (d > maxDiff) continue;
        const bBits = bt.bits + j * w;
        let differ = 0;
        for (let k = 0; k < w; k++) differ += popcount(aw[aBits + k]! ^ bw[bBits + k]!);
        const norms = normA + bf[bt.norm + j]!;
        if (norms === 0) continue;
        const similarity = 1 - Math.sqrt(differ) / norms;
        if (similarity <= minSimilarity) continue;
        const key = (((similarity * 0xffff) << 16) | (i << 8) | j) >>> 0;
        keys[count++] = key;
        this.histogram[key >>> 24]!++;
      }
    }
    return count;
  }

  /**
   * Greedy one-to-one choice of the best local pairs (LSS with each minutia used once). Only the
   * best keys are ordered: the histogram of their top 8 bits gives a cut above which lie a few
   * times `limit` keys; the rest is ordered only if those did not yield `limit` pairs.
   */
  private selectPairs(a: TemplateRef, nA: number, b: TemplateRef, nB: number, count: number, limit: number): number {
    const histogram = this.simd ? this.simd.histogram : this.histogram;
    let cut = buckets - 1;
    for (let above = histogram[cut]!; cut > 0 && above < limit * cutMultiple; ) above += histogram[--cut]!;
    this.usedA.fill(0, 0, nA);
    this.usedB.fill(0, 0, nB);
    const size = this.gather(count, cut, buckets, 0);
    const pairs = this.takeGreedy(a, nA, b, nB, 0, size, 0, limit);
    if (pairs === limit || cut === 0) return pairs;
    return this.takeGreedy(a, nA, b, nB, size, this.gather(count, 0, cut, size), pairs, limit);
  }

  /**
   * Orders the keys of buckets [fromBucket, toBucket) best bucket first (stable within a bucket)
   * into `ordered` from position `at`; returns the end position.
   */
  private gather(count: number, fromBucket: number, toBucket: number, at: number): number {
    const histogram = this.simd ? this.simd.histogram : this.histogram;
    const offsets = this.simd ? this.simd.offsets : this.offsets;
    let end = at;
    for (let bucket = toBucket - 1; bucket >= fromBucket; bucket--) {
      offsets[bucket] = end;
      end += histogram[bucket]!;
    }
    if (this.simd) {
      this.simd.gather(count, fromBucket, toBucket);
      return end;
    }
    for (let index = 0; index < count; index++) {
      const key = this.keys[index]!;
      const bucket = key >>> 24;
      if (bucket >= fromBucket && bucket < toBucket) this.ordered[offsets[bucket]!++] = key;
    }
    return end;
  }

  private takeGreedy(a: TemplateRef, nA: number, b: TemplateRef, nB: number, from: number, to: number, pairs: number, limit: number): number {
    const at = templateOffsets(a.base, nA, this.words);
    const bt = templateOffsets(b.base, nB, this.words);
    const ordered = this.simd ? this.simd.ordered : this.ordered;
    for (let index = from; index < to && pairs < limit; index++) {
      const key = ordered[index]!;
      const i = (key >>> 8) & 0xff;
      const j = key & 0xff;
      if (this.usedA[i] || this.usedB[j]) continue;
      this.usedA[i] = 1;
      this.usedB[j] = 1;
      this.pairXa[pairs] = a.floats[at.x + i]!;
      this.pairYa[pairs] = a.floats[at.y + i]!;
      this.pairTa[pairs] = a.floats[at.theta + i]!;
      this.pairXb[pairs] = b.floats[bt.x + j]!;
      this.pairYb[pairs] = b.floats[bt.y + j]!;
      this.pairTb[pairs] = b.floats[bt.theta + j]!;
      this.lambda0[pairs] = (key >>> 16) / 0xffff;
      pairs++;
    }
    return pairs;
  }

  /** Compatibility of pairs t and k: distances, relative directions and radial angles agree. */
  private compatibility(t: number, k: number): number {
    const dxa = this.pairXa[k]! - this.pairXa[t]!;
    const dya = this.pairYa[k]! - this.pairYa[t]!;
    const dxb = this.pairXb[k]! - this.pairXb[t]!;
    const dyb = this.pairYb[k]! - this.pairYb[t]!;
    const distance = this.distanceTable.at(Math.abs(Math.sqrt(dxa * dxa + dya * dya) - Math.sqrt(dxb * dxb + dyb * dyb)));
    if (distance === 0) return 0;
    const ta = this.pairTa[t]!;
    const tb = this.pairTb[t]!;
    const direction = this.angleTable.at(Math.abs(wrap(wrap(ta - this.pairTa[k]!) - wrap(tb - this.pairTb[k]!))));
    if (direction === 0) return 0;
    const radial = this.angleTable.at(Math.abs(wrap(wrap(ta - fastAtan2(dya, dxa)) - wrap(tb - fastAtan2(dyb, dxb)))));
    return distance * direction * radial;
  }

  /** Relaxation: a pair keeps its similarity only if geometrically compatible pairs support it. */
  private relax(pairs: number): void {
    const p = this.params;
    this.buildCompatibility(pairs);
    const lambda = this.lambda;
    const next = this.lambdaNext;
    for (let t = 0; t < pairs; t++) lambda[t] = this.lambda0[t]!;
    const keep = p.relaxWeight;
    const spread = pairs > 1 ? (1 - keep) / (pairs - 1) : 0;
    for (let iteration = 0; iteration < p.relaxIterations; iteration++) {
      for (let t = 0; t < pairs; t++) {
        let support = 0;
        const end = this.rowStart[t]! + this.rowLength[t]!;
        for (let entry = this.rowStart[t]!; entry < end; entry++) support += this.entryValue[entry]! * lambda[this.entryColumn[entry]!]!;
        next[t] = keep * lambda[t]! + spread * support;
      }
      // Plain copies: subarray() would allocate views on every comparison.
      for (let t = 0; t < pairs; t++) lambda[t] = next[t]!;
    }
  }

  /** Sparse rows: row t has room for `pairs` entries at t * pairs. */
  private buildCompatibility(pairs: number): void {
    for (let t = 0; t < pairs; t++) {
      this.rowStart[t] = t * pairs;
      this.rowLength[t] = 0;
    }
    for (let t = 0; t < pairs; t++) {
      for (let k = t + 1; k < pairs; k++) {
        const rho = this.compatibility(t, k);
        if (rho === 0) continue;
        const forward = this.rowStart[t]! + this.rowLength[t]!++;
        this.entryColumn[forward] = k;
        this.entryValue[forward] = rho;
        const backward = this.rowStart[k]! + this.rowLength[k]!++;
        this.entryColumn[backward] = t;
        this.entryValue[backward] = rho;
      }
    }
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
