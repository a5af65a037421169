/**
 * The local-similarity stage of the MCC kernel in WebAssembly SIMD (`i8x16.popcnt`, on by default
 * in Node 20), assembled here from opcodes: no toolchain, no dependency, no build step.
 *
 * It computes exactly what MccMatcher's JavaScript stage computes (same f64 arithmetic, same
 * truncation, same order), for 256-bit cylinders: for every pair (i, j) whose directions differ by at most
 * maxDiff, similarity = 1 - sqrt(popcount(a_i xor b_j)) / (|a_i| + |b_j|), and writes the key
 * (trunc(similarity * 0xffff) << 16 | i << 8 | j) of each one above minSim.
 *
 * Templates are staged into the module's own memory: each is one contiguous copy of its
 * [directions, norms, bits] words (template.ts layout), about 1.4 KB for 35 minutiae.
 */

/** Cylinder size this kernel is written for (8 x 8 x 4 cells). */
export const simdCylinderWords = 8;

const probeBase = 0;
const galleryBase = 8192;
const outputBase = 16384;
const histogramBase = 81920;
const gatherBase = 82944;
const offsetsBase = 148480;
/** sqrt(k) for k = 0..256, a load instead of a square root per pair (same f64 values as Math.sqrt). */
const sqrtBase = 149504;
const pages = 3;
const maxMinutiaeStaged = 128;
const buckets = 256;

// Opcodes (WebAssembly core 2.0 + fixed-width SIMD).
const op = {
  block: 0x02, loop: 0x03, if: 0x04, end: 0x0b, br: 0x0c, brIf: 0x0d, void: 0x40,
  localGet: 0x20, localSet: 0x21, localTee: 0x22,
  i32Const: 0x41, f64Const: 0x44,
  f32Load: 0x2a, f64Load: 0x2b, i32Store: 0x36,
  i32Load: 0x28, i32LtU: 0x49, i32GeU: 0x4f, i32Add: 0x6a, i32Mul: 0x6c, i32And: 0x71, i32Or: 0x72, i32Shl: 0x74, i32ShrU: 0x76,
  bulk: 0xfc, memoryFill: 0x0b,
  f64Eq: 0x61, f64Gt: 0x64, f64Le: 0x65,
  f64Abs: 0x99, f64Add: 0xa0, f64Sub: 0xa1, f64Mul: 0xa2, f64Div: 0xa3,
  i32TruncF64S: 0xaa, f64PromoteF32: 0xbb,
  simd: 0xfd, v128Load: 0x00, v128Xor: 0x51, i8x16Popcnt: 0x62, i8x16Add: 0x6e,
  i16x8ExtaddU: 0x7d, i32x4ExtaddU: 0x7f, i32x4ExtractLane: 0x1b,
} as const;
const type = { i32: 0x7f, f64: 0x7c, v128: 0x7b } as const;

function uleb(value: number): number[] {
  const bytes: number[] = [];
  do {
    let byte = value & 0x7f;
    value >>>= 7;
    if (value !== 0) byte |= 0x80;
    bytes.push(byte);
  } while (value !== 0);
  return bytes;
}

function sleb(value: number): number[] {
  const bytes: number[] = [];
  for (;;) {
    const byte = value & 0x7f;
    value >>= 7;
    const done = (value === 0 && (byte & 0x40) === 0) || (value === -1 && (byte & 0x40) !== 0);
    bytes.push(done ? byte : byte | 0x80);
    if (done) return bytes;
  }
}

function f64(value: number): number[] {
  return [op.f64Const, ...new Uint8Array(new Float64Array([value]).buffer)];
}

