import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildCylinders, type Cylinders } from '../../../core/biometrics/cylinder.js';
import { angleDiff, convexHull, erf, nearHull, prepareHull } from '../../../core/biometrics/geometry.js';
import { parseIsoRecord } from '../../../core/biometrics/iso.js';
import { cylinderWords, defaultMccParams, type MccParams } from '../../../core/biometrics/mcc-params.js';
import { fvcDatabases, loadFvcDatabase } from './fvc-fixtures.js';

/** Distance from a point to a segment, the plain way. */
function segmentDistance(px: number, py: number, ax: number, ay: number, bx: number, by: number): number {
  const dx = bx - ax;
  const dy = by - ay;
  const lengthSquared = dx * dx + dy * dy;
  const t = lengthSquared === 0 ? 0 : Math.max(0, Math.min(1, ((px - ax) * dx + (py - ay) * dy) / lengthSquared));
  return Math.hypot(px - (ax + t * dx), py - (ay + t * dy));
}

/** Inside the counter-clockwise hull (every cross product non-negative) or within the margin of an edge. */
function referenceNearHull(hull: readonly number[], px: number, py: number, marginPx: number): boolean {
  const vertices = hull.length / 2;
  if (vertices === 0) return false;
  let inside = vertices >= 3;
  for (let v = 0; v < vertices; v++) {
    const w = (v + 1) % vertices;
    if ((hull[2 * w]! - hull[2 * v]!) * (py - hull[2 * v + 1]!) - (hull[2 * w + 1]! - hull[2 * v + 1]!) * (px - hull[2 * v]!) < 0) inside = false;
  }
  if (inside) return true;
  for (let v = 0; v < vertices; v++) {
    const w = (v + 1) % vertices;
    if (segmentDistance(px, py, hull[2 * v]!, hull[2 * v + 1]!, hull[2 * w]!, hull[2 * w + 1]!) <= marginPx) return true;
  }
  return false;
}

/** The definition: every cell of the grid tests every neighbour (what buildCylinders must equal). */
function referenceCylinders(xs: Float32Array, ys: Float32Array, thetas: Float32Array, count: number, params: MccParams): Cylinders {
  const words = cylinderWords(params);
  const ns = params.spatialCells;
  const nd = params.directionCells;
  const cellPx = (2 * params.radiusPx) / ns;
  const reachPx = 3 * params.sigmaSpatialPx;
  const hull = convexHull(xs, ys, count);
  const bits = new Uint32Array(count * words);
  const usable = new Uint8Array(count);
  const within = (dx: number, dy: number, limit: number) => Math.sqrt(dx * dx + dy * dy) <= limit;
  const contribution = (alpha: number) => {
    const halfCell = Math.PI / nd;
    const scale = params.sigmaDirectionRad * Math.SQRT2;
    return 0.5 * (erf((alpha + halfCell) / scale) - erf((alpha - halfCell) / scale));
  };
  let cellsInRadius = 0;
  for (let i = 0; i < ns; i++) for (let j = 0; j < ns; j++) if (within((i - (ns - 1) / 2) * cellPx, (j - (ns - 1) / 2) * cellPx, params.radiusPx)) cellsInRadius++;
  for (let m = 0; m < count; m++) {
    const near: number[] = [];
    for (let t = 0; t < count; t++) if (t !== m && within(xs[t]! - xs[m]!, ys[t]! - ys[m]!, params.radiusPx + reachPx + 1)) near.push(t);
    let validCells = 0;
    for (let i = 0; i < ns; i++) {
      for (let j = 0; j < ns; j++) {
        const u = (i - (ns - 1) / 2) * cellPx;
        const v = (j - (ns - 1) / 2) * cellPx;
        if (!within(u, v, params.radiusPx)) continue;
        const px = xs[m]! + Math.cos(thetas[m]!) * u - Math.sin(thetas[m]!) * v;
        const py = ys[m]! + Math.sin(thetas[m]!) * u + Math.cos(thetas[m]!) * v;
        if (!referenceNearHull(hull, px, py, params.hullMarginPx)) continue;
        validCells++;
        const sums = new Float64Array(nd);
        for (const t of near) {
          const squared = (xs[t]! - px) ** 2 + (ys[t]! - py) ** 2;
          if (squared > reachPx * reachPx) continue;
          const spatial = (1 / (params.sigmaSpatialPx * Math.sqrt(2 * Math.PI))) * Math.exp(-squared / (2 * params.sigmaSpatialPx * params.sigmaSpatialPx));
          const relative = angleDiff(thetas[m]!, thetas[t]!);
          for (let k = 0; k < nd; k++) sums[k]! += spatial * contribution(angleDiff(-Math.PI + (k + 0.5) * ((2 * Math.PI) / nd), relative));
        }
        for (let k = 0; k < nd; k++) {
          const bit = (i * ns + j) * nd + k;
          if (sums[k]! > params.bitThreshold) bits[m * words + (bit >>> 5)]! |= 1 << (bit & 31);
        }
      }
    }
    let neighbours = 0;
    for (let t = 0; t < count; t++) if (t !== m && within(xs[t]! - xs[m]!, ys[t]! - ys[m]!, params.radiusPx + reachPx)) neighbours++;
    usable[m] = validCells >= params.minValidCellShare * cellsInRadius && neighbours >= params.minNeighbours ? 1 : 0;
  }
  return { bits, usable };
}

describe('nearHull', () => {
  const point = fc.integer({ min: -400, max: 400 }).map((value) => value / 2);
  it('agrees with the plain inside-or-within-margin test, on and off the edges', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(point, point), { minLength: 1, maxLength: 12 }), fc.tuple(point, point), fc.integer({ min: 0, max: 80 }), (points, [px, py], marginPx) => {
        const hull = convexHull(points.map((p) => p[0]), points.map((p) => p[1]), points.length);
        expect(nearHull(prepareHull(hull), px, py, marginPx)).toBe(referenceNearHull(hull, px, py, marginPx));
      }),
      { numRuns: 3000 },
    );
  });
});

describe('buildCylinders', () => {
  it('sets exactly the bits of the cell-by-cell definition on every FVC2002 fixture', () => {
    let compared = 0;
    for (const database of fvcDatabases) {
      for (const sample of loadFvcDatabase(database).slice(0, 12)) {
        const minutiae = parseIsoRecord(sample.bytes).views[0]!.minutiae.slice(0, defaultMccParams.maxMinutiae);
        const xs = Float32Array.from(minutiae, (m) => m.xPx);
        const ys = Float32Array.from(minutiae, (m) => -m.yPx);
        const thetas = Float32Array.from(minutiae, (m) => m.angleRad);
        const built = buildCylinders(xs, ys, thetas, minutiae.length, defaultMccParams);
        const reference = referenceCylinders(xs, ys, thetas, minutiae.length, defaultMccParams);
        expect(built.usable).toEqual(reference.usable);
        expect(built.bits).toEqual(reference.bits);
        compared++;
      }
    }
    expect(compared).toBe(4 * 12);
  });
});
