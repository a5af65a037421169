/**
 * Bit-vector Minutia Cylinder-Code cylinders, built for every enrolled template and every probe
 * (natively where the addon is built: workers/native/cylinder-kernel.cc, the same bits).
 *
 * Each minutia gets a cylinder of Ns x Ns spatial cells x Nd direction cells, rotated to its own
 * direction: a cell bit says "some neighbour sits near this place with about this relative
 * direction". A cell is valid when it lies within the radius and on the finger (near the convex
 * hull of the minutiae); a cylinder with too few valid cells (a minutia at the edge of the
 * impression) or too few neighbours is not usable.
 */
import { angleDiff, convexHull, erf, expNonPositive, nearHull, prepareHull, type PreparedHull } from './geometry.js';
import { cylinderWords, type MccParams } from './mcc-params.js';
import { loadNativeKernel, nativeKernelError, type NativeKernel } from './native-kernel.js';

export interface Cylinders {
  /** count * words bits, cell (i, j, k) at bit ((i * Ns + j) * Nd + k). */
  bits: Uint32Array;
  /** 1 when the cylinder has enough valid cells and neighbours to be compared. */
  usable: Uint8Array;
}

function directionContribution(alpha: number, params: MccParams): number {
  const halfCell = Math.PI / params.directionCells;
  const scale = params.sigmaDirectionRad * Math.SQRT2;
  return 0.5 * (erf((alpha + halfCell) / scale) - erf((alpha - halfCell) / scale));
}

/** Distance in pixels: not Math.hypot, several times slower, and no overflow is possible at pixel scales. */
function distancePx(dx: number, dy: number): number {
  return Math.sqrt(dx * dx + dy * dy);
}

/** Of the `near` neighbours listed (all within a wider reach), those within reachPx of m. */
function countWithin(xs: Float32Array, ys: Float32Array, m: number, neighbours: Int32Array, near: number, reachPx: number): number {
  let within = 0;
  for (let n = 0; n < near; n++) {
    const t = neighbours[n]!;
    if (distancePx(xs[t]! - xs[m]!, ys[t]! - ys[m]!) <= reachPx) within++;
  }
  return within;
}

/** The cells within the radius, the same for every cylinder: offsets from the centre and first bit. */
interface CellGrid {
  us: Float64Array;
  vs: Float64Array;
  firstBits: Int32Array;
  /** Grid position i * Ns + j to its cell, -1 outside the radius. */
  cellAt: Int32Array;
}

const cellGrids = new WeakMap<MccParams, CellGrid>();

function cellGrid(params: MccParams): CellGrid {
  const cached = cellGrids.get(params);
  if (cached) return cached;
  const ns = params.spatialCells;
  const cellPx = (2 * params.radiusPx) / ns;
  const us: number[] = [];
  const vs: number[] = [];
  const firstBits: number[] = [];
  const cellAt = new Int32Array(ns * ns).fill(-1);
  for (let i = 0; i < ns; i++) {
    for (let j = 0; j < ns; j++) {
      const u = (i - (ns - 1) / 2) * cellPx;
      const v = (j - (ns - 1) / 2) * cellPx;
      if (distancePx(u, v) > params.radiusPx) continue;
      cellAt[i * ns + j] = us.length;
      us.push(u);
      vs.push(v);
      firstBits.push((i * ns + j) * params.directionCells);
    }
  }
  const grid = { us: Float64Array.from(us), vs: Float64Array.from(vs), firstBits: Int32Array.from(firstBits), cellAt };
  cellGrids.set(params, grid);
  return grid;
}

export interface CylinderOptions {
  /** false keeps the conversion in JavaScript where the native addon loads (parity tests). */
  useNative?: boolean;
  /**
   * false keeps the native conversion two lanes wide (SSE2) on a CPU with AVX-512F, where it
   * otherwise computes exponentials, erf terms and hull tests eight at a time: the same bits.
   */
  nativeWide?: boolean;
}

/** The settings array of the native kernel, per parameter object. */
const nativeSettings = new WeakMap<MccParams, Float64Array>();

function settingsFor(params: MccParams): Float64Array {
  let settings = nativeSettings.get(params);
  if (settings === undefined) {
    settings = Float64Array.from([
      params.radiusPx, params.spatialCells, params.directionCells, params.sigmaSpatialPx, params.sigmaDirectionRad,
      params.bitThreshold, params.hullMarginPx, params.minValidCellShare, params.minNeighbours, cylinderWords(params),
    ]);
    nativeSettings.set(params, settings);
  }
  return settings;
}