function vector(items: number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

function section(id: number, content: number[]): number[] {
  return [id, ...uleb(content.length), ...content];
}

function name(text: string): number[] {
  return [...uleb(text.length), ...Array.from(text, (c) => c.charCodeAt(0))];
}

// Parameters and locals of `local`.
const P = { nA: 0, nB: 1, maxDiff: 2, minSim: 3, aTheta: 4, aNorm: 5, aBits: 6, bTheta: 7, bNorm: 8, bBits: 9 };
const L = { i: 10, j: 11, count: 12, aRow: 13, bRow: 14, differ: 15, key: 16, slot: 17, va0: 18, va1: 19, v: 20, thetaA: 21, normA: 22, d: 23, norms: 24, sim: 25 };

const get = (index: number) => [op.localGet, index];
const set = (index: number) => [op.localSet, index];
const i32 = (value: number) => [op.i32Const, ...sleb(value)];
const simd = (code: number, ...immediates: number[]) => [op.simd, ...uleb(code), ...immediates];
/** f64 value of the f32 at address (on the stack) + 4 * index. */
const f32At = (base: number, index: number) => [...get(base), ...get(index), ...i32(4), op.i32Mul, op.i32Add, op.f32Load, 2, 0, op.f64PromoteF32];

function body(): number[] {
  const pairBody = [
    // d = |thetaA - thetaB|, folded into [0, pi]
    ...get(L.thetaA), ...f32At(P.bTheta, L.j), op.f64Sub, op.f64Abs, ...set(L.d),
    ...get(L.d), ...f64(Math.PI), op.f64Gt, op.if, op.void,
    ...f64(2 * Math.PI), ...get(L.d), op.f64Sub, ...set(L.d),
    op.end,
    ...get(L.d), ...get(P.maxDiff), op.f64Gt, op.brIf, 0,
    // differ = popcount(a xor b) over 256 bits
    ...get(L.bRow), ...simd(op.v128Load, 4, 0), ...get(L.va0), ...simd(op.v128Xor), ...simd(op.i8x16Popcnt),
    ...get(L.bRow), ...simd(op.v128Load, 4, 16), ...get(L.va1), ...simd(op.v128Xor), ...simd(op.i8x16Popcnt),
    ...simd(op.i8x16Add), ...simd(op.i16x8ExtaddU), ...simd(op.i32x4ExtaddU), op.localTee, L.v,
    ...simd(op.i32x4ExtractLane, 0), ...get(L.v), ...simd(op.i32x4ExtractLane, 1), op.i32Add,
    ...get(L.v), ...simd(op.i32x4ExtractLane, 2), op.i32Add, ...get(L.v), ...simd(op.i32x4ExtractLane, 3), op.i32Add,
    ...set(L.differ),
    // norms = |a| + |b|; skip empty cylinders
    ...get(L.normA), ...f32At(P.bNorm, L.j), op.f64Add, op.localTee, L.norms, ...f64(0), op.f64Eq, op.brIf, 0,
    // sim = 1 - sqrt(differ) / norms; keep positive ones
    ...f64(1), ...i32(sqrtBase), ...get(L.differ), ...i32(8), op.i32Mul, op.i32Add, op.f64Load, 3, 0, ...get(L.norms), op.f64Div, op.f64Sub, op.localTee, L.sim,
    ...get(P.minSim), op.f64Le, op.brIf, 0,
    // out[count++] = key = trunc(sim * 0xffff) << 16 | i << 8 | j; histogram[key >>> 24]++
    ...get(L.sim), ...f64(0xffff), op.f64Mul, op.i32TruncF64S, ...i32(16), op.i32Shl,
    ...get(L.i), ...i32(8), op.i32Shl, op.i32Or, ...get(L.j), op.i32Or, ...set(L.key),
    ...i32(outputBase), ...get(L.count), ...i32(4), op.i32Mul, op.i32Add, ...get(L.key), op.i32Store, 2, 0,
    ...i32(histogramBase), ...get(L.key), ...i32(24), op.i32ShrU, ...i32(4), op.i32Mul, op.i32Add, op.localTee, L.slot,
    ...get(L.slot), op.i32Load, 2, 0, ...i32(1), op.i32Add, op.i32Store, 2, 0,
    ...get(L.count), ...i32(1), op.i32Add, ...set(L.count),
  ];
  const innerLoop = [
    ...i32(0), ...set(L.j),
    op.block, op.void, op.loop, op.void,
    ...get(L.j), ...get(P.nB), op.i32GeU, op.brIf, 1,
    ...get(P.bBits), ...get(L.j), ...i32(32), op.i32Mul, op.i32Add, ...set(L.bRow),
    op.block, op.void, ...pairBody, op.end,
    ...get(L.j), ...i32(1), op.i32Add, ...set(L.j),
    op.br, 0,
    op.end, op.end,
  ];
  const outerLoop = [
    op.block, op.void, op.loop, op.void,
    ...get(L.i), ...get(P.nA), op.i32GeU, op.brIf, 1,
    ...get(P.aBits), ...get(L.i), ...i32(32), op.i32Mul, op.i32Add, op.localTee, L.aRow,
    ...simd(op.v128Load, 4, 0), ...set(L.va0),
    ...get(L.aRow), ...simd(op.v128Load, 4, 16), ...set(L.va1),
    ...f32At(P.aTheta, L.i), ...set(L.thetaA),
    ...f32At(P.aNorm, L.i), ...set(L.normA),
    ...innerLoop,
    ...get(L.i), ...i32(1), op.i32Add, ...set(L.i),
    op.br, 0,
    op.end, op.end,
  ];
  const locals = vector([
    [8, type.i32],
    [3, type.v128],
    [5, type.f64],
  ]);
  const clearHistogram = [...i32(histogramBase), ...i32(0), ...i32(buckets * 4), op.bulk, op.memoryFill, 0];
  const code = [...locals, ...clearHistogram, ...outerLoop, ...get(L.count), op.end];
  return [...uleb(code.length), ...code];
}

/**
 * gather(count, fromBucket, toBucket): scatters the keys whose top 8 bits lie in [from, to) to
 * their bucket's next position (offsets prepared by the caller), i.e. a counting sort's last pass.
 */
function gatherBody(): number[] {
  const [count, from, to, index, key, bucket, slot, position] = [0, 1, 2, 3, 4, 5, 6, 7];
  const loop = [
    op.block, op.void, op.loop, op.void,
    ...get(index), ...get(count), op.i32GeU, op.brIf, 1,
    ...i32(outputBase), ...get(index), ...i32(4), op.i32Mul, op.i32Add, op.i32Load, 2, 0, op.localTee, key,
    ...i32(24), op.i32ShrU, op.localTee, bucket,
    ...get(from), op.i32GeU, ...get(bucket), ...get(to), op.i32LtU, op.i32And, op.if, op.void,
    ...i32(offsetsBase), ...get(bucket), ...i32(4), op.i32Mul, op.i32Add, op.localTee, slot, op.i32Load, 2, 0, ...set(position),
    ...i32(gatherBase), ...get(position), ...i32(4), op.i32Mul, op.i32Add, ...get(key), op.i32Store, 2, 0,
    ...get(slot), ...get(position), ...i32(1), op.i32Add, op.i32Store, 2, 0,
    op.end,
    ...get(index), ...i32(1), op.i32Add, ...set(index),
    op.br, 0,
    op.end, op.end,
  ];
  const code = [...vector([[5, type.i32]]), ...loop, ...i32(0), op.end];
  return [...uleb(code.length), ...code];
}

function moduleBytes(): Uint8Array {
  const params = [type.i32, type.i32, type.f64, type.f64, type.i32, type.i32, type.i32, type.i32, type.i32, type.i32];
  const localType = [0x60, ...vector(params.map((t) => [t])), ...vector([[type.i32]])];
  const gatherType = [0x60, ...vector([[type.i32], [type.i32], [type.i32]]), ...vector([[type.i32]])];
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vector([localType, gatherType])),
    ...section(3, vector([[0], [1]])),
    ...section(5, vector([[0x00, ...uleb(pages)]])),
    ...section(7, vector([[...name('memory'), 0x02, 0], [...name('local'), 0x00, 0], [...name('gather'), 0x00, 1]])),
    ...section(10, vector([body(), gatherBody()])),
  ]);
}

