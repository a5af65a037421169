/**
 * The local-similarity stage of the MCC kernel in WebAssembly SIMD (`i8x16.popcnt`, on by default
 * in Node 20), assembled here from opcodes: no toolchain, no dependency, no build step.
 *
 * It computes exactly what MccMatcher's JavaScript stage computes (same f64 arithmetic, same
 * truncation, same order), for 256-bit cylinders: for every pair (i, j) whose directions differ by at most
 * maxDiff, similarity = 1 - sqrt(popcount(a_i xor b_j)) / (|a_i| + |b_j|), and writes the key
 * (trunc(similarity * 0xffff) << 16 | i << 8 | j) of each one above minSim, chained per bucket
 * (the key's top 8 bits) so that the best keys can be visited first without a sort of them all.
 *
 * Templates are staged into the module's own memory: each is one contiguous copy of its
 * [directions, norms, bits] words (template.ts layout), about 1.4 KB for 35 minutiae.
 */

/** Cylinder size this kernel is written for (8 x 8 x 4 cells). */
export const simdCylinderWords = 8;

const probeBase = 0;
const galleryBase = 8192;
const outputBase = 16384;
/** Per bucket (top 8 bits of a key), the index of its last key, -1 when empty. */
const headBase = 81920;
/** Per key, the index of the previous key of its bucket, -1 at the first. */
const nextBase = 82944;
/** sqrt(k) for k = 0..256, a load instead of a square root per pair (same f64 values as Math.sqrt). */
const sqrtBase = 148480;
const pages = 3;
const maxMinutiaeStaged = 128;
const buckets = 256;

// Opcodes (WebAssembly core 2.0 + fixed-width SIMD).
const op = {
  block: 0x02, loop: 0x03, if: 0x04, end: 0x0b, br: 0x0c, brIf: 0x0d, void: 0x40,
  select: 0x1b, localGet: 0x20, localSet: 0x21, localTee: 0x22,
  i32Const: 0x41, f64Const: 0x44,
  f32Load: 0x2a, f64Load: 0x2b, i32Store: 0x36,
  i32Load: 0x28, i32Eqz: 0x45, i32Eq: 0x46, i32GeU: 0x4f, i32Add: 0x6a, i32Sub: 0x6b, i32Mul: 0x6c, i32Or: 0x72, i32Shl: 0x74, i32ShrU: 0x76,
  bulk: 0xfc, memoryFill: 0x0b,
  f64Eq: 0x61, f64Lt: 0x63, f64Gt: 0x64, f64Le: 0x65, f64Ge: 0x66,
  f64Abs: 0x99, f64Add: 0xa0, f64Sub: 0xa1, f64Mul: 0xa2, f64Div: 0xa3,
  f64Floor: 0x9c, f64Trunc: 0x9d, f64PromoteF32: 0xbb,
  // After the 0xfc (bulk) prefix.
  i32TruncSatF64S: 0x02,
  simd: 0xfd, v128Load: 0x00, v128Xor: 0x51, i8x16Popcnt: 0x62, i8x16Add: 0x6e,
  i16x8ExtaddU: 0x7d, i32x4DotI16x8S: 0xba, i64x2ExtractLane: 0x1d, v128Const: 0x0c,
  i64Const: 0x42, i64Add: 0x7c, i64ShrU: 0x88, i32WrapI64: 0xa7,
} as const;
const type = { i32: 0x7f, i64: 0x7e, f64: 0x7c, v128: 0x7b } as const;

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
const L = { i: 10, j: 11, count: 12, aRow: 13, bRow: 14, differ: 15, key: 16, slot: 17, va0: 18, va1: 19, v: 20, thetaA: 21, normA: 22, d: 23, norms: 24, sim: 25, c: 26, visited: 27, keep: 28, previous: 29, sum64: 30, scaled: 31 };