/**
 * The conversion in C++: the same bits (the kernel cannot call V8's Math.cos and Math.sin, whose
 * last bits the C library does not reproduce, so each minutia's frame is computed here).
 */
function nativeCylinders(build: NonNullable<NativeKernel['buildCylinders']>, xs: Float32Array, ys: Float32Array, thetas: Float32Array, count: number, params: MccParams, allowWide: boolean): Cylinders {
  const frames = new Float64Array(2 * count);
  for (let m = 0; m < count; m++) {
    frames[2 * m] = Math.cos(thetas[m]!);
    frames[2 * m + 1] = Math.sin(thetas[m]!);
  }
  const bits = new Uint32Array(count * cylinderWords(params));
  const usable = new Uint8Array(count);
  try {
    build(xs, ys, thetas, frames, count, settingsFor(params), bits, usable, allowWide);
  } catch (error) {
    throw nativeKernelError(error, 'native cylinders');
  }
  return { bits, usable };
}

/**
 * Enrollment cost matters (an association node rebuilds its whole gallery at start; every identify
 * builds its probe's): the direction contributions depend only on the pair of minutiae, so they are
 * computed once per neighbour, and each neighbour visits only the cells within its reach (a few of
 * the grid) instead of every cell testing every neighbour. A cell's sums still add its neighbours
 * in neighbour order, with the same arithmetic: the bits are those of the cell-by-cell loop.
 */
export function buildCylinders(xs: Float32Array, ys: Float32Array, thetas: Float32Array, count: number, params: MccParams, options: CylinderOptions = {}): Cylinders {
  const kernel = options.useNative === false ? undefined : loadNativeKernel();
  if (kernel?.buildCylinders !== undefined) return nativeCylinders(kernel.buildCylinders, xs, ys, thetas, count, params, options.nativeWide !== false);
  return portableCylinders(xs, ys, thetas, count, params);
}

/** The JavaScript conversion: the definition the native kernel (cylinder-kernel.cc) equals bit for bit. */
function portableCylinders(xs: Float32Array, ys: Float32Array, thetas: Float32Array, count: number, params: MccParams): Cylinders {
  const words = cylinderWords(params);
  const nd = params.directionCells;
  const grid = cellGrid(params);
  const cells = grid.us.length;
  const reachPx = 3 * params.sigmaSpatialPx;
  const hull = prepareHull(convexHull(xs, ys, count));
  const scratch: CylinderScratch = {
    neighbours: new Int32Array(count), directions: new Float64Array(count * nd),
    px: new Float64Array(cells), py: new Float64Array(cells), onFinger: new Uint8Array(cells), sums: new Float64Array(cells * nd),
  };
  const bits = new Uint32Array(count * words);
  const usable = new Uint8Array(count);
  for (let m = 0; m < count; m++) {
    const frame = { x: xs[m]!, y: ys[m]!, cos: Math.cos(thetas[m]!), sin: Math.sin(thetas[m]!) };
    const near = nearNeighbours(xs, ys, count, m, params.radiusPx + reachPx + 1, scratch.neighbours);
    directionContributions(thetas, m, near, scratch, params);
    const validCells = placeCells(frame, hull, grid, scratch, params);
    scratch.sums.fill(0);
    accumulateNeighbours(xs, ys, frame, near, grid, scratch, params);
    for (let cell = 0; cell < cells; cell++) {
      if (scratch.onFinger[cell] === 0) continue;
      for (let k = 0; k < nd; k++) {
        const bit = grid.firstBits[cell]! + k;
        if (scratch.sums[cell * nd + k]! > params.bitThreshold) bits[m * words + (bit >>> 5)]! |= 1 << (bit & 31);
      }
    }
    const enoughCells = validCells >= params.minValidCellShare * cells;
    const enoughNeighbours = countWithin(xs, ys, m, scratch.neighbours, near, params.radiusPx + reachPx) >= params.minNeighbours;
    usable[m] = enoughCells && enoughNeighbours ? 1 : 0;
  }
  return { bits, usable };
}

/** Per-template working arrays of buildCylinders (sized once per template). */
interface CylinderScratch {
  neighbours: Int32Array;
  /** Per near neighbour, its contribution to each direction cell. */
  directions: Float64Array;
  /** Per cell of the grid, its centre on the finger for the current minutia. */
  px: Float64Array;
  py: Float64Array;
  /** 1 when the cell lies on the finger (near the hull). */
  onFinger: Uint8Array;
  /** Per cell and direction, the summed contributions. */
  sums: Float64Array;
}