/** The little of the WebAssembly JS API we use (lib ES2022 does not declare it). */
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: Record<string, unknown> };
}
const wasmApi = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;

type GatherFunction = (count: number, fromBucket: number, toBucket: number) => number;
type LocalFunction = (nA: number, nB: number, maxDiff: number, minSim: number, aTheta: number, aNorm: number, aBits: number, bTheta: number, bNorm: number, bBits: number) => number;

/** One instance per matcher (its memory is scratch space). */
export class SimdLocalStage {
  /** Keys of the last compare, and how many there are with each top 8 bits. */
  readonly keys: Uint32Array;
  readonly histogram: Int32Array;
  /** Where `gather` puts each bucket's next key, and the keys it orders. */
  readonly offsets: Int32Array;
  readonly ordered: Uint32Array;
  private readonly words: Uint32Array;
  private readonly run: LocalFunction;
  private readonly gatherKeys: GatherFunction;
  private stagedProbe: Uint32Array | undefined;
  private stagedProbeBase = -1;

  private constructor(instance: { exports: Record<string, unknown> }) {
    const memory = instance.exports['memory'] as { buffer: ArrayBuffer };
    this.run = instance.exports['local'] as LocalFunction;
    this.gatherKeys = instance.exports['gather'] as GatherFunction;
    this.words = new Uint32Array(memory.buffer);
    this.keys = new Uint32Array(memory.buffer, outputBase, maxMinutiaeStaged * maxMinutiaeStaged);
    this.histogram = new Int32Array(memory.buffer, histogramBase, buckets);
    this.offsets = new Int32Array(memory.buffer, offsetsBase, buckets);
    new Float64Array(memory.buffer, sqrtBase, 32 * simdCylinderWords + 1).forEach((_, k, table) => (table[k] = Math.sqrt(k)));
    this.ordered = new Uint32Array(memory.buffer, gatherBase, maxMinutiaeStaged * maxMinutiaeStaged);
  }

