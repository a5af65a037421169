/**
 * The native (C++, Node-API) MCC kernels (comparison, candidate index, cylinder conversion), built
 * by `npm ci` from workers/native/ into build/Release/mcc_kernel.node when a compiler is present.
 * Optional: where it is missing or does not load (no compiler, another Node ABI), or
 * BIOPAY_NATIVE_MATCHER=0, the matcher keeps its WebAssembly / JavaScript kernel, which gives
 * the same scores bit for bit.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BiopayError, ErrorCode } from '../errors.js';
import { SimdLocalStage } from './simd-local-stage.js';

/** Opaque per-matcher state (parameters, tables, scratch) owned by the addon. */
export type NativeKernelHandle = { readonly __nativeKernel: unique symbol };

export interface NativeKernel {
  /**
   * params: [words, maxMinutiae, maxDirectionDiff, minLocalSim, maxRelaxPairs, relaxIterations,
   * relaxWeight, distanceScale, angleScale, rejectSquared]; tables of 1025 values; pairsWanted by
   * minutia count (maxMinutiae + 1 entries). Throws (code BAD_REQUEST) for what it cannot run.
   */
  create(params: Float64Array, distanceValues: Float64Array, angleValues: Float64Array, pairsWanted: Int32Array, allowWide?: boolean): NativeKernelHandle;
  /**
   * How the kernel's local stage runs: 'avx512' eight pairs at a time (chosen at run time on a CPU
   * with AVX-512 VPOPCNTDQ, unless create's allowWide was false), 'sse2' two, 'scalar' one. The
   * scores are the same. Absent from older addons.
   */
  localStage?(handle: NativeKernelHandle): NativeLocalStage;
  /**
   * Scores the probe at word probeBase against the templates at galleryWords[bases[0..count)]
   * into out. Throws (code INVALID_TEMPLATE) for a template outside its array or with more
   * minutiae than maxMinutiae, (code BAD_REQUEST) for bad arguments.
   */
  scoreMany(handle: NativeKernelHandle, probeWords: Uint32Array, probeBase: number, galleryWords: Uint32Array, bases: Int32Array, count: number, out: Float64Array): void;
  /**
   * The candidate index's postings walk (candidate-index.ts): the votes of the probe keys
   * (bucket, rotation bin) into cells; returns how many, or minus the length cells needs (grow it
   * and call again). Absent from an addon built before it existed.
   */
  collectVotes?(
    buckets: Uint32Array, rotations: Uint8Array, keyCount: number, heads: Int32Array, counts: Int32Array, pool: Int32Array,
    slotCount: number, crowded: number, maxVotes: number, cells: Uint32Array,
  ): number;
  /**
   * The candidate index's scoring (scoreChunks) of `cellCount` cells, its accept test a slot
   * filter: the slots kept, ascending, into outSlots and their scores into outValues; returns how
   * many, or minus the length both need (grow them and call again). Absent from older addons.
   */
  scoreVotes?(
    cells: Uint32Array, cellCount: number, slotCount: number, limit: number, sizes: Uint16Array,
    directory: Int32Array, hint: number, outSlots: Int32Array, outValues: Int32Array,
  ): number;
  /**
   * cylinder.ts's conversion of `count` minutiae: frames holds each one's Math.cos and Math.sin of
   * its direction, interleaved; settings [radiusPx, spatialCells, directionCells, sigmaSpatialPx,
   * sigmaDirectionRad, bitThreshold, hullMarginPx, minValidCellShare, minNeighbours, words]; writes
   * bits (count * words) and usable (count). Throws (code BAD_REQUEST) for arrays shorter than
   * count, settings it cannot run, or coordinates that are not finite pixels. Absent from older addons.
   */
  /**
   * The candidate index's triplet keys (candidate-index.ts triangleKeys), in two calls around
   * Math.atan2: tripletNeighbours writes each anchor's nearest neighbours into neighbours
   * ([other, dx, dy, distance] per place, neighboursPerAnchor places per anchor) and their count
   * into counts, and returns the minutiae read; the caller computes each neighbour's bearing;
   * tripletKeys writes the keys and rotation bins and returns how many, or minus the length both
   * need. settings: [neighboursPerAnchor, minNeighbourPx, maxNeighbourPx, distanceBinPx,
   * bearingBins, edgeShare, directionBins, rotationBins, maxTemplateMinutiae]. Absent from older addons.
   */
  tripletNeighbours?(words: Uint32Array, base: number, settings: Float64Array, neighbours: Float64Array, counts: Uint8Array): number;
  tripletKeys?(
    words: Uint32Array, base: number, settings: Float64Array, neighbours: Float64Array, counts: Uint8Array, bearings: Float64Array,
    multiProbe: boolean, keys: Uint32Array, rotations: Uint8Array,
  ): number;
  buildCylinders?(
    xs: Float32Array, ys: Float32Array, thetas: Float32Array, frames: Float64Array, count: number, settings: Float64Array,
    bits: Uint32Array, usable: Uint8Array, allowWide?: boolean,
  ): void;
  /** The cylinders' e^x (geometry.ts expNonPositive) over many arguments into out: for tests. */
  expNonPositiveMany?(xs: Float64Array, out: Float64Array, allowWide?: boolean): void;
  /** The cylinders' erf (geometry.ts erf) over many arguments into out: for tests. */
  erfMany?(xs: Float64Array, out: Float64Array, allowWide?: boolean): void;
}

export type NativeLocalStage = 'avx512' | 'sse2' | 'scalar';

export const nativeKernelParamCount = 10;

/**
 * An addon call's error as a BiopayError: the addon throws RangeErrors whose code names the problem
 * (INVALID_TEMPLATE, BAD_REQUEST); anything else is INTERNAL. `what` names the caller.
 */
export function nativeKernelError(error: unknown, what: string): BiopayError {
  const code = (error as { code?: unknown } | undefined)?.code;
  const known = code === ErrorCode.InvalidTemplate || code === ErrorCode.BadRequest ? code : ErrorCode.Internal;
  return new BiopayError(known, `${what}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
}
const addonPath = join('build', 'Release', 'mcc_kernel.node');
/** From core/biometrics (tsx) or dist/core/biometrics (built) up to the package root. */
const maxLevelsUp = 4;

let loaded: { kernel: NativeKernel | undefined } | undefined;

function findAddon(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let level = 0; level <= maxLevelsUp; level++, dir = dirname(dir)) {
    const candidate = join(dir, addonPath);
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}

function load(): NativeKernel | undefined {
  if (process.env['BIOPAY_NATIVE_MATCHER'] === '0') return undefined;
  const path = findAddon();
  if (path === undefined) return undefined;
  try {
    const addon = createRequire(import.meta.url)(path) as Partial<NativeKernel>;
    return typeof addon.create === 'function' && typeof addon.scoreMany === 'function' ? (addon as NativeKernel) : undefined;
  } catch {
    // Built for another Node ABI or platform: the portable kernels remain.
    return undefined;
  }
}

/** The addon, loaded once per thread; undefined when absent, unloadable or disabled. */
export function loadNativeKernel(): NativeKernel | undefined {
  loaded ??= { kernel: load() };
  return loaded.kernel;
}

export type MatcherKernelName = 'native' | 'wasm-simd' | 'javascript';

/** Which kernel a default MccMatcher runs in this process, for reports. */
export function matcherKernelName(): MatcherKernelName {
  if (loadNativeKernel() !== undefined) return 'native';
  return SimdLocalStage.create() !== undefined ? 'wasm-simd' : 'javascript';
}
