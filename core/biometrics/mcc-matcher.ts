/**
 * The one-to-one comparison kernel: bit-vector MCC local similarities (popcounts), then LSS-R
 * global consolidation (greedy one-to-one pair selection, relaxation on geometric compatibility,
 * average of the most efficient pairs). Pure CPU on typed arrays, no allocation per comparison:
 * it runs inside piscina workers over a SharedArrayBuffer gallery.
 */
import { cellsWithinRadius } from './cylinder.js';
import { cylinderWords, defaultMccParams, type MccParams } from './mcc-params.js';
import { templateOffsets } from './template.js';

const twoPi = 2 * Math.PI;

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
  private readonly minMatchableBits: number;
  private readonly maxMinutiae: number;
  private readonly keys: Uint32Array;
  private readonly pairA: Int32Array;
  private readonly pairB: Int32Array;
  private readonly lambda0: Float64Array;
  private readonly lambda: Float64Array;
  private readonly lambdaNext: Float64Array;
  private readonly rho: Float64Array;
  private readonly efficiency: Float64Array;
  private readonly usedA: Uint8Array;
  private readonly usedB: Uint8Array;

  constructor(params: MccParams = defaultMccParams) {
    this.params = params;
    this.words = cylinderWords(params);
    this.minMatchableBits = params.minMatchableCellShare * cellsWithinRadius(params) * params.directionCells;
    const m = params.maxMinutiae;
    this.maxMinutiae = m;
    this.keys = new Uint32Array(m * m);
    this.pairA = new Int32Array(m);
    this.pairB = new Int32Array(m);
    this.lambda0 = new Float64Array(m);
    this.lambda = new Float64Array(m);
    this.lambdaNext = new Float64Array(m);
    this.rho = new Float64Array(m * m);
    this.efficiency = new Float64Array(m);
    this.usedA = new Uint8Array(m);
    this.usedB = new Uint8Array(m);
  }

  /** Similarity in [0, 1] of two templates in matcher form. */
  score(a: TemplateRef, b: TemplateRef): number {
    const nA = Math.min(a.words[a.base + 1]!, this.maxMinutiae);
    const nB = Math.min(b.words[b.base + 1]!, this.maxMinutiae);
    if (nA === 0 || nB === 0) return 0;
    const count = this.localSimilarities(a, nA, b, nB);
    const pairs = this.selectPairs(count, Math.min(nA, nB));
    if (pairs === 0) return 0;
    this.relax(a, nA, b, nB, pairs);
    return this.consolidate(pairs, Math.min(nA, nB));
  }

  /** Fills keys with (similarity << 16 | i << 8 | j) for every comparable pair; returns the count. */
  private localSimilarities(a: TemplateRef, nA: number, b: TemplateRef, nB: number): number {
    const w = this.words;
    const at = templateOffsets(a.base, nA, w);
    const bt = templateOffsets(b.base, nB, w);
    const aw = a.words;
    const bw = b.words;
    const maxDiff = this.params.maxDirectionDiffRad;
    const minBits = this.minMatchableBits;
    let count = 0;
    for (let i = 0; i < nA; i++) {
      const thetaA = a.floats[at.theta + i]!;
      const aBits = at.bits + i * w;
      const aValid = at.valid + i * w;
      for (let j = 0; j < nB; j++) {
        const d = wrap(thetaA - b.floats[bt.theta + j]!);
        if (d > maxDiff || d < -maxDiff) continue;
        const bBits = bt.bits + j * w;
        const bValid = bt.valid + j * w;
        let both = 0;
        let onA = 0;
        let onB = 0;
        let differ = 0;
        for (let k = 0; k < w; k++) {
          const mask = aw[aValid + k]! & bw[bValid + k]!;
          const ca = aw[aBits + k]! & mask;
          const cb = bw[bBits + k]! & mask;
          both += popcount(mask);
          onA += popcount(ca);
          onB += popcount(cb);
          differ += popcount(ca ^ cb);
        }
        if (both < minBits || onA + onB === 0) continue;
        const similarity = 1 - Math.sqrt(differ) / (Math.sqrt(onA) + Math.sqrt(onB));
        if (similarity <= 0) continue;
        this.keys[count++] = ((Math.round(similarity * 0xffff) << 16) | (i << 8) | j) >>> 0;
      }
    }
    return count;
  }

  /** Greedy one-to-one choice of the best local pairs (LSS with each minutia used once). */
  private selectPairs(count: number, limit: number): number {
    const sorted = this.keys.subarray(0, count).sort();
    this.usedA.fill(0);
    this.usedB.fill(0);
    let pairs = 0;
    for (let index = count - 1; index >= 0 && pairs < limit; index--) {
      const key = sorted[index]!;
      const i = (key >>> 8) & 0xff;
      const j = key & 0xff;
      if (this.usedA[i] || this.usedB[j]) continue;
      this.usedA[i] = 1;
      this.usedB[j] = 1;
      this.pairA[pairs] = i;
      this.pairB[pairs] = j;
      this.lambda0[pairs] = (key >>> 16) / 0xffff;
      pairs++;
    }
    return pairs;
  }

  /** Relaxation: a pair keeps its similarity only if geometrically compatible pairs support it. */
  private relax(a: TemplateRef, nA: number, b: TemplateRef, nB: number, pairs: number): void {
    const p = this.params;
    const w = this.words;
    const at = templateOffsets(a.base, nA, w);
    const bt = templateOffsets(b.base, nB, w);
    const af = a.floats;
    const bf = b.floats;
    for (let t = 0; t < pairs; t++) {
      const ia = this.pairA[t]!;
      const ib = this.pairB[t]!;
      const xa = af[at.x + ia]!;
      const ya = af[at.y + ia]!;
      const ta = af[at.theta + ia]!;
      const xb = bf[bt.x + ib]!;
      const yb = bf[bt.y + ib]!;
      const tb = bf[bt.theta + ib]!;
      this.rho[t * pairs + t] = 0;
      for (let k = t + 1; k < pairs; k++) {
        const ka = this.pairA[k]!;
        const kb = this.pairB[k]!;
        const dxa = af[at.x + ka]! - xa;
        const dya = af[at.y + ka]! - ya;
        const dxb = bf[bt.x + kb]! - xb;
        const dyb = bf[bt.y + kb]! - yb;
        const d1 = Math.abs(Math.sqrt(dxa * dxa + dya * dya) - Math.sqrt(dxb * dxb + dyb * dyb));
        const d2 = Math.abs(wrap(wrap(ta - af[at.theta + ka]!) - wrap(tb - bf[bt.theta + kb]!)));
        const d3 = Math.abs(wrap(wrap(ta - Math.atan2(dya, dxa)) - wrap(tb - Math.atan2(dyb, dxb))));
        const rho =
          sigmoid(d1, p.relaxDistanceMuPx, p.relaxDistanceTau) *
          sigmoid(d2, p.relaxAngleMuRad, p.relaxAngleTau) *
          sigmoid(d3, p.relaxAngleMuRad, p.relaxAngleTau);
        this.rho[t * pairs + k] = rho;
        this.rho[k * pairs + t] = rho;
      }
    }
    this.lambda.set(this.lambda0.subarray(0, pairs));
    const keep = p.relaxWeight;
    const spread = pairs > 1 ? (1 - keep) / (pairs - 1) : 0;
    for (let iteration = 0; iteration < p.relaxIterations; iteration++) {
      for (let t = 0; t < pairs; t++) {
        let support = 0;
        const row = t * pairs;
        for (let k = 0; k < pairs; k++) support += this.rho[row + k]! * this.lambda[k]!;
        this.lambdaNext[t] = keep * this.lambda[t]! + spread * support;
      }
      this.lambda.set(this.lambdaNext.subarray(0, pairs));
    }
  }

  /** Mean relaxed similarity of the nP pairs that kept the largest share of their similarity. */
  private consolidate(pairs: number, smallerCount: number): number {
    const p = this.params;
    const wanted = p.minPairs + Math.round(sigmoid(smallerCount, p.pairsMu, p.pairsTau) * (p.maxPairs - p.minPairs));
    for (let t = 0; t < pairs; t++) this.efficiency[t] = this.lambda[t]! / this.lambda0[t]!;
    const order = Array.from({ length: pairs }, (_, t) => t).sort((x, y) => this.efficiency[y]! - this.efficiency[x]!);
    let sum = 0;
    const taken = Math.min(wanted, pairs);
    for (let index = 0; index < taken; index++) sum += this.lambda[order[index]!]!;
    return sum / wanted;
  }
}
