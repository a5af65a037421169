import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildCylinders, type Cylinders } from '../../../core/biometrics/cylinder.js';
import { angleDiff, convexHull, erf, expNonPositive, nearHull, prepareHull } from '../../../core/biometrics/geometry.js';
import { parseIsoRecord, writeIsoRecord } from '../../../core/biometrics/iso.js';
import { cylinderWords, defaultMccParams, type MccParams } from '../../../core/biometrics/mcc-params.js';
import { loadNativeKernel } from '../../../core/biometrics/native-kernel.js';
import { ErrorCode } from '../../../core/errors.js';
import { populationFinger, populationImpression } from '../../../core/biometrics/synthetic/index.js';
import { makeRandom } from '../../../core/biometrics/synthetic/random.js';
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

interface Points {
  xs: Float32Array;
  ys: Float32Array;
  thetas: Float32Array;
  count: number;
}

function pointsOf(bytes: Uint8Array): Points {
  const minutiae = parseIsoRecord(bytes).views[0]!.minutiae.slice(0, defaultMccParams.maxMinutiae);
  return {
    xs: Float32Array.from(minutiae, (m) => m.xPx),
    ys: Float32Array.from(minutiae, (m) => -m.yPx),
    thetas: Float32Array.from(minutiae, (m) => m.angleRad),
    count: minutiae.length,
  };
}

describe('expNonPositive', () => {
  it('is within 1 ulp of Math.exp over the arguments the cylinders use, and exact at the ends', () => {
    const view = new DataView(new ArrayBuffer(16));
    const ulps = (a: number, b: number) => {
      view.setFloat64(0, a);
      view.setFloat64(8, b);
      return Math.abs(Number(view.getBigInt64(0) - view.getBigInt64(8)));
    };
    let worst = 0;
    for (let index = 0; index <= 200_000; index++) {
      const x = -(index / 200_000) * (index % 2 === 0 ? 20 : 700);
      worst = Math.max(worst, ulps(expNonPositive(x), Math.exp(x)));
    }
    expect(worst).toBeLessThanOrEqual(1);
    expect(expNonPositive(0)).toBe(1);
    expect(expNonPositive(-745)).toBe(Math.exp(-745)); // the smallest subnormal
    expect(expNonPositive(-746)).toBe(0);
    expect(expNonPositive(Number.NEGATIVE_INFINITY)).toBe(0);
    expect(expNonPositive(Number.NaN)).toBeNaN();
  });
});

describe('buildCylinders', () => {
  it('sets exactly the bits of the cell-by-cell definition on every FVC2002 fixture, in JavaScript and natively', () => {
    let compared = 0;
    for (const database of fvcDatabases) {
      for (const sample of loadFvcDatabase(database).slice(0, 12)) {
        const { xs, ys, thetas, count } = pointsOf(sample.bytes);
        const reference = referenceCylinders(xs, ys, thetas, count, defaultMccParams);
        for (const useNative of [false, true]) {
          const built = buildCylinders(xs, ys, thetas, count, defaultMccParams, { useNative });
          expect(built.usable).toEqual(reference.usable);
          expect(built.bits).toEqual(reference.bits);
        }
        compared++;
      }
    }
    expect(compared).toBe(4 * 12);
  });
});

