/**
 * Bit-vector Minutia Cylinder-Code cylinders (enrollment-time work, not the hot path).
 *
 * Each minutia gets a cylinder of Ns x Ns spatial cells x Nd direction cells, rotated to its own
 * direction: a cell bit says "some neighbour sits near this place with about this relative
 * direction". A cell is valid when it lies within the radius and on the finger (near the convex
 * hull of the minutiae); a cylinder with too few valid cells (a minutia at the edge of the
 * impression) or too few neighbours is not usable.
 */
import { angleDiff, convexHull, erf, nearHull } from './geometry.js';
import { cylinderWords, type MccParams } from './mcc-params.js';

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

function countNeighbours(xs: Float32Array, ys: Float32Array, count: number, m: number, reachPx: number): number {
  let neighbours = 0;
  for (let t = 0; t < count; t++) {
    if (t !== m && Math.hypot(xs[t]! - xs[m]!, ys[t]! - ys[m]!) <= reachPx) neighbours++;
  }
  return neighbours;
}

/**
 * Enrollment cost matters (an association node rebuilds its whole gallery at start): the direction
 * contributions depend only on the pair of minutiae, so they are computed once per neighbour, and
 * only neighbours that can reach some cell of the cylinder are visited per cell.
 */
export function buildCylinders(xs: Float32Array, ys: Float32Array, thetas: Float32Array, count: number, params: MccParams): Cylinders {
  const words = cylinderWords(params);
  const ns = params.spatialCells;
  const nd = params.directionCells;
  const cellPx = (2 * params.radiusPx) / ns;
  const reachPx = 3 * params.sigmaSpatialPx;
  const spatialNorm = 1 / (params.sigmaSpatialPx * Math.sqrt(2 * Math.PI));
  const twoSigmaSquared = 2 * params.sigmaSpatialPx * params.sigmaSpatialPx;
  const reachSquared = reachPx * reachPx;
  const hull = convexHull(xs, ys, count);
  const bits = new Uint32Array(count * words);
  const usable = new Uint8Array(count);
  const sums = new Float64Array(nd);
  const neighbours = new Int32Array(count);
  const directions = new Float64Array(count * nd);
  const cellsInRadius = cellsWithinRadius(params);
  for (let m = 0; m < count; m++) {
    const cos = Math.cos(thetas[m]!);
    const sin = Math.sin(thetas[m]!);
    const near = nearNeighbours(xs, ys, count, m, params.radiusPx + reachPx + 1, neighbours);
    for (let n = 0; n < near; n++) {
      const relative = angleDiff(thetas[m]!, thetas[neighbours[n]!]!);
      for (let k = 0; k < nd; k++) {
        const cellAngle = -Math.PI + (k + 0.5) * ((2 * Math.PI) / nd);
        directions[n * nd + k] = directionContribution(angleDiff(cellAngle, relative), params);
      }
    }
    let validCells = 0;
    for (let i = 0; i < ns; i++) {
      for (let j = 0; j < ns; j++) {
        const u = (i - (ns - 1) / 2) * cellPx;
        const v = (j - (ns - 1) / 2) * cellPx;
        if (Math.hypot(u, v) > params.radiusPx) continue;
        const px = xs[m]! + cos * u - sin * v;
        const py = ys[m]! + sin * u + cos * v;
        if (!nearHull(hull, px, py, params.hullMarginPx)) continue;
        validCells++;
        sums.fill(0);
        for (let n = 0; n < near; n++) {
          const t = neighbours[n]!;
          const dx = xs[t]! - px;
          const dy = ys[t]! - py;
          const squared = dx * dx + dy * dy;
          if (squared > reachSquared) continue;
          const spatial = spatialNorm * Math.exp(-squared / twoSigmaSquared);
          for (let k = 0; k < nd; k++) sums[k]! += spatial * directions[n * nd + k]!;
        }
        for (let k = 0; k < nd; k++) {
          const bit = (i * ns + j) * nd + k;
          const word = m * words + (bit >>> 5);
          if (sums[k]! > params.bitThreshold) bits[word]! |= 1 << (bit & 31);
        }
      }
    }
    const enoughCells = validCells >= params.minValidCellShare * cellsInRadius;
    const enoughNeighbours = countNeighbours(xs, ys, count, m, params.radiusPx + reachPx) >= params.minNeighbours;
    usable[m] = enoughCells && enoughNeighbours ? 1 : 0;
  }
  return { bits, usable };
}

/** Minutiae other than m within reachPx of it, into `out`; returns how many. */
function nearNeighbours(xs: Float32Array, ys: Float32Array, count: number, m: number, reachPx: number, out: Int32Array): number {
  let near = 0;
  for (let t = 0; t < count; t++) {
    if (t !== m && Math.hypot(xs[t]! - xs[m]!, ys[t]! - ys[m]!) <= reachPx) out[near++] = t;
  }
  return near;
}

export function cellsWithinRadius(params: MccParams): number {
  const ns = params.spatialCells;
  const cellPx = (2 * params.radiusPx) / ns;
  let cells = 0;
  for (let i = 0; i < ns; i++) {
    for (let j = 0; j < ns; j++) {
      if (Math.hypot((i - (ns - 1) / 2) * cellPx, (j - (ns - 1) / 2) * cellPx) <= params.radiusPx) cells++;
    }
  }
  return cells;
}