  /** Undefined where WebAssembly SIMD is unavailable: the caller keeps its JavaScript stage. */
  static create(): SimdLocalStage | undefined {
    if (wasmApi === undefined) return undefined;
    try {
      return new SimdLocalStage(new wasmApi.Instance(new wasmApi.Module(moduleBytes())));
    } catch {
      return undefined;
    }
  }

  /**
   * Local similarities of template a (n minutiae, directions at aTheta) against b; keys land in
   * `keys`. `theta` is the word offset of the directions; norms and bits follow (template.ts).
   */
  compare(aWords: Uint32Array, aTheta: number, nA: number, bWords: Uint32Array, bTheta: number, nB: number, maxDiff: number, minSim: number): number {
    if (aWords !== this.stagedProbe || aTheta !== this.stagedProbeBase) {
      this.stage(aWords, aTheta, nA, probeBase);
      this.stagedProbe = aWords;
      this.stagedProbeBase = aTheta;
    }
    this.stage(bWords, bTheta, nB, galleryBase);
    return this.run(nA, nB, maxDiff, minSim, probeBase, probeBase + 4 * nA, probeBase + 8 * nA, galleryBase, galleryBase + 4 * nB, galleryBase + 8 * nB);
  }

  /** Scatters the keys of the last compare in buckets [fromBucket, toBucket) into `ordered`. */
  gather(count: number, fromBucket: number, toBucket: number): void {
    this.gatherKeys(count, fromBucket, toBucket);
  }

  /** A native copy: cheaper than a loop even with the view it allocates. */
  private stage(source: Uint32Array, from: number, n: number, byteOffset: number): void {
    const words = this.words;
    const to = byteOffset / 4;
    words.set(source.subarray(from, from + n * (2 + simdCylinderWords)), to);
  }
}