function directionContributions(thetas: Float32Array, m: number, near: number, scratch: CylinderScratch, params: MccParams): void {
  const nd = params.directionCells;
  for (let n = 0; n < near; n++) {
    const relative = angleDiff(thetas[m]!, thetas[scratch.neighbours[n]!]!);
    for (let k = 0; k < nd; k++) {
      const cellAngle = -Math.PI + (k + 0.5) * ((2 * Math.PI) / nd);
      scratch.directions[n * nd + k] = directionContribution(angleDiff(cellAngle, relative), params);
    }
  }
}

/** A minutia's position and direction: the frame its cylinder's cells are laid out in. */
interface MinutiaFrame {
  x: number;
  y: number;
  cos: number;
  sin: number;
}

/** Cell centres of the cylinder at `frame` and which lie on the finger; returns how many do. */
function placeCells(frame: MinutiaFrame, hull: PreparedHull, grid: CellGrid, scratch: CylinderScratch, params: MccParams): number {
  const { x, y, cos, sin } = frame;
  let onFinger = 0;
  for (let cell = 0; cell < grid.us.length; cell++) {
    const u = grid.us[cell]!;
    const v = grid.vs[cell]!;
    const px = x + cos * u - sin * v;
    const py = y + sin * u + cos * v;
    scratch.px[cell] = px;
    scratch.py[cell] = py;
    const on = nearHull(hull, px, py, params.hullMarginPx);
    scratch.onFinger[cell] = on ? 1 : 0;
    if (on) onFinger++;
  }
  return onFinger;
}

/**
 * Adds every near neighbour's Gaussian contribution to the cells on the finger within its reach.
 * The neighbour's position in the minutia's frame bounds the grid rows and columns it can reach (a
 * hair wider than the reach, so that rounding never drops a cell the exact test keeps).
 */
function accumulateNeighbours(xs: Float32Array, ys: Float32Array, frame: MinutiaFrame, near: number, grid: CellGrid, scratch: CylinderScratch, params: MccParams): void {
  const nd = params.directionCells;
  const ns = params.spatialCells;
  const cellPx = (2 * params.radiusPx) / ns;
  const centre = (ns - 1) / 2;
  const reachPx = 3 * params.sigmaSpatialPx;
  const boundCells = (reachPx + 1e-6) / cellPx;
  const reachSquared = reachPx * reachPx;
  const spatialNorm = 1 / (params.sigmaSpatialPx * Math.sqrt(2 * Math.PI));
  const twoSigmaSquared = 2 * params.sigmaSpatialPx * params.sigmaSpatialPx;
  const { px, py, onFinger, sums, directions, neighbours } = scratch;
  const { cos, sin } = frame;
  for (let n = 0; n < near; n++) {
    const t = neighbours[n]!;
    const ox = xs[t]! - frame.x;
    const oy = ys[t]! - frame.y;
    // In the frame, u runs along the minutia's direction and v across it (cells are i along u, j along v).
    const along = (cos * ox + sin * oy) / cellPx + centre;
    const across = (cos * oy - sin * ox) / cellPx + centre;
    const iFrom = Math.max(0, Math.ceil(along - boundCells));
    const iTo = Math.min(ns - 1, Math.floor(along + boundCells));
    const jFrom = Math.max(0, Math.ceil(across - boundCells));
    const jTo = Math.min(ns - 1, Math.floor(across + boundCells));
    for (let i = iFrom; i <= iTo; i++) {
      for (let j = jFrom; j <= jTo; j++) {
        const cell = grid.cellAt[i * ns + j]!;
        if (cell < 0 || onFinger[cell] === 0) continue;
        const dx = xs[t]! - px[cell]!;
        const dy = ys[t]! - py[cell]!;
        const squared = dx * dx + dy * dy;
        if (squared > reachSquared) continue;
        const spatial = spatialNorm * expNonPositive(-squared / twoSigmaSquared);
        for (let k = 0; k < nd; k++) sums[cell * nd + k]! += spatial * directions[n * nd + k]!;
      }
    }
  }
}

/** Minutiae other than m within reachPx of it, into `out`; returns how many. */
function nearNeighbours(xs: Float32Array, ys: Float32Array, count: number, m: number, reachPx: number, out: Int32Array): number {
  let near = 0;
  for (let t = 0; t < count; t++) {
    if (t !== m && distancePx(xs[t]! - xs[m]!, ys[t]! - ys[m]!) <= reachPx) out[near++] = t;
  }
  return near;
}