const get = (index: number) => [op.localGet, index];
const set = (index: number) => [op.localSet, index];
const i32 = (value: number) => [op.i32Const, ...sleb(value)];
const simd = (code: number, ...immediates: number[]) => [op.simd, ...uleb(code), ...immediates];
/** A v128 of eight i16 ones. */
const ones16 = simd(op.v128Const, ...Array.from({ length: 16 }, (_, index) => (index % 2 === 0 ? 1 : 0)));
/** f64 value of the f32 at address (on the stack) + 4 * index. */
const f32At = (base: number, index: number) => [...get(base), ...get(index), ...i32(4), op.i32Mul, op.i32Add, op.f32Load, 2, 0, op.f64PromoteF32];

/**
 * Leaves on the stack whether minutia j's direction is beyond maxDiff from thetaA (folded into
 * [0, pi]): !(d <= maxDiff), as JavaScript's withinDirection fails it, so a NaN direction fails.
 */
function directionFails(): number[] {
  return [
    ...get(L.thetaA), ...f32At(P.bTheta, L.j), op.f64Sub, op.f64Abs, ...set(L.d),
    ...get(L.d), ...f64(Math.PI), op.f64Gt, op.if, op.void,
    ...f64(2 * Math.PI), ...get(L.d), op.f64Sub, ...set(L.d),
    op.end,
    ...get(L.d), ...get(P.maxDiff), op.f64Le, op.i32Eqz,
  ];
}

/** Similarity of (i, j) and its key, inside a block that `br_if 0` leaves to skip the pair (empty cylinders). */
function pairBody(): number[] {
  return [
    // differ = popcount(a xor b) over 256 bits
    ...get(L.bRow), ...simd(op.v128Load, 4, 0), ...get(L.va0), ...simd(op.v128Xor), ...simd(op.i8x16Popcnt),
    ...get(L.bRow), ...simd(op.v128Load, 4, 16), ...get(L.va1), ...simd(op.v128Xor), ...simd(op.i8x16Popcnt),
    // bytes to 16-bit sums, to 32-bit sums (a multiply-add by ones), then the four lanes as two
    // 64-bit halves: lo + hi, whose two 32-bit halves add up to the count
    ...simd(op.i8x16Add), ...simd(op.i16x8ExtaddU), ...ones16, ...simd(op.i32x4DotI16x8S), op.localTee, L.v,
    ...simd(op.i64x2ExtractLane, 0), ...get(L.v), ...simd(op.i64x2ExtractLane, 1), op.i64Add, op.localTee, L.sum64,
    ...get(L.sum64), op.i64Const, 32, op.i64ShrU, op.i64Add, op.i32WrapI64,
    ...set(L.differ),
    // norms = |a| + |b|; skip empty cylinders
    ...get(L.normA), ...f32At(P.bNorm, L.j), op.f64Add, op.localTee, L.norms, ...f64(0), op.f64Eq, op.brIf, 0,
    // sim = 1 - sqrt(differ) / norms, in [0, 1]
    ...f64(1), ...i32(sqrtBase), ...get(L.differ), ...i32(8), op.i32Mul, op.i32Add, op.f64Load, 3, 0, ...get(L.norms), op.f64Div, op.f64Sub, ...set(L.sim),
    // key = trunc(sim * 0xffff) << 16 | i << 8 | j, written at out[count] and chained in its bucket
    // (next[count] = head[key >>> 24]; head[key >>> 24] = count), but kept (count++) only when
    // !(sim <= minSim), as JavaScript tests it (a NaN is kept): selects, not a branch the CPU
    // would mispredict on about half the pairs. Only the low 16 bits of JavaScript's ToInt32 of
    // sim * 0xffff reach the key; they are taken as trunc(x) mod 2^16 in exact f64 steps, and a NaN
    // or infinity gives 0 as ToInt32 does: i32.trunc_f64_s would trap on a hostile template.
    ...get(L.sim), ...f64(0xffff), op.f64Mul, op.f64Trunc, op.localTee, L.scaled,
    ...get(L.scaled), ...f64(2 ** -16), op.f64Mul, op.f64Floor, ...f64(65536), op.f64Mul, op.f64Sub,
    op.bulk, op.i32TruncSatF64S, ...i32(16), op.i32Shl,
    ...get(L.i), ...i32(8), op.i32Shl, op.i32Or, ...get(L.j), op.i32Or, ...set(L.key),
    ...get(L.sim), ...get(P.minSim), op.f64Le, op.i32Eqz, ...set(L.keep),
    ...i32(outputBase), ...get(L.count), ...i32(4), op.i32Mul, op.i32Add, ...get(L.key), op.i32Store, 2, 0,
    ...i32(headBase), ...get(L.key), ...i32(24), op.i32ShrU, ...i32(4), op.i32Mul, op.i32Add, ...set(L.slot),
    ...get(L.slot), op.i32Load, 2, 0, ...set(L.previous),
    ...i32(nextBase), ...get(L.count), ...i32(4), op.i32Mul, op.i32Add, ...get(L.previous), op.i32Store, 2, 0,
    ...get(L.slot), ...get(L.count), ...get(L.previous), ...get(L.keep), op.select, op.i32Store, 2, 0,
    ...get(L.count), ...get(L.keep), op.i32Add, ...set(L.count),
  ];
}