describe('native buildCylinders', () => {
  const build = loadNativeKernel()?.buildCylinders;
  // Whether the addon must be there is mcc-matcher.test.ts's check; without it the default is the
  // JavaScript, which the test above holds to the definition.
  const nativeOrPortable = build === undefined ? 'JavaScript (no addon)' : 'native';

  it(`(${nativeOrPortable}) equals the JavaScript bit for bit on every FVC2002 fixture and 600 synthetic impressions`, () => {
    const records = fvcDatabases.flatMap((database) => loadFvcDatabase(database).map((sample) => sample.bytes));
    for (let finger = 1; finger <= 300; finger++) {
      const master = populationFinger(31, finger);
      for (const impression of [1, 2]) records.push(writeIsoRecord(populationImpression(31, master, finger, impression)));
    }
    let differing = 0;
    let twoWideDiffering = 0;
    for (const bytes of records) {
      const { xs, ys, thetas, count } = pointsOf(bytes);
      const portable = buildCylinders(xs, ys, thetas, count, defaultMccParams, { useNative: false });
      if (!sameCylinders(buildCylinders(xs, ys, thetas, count, defaultMccParams), portable)) differing++;
      if (!sameCylinders(buildCylinders(xs, ys, thetas, count, defaultMccParams, { nativeWide: false }), portable)) twoWideDiffering++;
    }
    expect(records.length).toBe(320 + 600);
    expect({ differing, twoWideDiffering }).toEqual({ differing: 0, twoWideDiffering: 0 });
  });

  // Eight-wide where the CPU has AVX-512F (exponentials, erf terms, hull tests, sums and bits),
  // two-wide elsewhere and when asked; 12 direction cells take the eight-wide code's general path.
  it(`(${nativeOrPortable}) equals the JavaScript on random minutiae, both widths, 6 and 12 direction cells`, () => {
    const twelve: MccParams = { ...defaultMccParams, directionCells: 12 };
    const minutia = fc.record({ x: fc.integer({ min: 0, max: 500 }), y: fc.integer({ min: 0, max: 500 }), theta: fc.double({ min: 0, max: 2 * Math.PI, noNaN: true }) });
    fc.assert(fc.property(fc.array(minutia, { maxLength: 60 }), fc.boolean(), (points, useTwelve) => {
      const params = useTwelve ? twelve : defaultMccParams;
      const xs = Float32Array.from(points, (p) => p.x);
      const ys = Float32Array.from(points, (p) => -p.y);
      const thetas = Float32Array.from(points, (p) => p.theta);
      const portable = buildCylinders(xs, ys, thetas, points.length, params, { useNative: false });
      expect(sameCylinders(buildCylinders(xs, ys, thetas, points.length, params), portable)).toBe(true);
      expect(sameCylinders(buildCylinders(xs, ys, thetas, points.length, params, { nativeWide: false }), portable)).toBe(true);
    }), { numRuns: 150 });
  });

  it(`(${nativeOrPortable}) equals the JavaScript for 0 to 4 minutiae, repeated points and a line`, () => {
    const cases: Points[] = [
      { xs: new Float32Array(0), ys: new Float32Array(0), thetas: new Float32Array(0), count: 0 },
      { xs: Float32Array.of(100), ys: Float32Array.of(-100), thetas: Float32Array.of(1), count: 1 },
      { xs: Float32Array.of(100, 120), ys: Float32Array.of(-100, -110), thetas: Float32Array.of(1, 2), count: 2 },
      { xs: Float32Array.of(100, 100, 100), ys: Float32Array.of(-100, -100, -100), thetas: Float32Array.of(0, 3, 6), count: 3 },
      { xs: Float32Array.of(100, 110, 120, 130), ys: Float32Array.of(-100, -110, -120, -130), thetas: Float32Array.of(0.5, 0.6, 0.7, 6.2), count: 4 },
    ];
    for (const { xs, ys, thetas, count } of cases) {
      const native = buildCylinders(xs, ys, thetas, count, defaultMccParams);
      const portable = buildCylinders(xs, ys, thetas, count, defaultMccParams, { useNative: false });
      expect(sameCylinders(native, portable)).toBe(true);
    }
  });

  // The bit tests above cannot see a last-bit difference in one e^x or erf (a cylinder bit flips
  // only when a sum sits that close to the threshold); these hold each width to JavaScript's own.
  it.runIf(build !== undefined)('computes e^x and erf bit for bit as JavaScript does, eight-wide and two-wide', () => {
    const kernel = loadNativeKernel()!;
    const random = makeRandom(20_261_205);
    const count = 200_000;
    const exponents = new Float64Array(count).map((_, index) => (index % 3 === 0 ? -760 * random() : -40 * random()));
    exponents.set([0, -0, Number.NaN, -700, -699.9999999999999, -745.1, -745.2, Number.NEGATIVE_INFINITY, -1e-300, -5e-324]);
    const erfArguments = new Float64Array(count).map(() => 12 * random() - 6);
    erfArguments.set([0, -0, Number.NaN, 6, -6, 1e-300, -1e-300, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]);
    const sameBits = (values: Float64Array, expected: (x: number) => number, inputs: Float64Array) =>
      inputs.reduce((differing, x, index) => differing + (Object.is(values[index], expected(x)) ? 0 : 1), 0);
    for (const allowWide of [true, false]) {
      const exps = new Float64Array(count);
      kernel.expNonPositiveMany!(exponents, exps, allowWide);
      const erfs = new Float64Array(count);
      kernel.erfMany!(erfArguments, erfs, allowWide);
      expect({ allowWide, exp: sameBits(exps, expNonPositive, exponents), erf: sameBits(erfs, erf, erfArguments) }).toEqual({ allowWide, exp: 0, erf: 0 });
    }
    expect(() => kernel.expNonPositiveMany!(new Float64Array(4), new Float64Array(3))).toThrow(/shorter/);
  });

  it.runIf(build !== undefined)('refuses short arrays, bad settings and coordinates that are not pixels, without reading past them', () => {
    const kernel = build!;
    const settings = Float64Array.from([56, 8, 4, 7.5, 0.7, 0.01, 40, 0.75, 2, 8]);
    const points = (count: number) => ({ xs: new Float32Array(count).map((_, i) => 100 + i), ys: new Float32Array(count).map((_, i) => -100 - 2 * i), thetas: new Float32Array(count), frames: new Float64Array(2 * count) });
    const ok = points(4);
    const call = (p: ReturnType<typeof points>, count: number, s = settings, bits = new Uint32Array(count * 8), usable = new Uint8Array(count)) =>
      () => kernel(p.xs, p.ys, p.thetas, p.frames, count, s, bits, usable);
    expect(call(ok, 4)).not.toThrow();
    expect(call(ok, 5)).toThrow(RangeError);
    expect(call(ok, 4, settings, new Uint32Array(31))).toThrow(RangeError);
    expect(call(ok, 4, settings, new Uint32Array(32), new Uint8Array(3))).toThrow(RangeError);
    expect(call(ok, -1, settings, new Uint32Array(32), new Uint8Array(4))).toThrow(RangeError);
    expect(call(ok, 4, Float64Array.from([56, 8, 4, 7.5, 0.7, 0.01, 40, 0.75, 2, 7]))).toThrow(RangeError); // words != 8 * 8 * 4 / 32
    expect(call(ok, 4, Float64Array.from([56, 0, 4, 7.5, 0.7, 0.01, 40, 0.75, 2, 0]))).toThrow(RangeError);
    expect(call(ok, 4, Float64Array.from([56, 8, 4, 7.5, 0.7, 0.01, 40, 0.75, 2]))).toThrow(RangeError);
    for (const hostile of [Number.NaN, Number.POSITIVE_INFINITY, 3e38]) {
      const bad = points(4);
      bad.xs[2] = hostile;
      expect(call(bad, 4)).toThrow(/finite pixels/);
    }
    const spinning = points(4);
    spinning.thetas[1] = 1e30; // angleDiff would fold it 1e29 times
    expect(call(spinning, 4)).toThrow(/within 8 pi/);
    expect(call(ok, 4, Float64Array.from([56, 1e300, 4, 7.5, 0.7, 0.01, 40, 0.75, 2, 8]))).toThrow(RangeError);
    // A radius of a few atoms puts every neighbour far outside the grid: no cell, no crash.
    expect(call(ok, 4, Float64Array.from([1e-300, 8, 4, 7.5, 0.7, 0.01, 40, 0.75, 2, 8]))).not.toThrow();
    const badFrame = points(4);
    badFrame.frames[3] = Number.NaN;
    expect(call(badFrame, 4)).toThrow(RangeError);
    expect(() => (kernel as unknown as (...args: unknown[]) => void)(ok.xs, ok.ys)).toThrow(RangeError);
    expect(() => (kernel as unknown as (...args: unknown[]) => void)(ok.xs, ok.ys, ok.thetas, ok.frames, 4, settings, new Uint32Array(32), new Uint8Array(4), 'yes')).toThrow(/allowWide/);
    expect(() => kernel(ok.xs, ok.ys, ok.thetas, ok.frames, 4, settings, new Uint32Array(32), new Uint8Array(4), false)).not.toThrow();
    // Through buildCylinders the kernel's refusal is a typed error with its code.
    const refused = points(4);
    refused.xs[0] = Number.NaN;
    expect(() => buildCylinders(refused.xs, refused.ys, refused.thetas, 4, defaultMccParams)).toThrow(expect.objectContaining({ code: ErrorCode.BadRequest, name: 'BiopayError' }));
  });
});

function sameCylinders(a: Cylinders, b: Cylinders): boolean {
  return a.bits.length === b.bits.length && a.bits.every((word, index) => word === b.bits[index]) && a.usable.every((flag, index) => flag === b.usable[index]);
}