/**
 * From j, visits minutiae of b one way round (step), wrapping at the ends, while their direction
 * is within maxDiff and fewer than nB have been visited in all.
 */
function run(step: number[]): number[] {
  return [
    op.block, op.void, op.loop, op.void,
    ...get(L.visited), ...get(P.nB), op.i32GeU, op.brIf, 1,
    ...directionFails(), op.brIf, 1,
    ...get(P.bBits), ...get(L.j), ...i32(32), op.i32Mul, op.i32Add, ...set(L.bRow),
    op.block, op.void, ...pairBody(), op.end,
    ...get(L.visited), ...i32(1), op.i32Add, ...set(L.visited),
    ...step,
    op.br, 0,
    op.end, op.end,
  ];
}

// j + 1, or 0 past the end; j - 1, or nB - 1 before the start.
const stepUp = [...i32(0), ...get(L.j), ...i32(1), op.i32Add, op.localTee, L.j, ...get(L.j), ...get(P.nB), op.i32Eq, op.select, ...set(L.j)];
const stepDown = [...get(P.nB), ...i32(1), op.i32Sub, ...get(L.j), ...i32(1), op.i32Sub, ...get(L.j), op.i32Eqz, op.select, ...set(L.j)];

/** c = the first minutia of b whose direction is not below thetaA (b is sorted by direction). */
function centre(): number[] {
  const thetaC = (offset: number) => [...get(P.bTheta), ...get(L.c), ...i32(4), op.i32Mul, op.i32Add, op.f32Load, 2, offset, op.f64PromoteF32];
  return [
    op.block, op.void, op.loop, op.void,
    ...get(L.c), ...get(P.nB), op.i32GeU, op.brIf, 1,
    // As JavaScript: on while theta[c] < thetaA (a NaN stops it).
    ...thetaC(0), ...get(L.thetaA), op.f64Lt, op.i32Eqz, op.brIf, 1,
    ...get(L.c), ...i32(1), op.i32Add, ...set(L.c),
    op.br, 0,
    op.end, op.end,
    // a need not be sorted: step back too.
    op.block, op.void, op.loop, op.void,
    ...get(L.c), op.i32Eqz, op.brIf, 1,
    ...get(L.c), ...i32(1), op.i32Sub, ...set(L.c),
    // Back while theta[c - 1] >= thetaA (a NaN stops it too).
    ...thetaC(0), ...get(L.thetaA), op.f64Ge, op.i32Eqz, op.if, op.void,
    ...get(L.c), ...i32(1), op.i32Add, ...set(L.c), op.br, 2,
    op.end,
    op.br, 0,
    op.end, op.end,
  ];
}

/**
 * The pairs within maxDiff form one run around the circle of directions through c - 1 and c:
 * visit it outwards from there instead of testing every pair.
 */
function body(): number[] {
  const window = [
    ...centre(),
    ...i32(0), ...set(L.visited),
    ...i32(0), ...get(L.c), ...get(L.c), ...get(P.nB), op.i32Eq, op.select, ...set(L.j),
    ...run(stepUp),
    ...get(P.nB), ...i32(1), op.i32Sub, ...get(L.c), ...i32(1), op.i32Sub, ...get(L.c), op.i32Eqz, op.select, ...set(L.j),
    ...run(stepDown),
  ];
  const outerLoop = [
    op.block, op.void, op.loop, op.void,
    ...get(L.i), ...get(P.nA), op.i32GeU, op.brIf, 1,
    ...get(P.aBits), ...get(L.i), ...i32(32), op.i32Mul, op.i32Add, op.localTee, L.aRow,
    ...simd(op.v128Load, 4, 0), ...set(L.va0),
    ...get(L.aRow), ...simd(op.v128Load, 4, 16), ...set(L.va1),
    ...f32At(P.aTheta, L.i), ...set(L.thetaA),
    ...f32At(P.aNorm, L.i), ...set(L.normA),
    ...window,
    ...get(L.i), ...i32(1), op.i32Add, ...set(L.i),
    op.br, 0,
    op.end, op.end,
  ];
  const locals = vector([
    [8, type.i32],
    [3, type.v128],
    [5, type.f64],
    [4, type.i32],
    [1, type.i64],
    [1, type.f64],
  ]);
  const clearHeads = [...i32(headBase), ...i32(0xff), ...i32(buckets * 4), op.bulk, op.memoryFill, 0];
  const code = [...locals, ...clearHeads, ...outerLoop, ...get(L.count), op.end];
  return [...uleb(code.length), ...code];
}

function moduleBytes(): Uint8Array {
  const params = [type.i32, type.i32, type.f64, type.f64, type.i32, type.i32, type.i32, type.i32, type.i32, type.i32];
  const localType = [0x60, ...vector(params.map((t) => [t])), ...vector([[type.i32]])];
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vector([localType])),
    ...section(3, vector([[0]])),
    ...section(5, vector([[0x00, ...uleb(pages)]])),
    ...section(7, vector([[...name('memory'), 0x02, 0], [...name('local'), 0x00, 0]])),
    ...section(10, vector([body()])),
  ]);
}

/** The little of the WebAssembly JS API we use (lib ES2022 does not declare it). */
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: Record<string, unknown> };
}
const wasmApi = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;

type LocalFunction = (nA: number, nB: number, maxDiff: number, minSim: number, aTheta: number, aNorm: number, aBits: number, bTheta: number, bNorm: number, bBits: number) => number;

/** One instance per matcher (its memory is scratch space). */
export class SimdLocalStage {
  /** Keys of the last compare, chained per bucket (top 8 bits) from `heads` through `next`. */
  readonly keys: Uint32Array;
  readonly heads: Int32Array;
  readonly next: Int32Array;
  private readonly words: Uint32Array;
  private readonly run: LocalFunction;
  private stagedProbe: Uint32Array | undefined;
  private stagedProbeBase = -1;

  private constructor(instance: { exports: Record<string, unknown> }) {
    const memory = instance.exports['memory'] as { buffer: ArrayBuffer };
    this.run = instance.exports['local'] as LocalFunction;
    this.words = new Uint32Array(memory.buffer);
    this.keys = new Uint32Array(memory.buffer, outputBase, maxMinutiaeStaged * maxMinutiaeStaged);
    this.heads = new Int32Array(memory.buffer, headBase, buckets);
    this.next = new Int32Array(memory.buffer, nextBase, maxMinutiaeStaged * maxMinutiaeStaged);
    new Float64Array(memory.buffer, sqrtBase, 32 * simdCylinderWords + 1).forEach((_, k, table) => (table[k] = Math.sqrt(k)));
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

  /**
   * A native copy (about 80 ns for 35 minutiae from an ArrayBuffer, 270 ns from a
   * SharedArrayBuffer): still faster than a loop, even with the view it allocates.
   */
  private stage(source: Uint32Array, from: number, n: number, byteOffset: number): void {
    this.words.set(source.subarray(from, from + n * (2 + simdCylinderWords)), byteOffset / 4);
  }
}
