/** Small planar helpers shared by cylinder creation and consolidation (pure, allocation-light). */

const twoPi = 2 * Math.PI;

/** Signed difference a - b of two angles, in [-π, π). */
export function angleDiff(a: number, b: number): number {
  let d = a - b;
  while (d >= Math.PI) d -= twoPi;
  while (d < -Math.PI) d += twoPi;
  return d;
}

/** Angle normalised to [0, 2π). */
export function normalizeAngle(a: number): number {
  const r = a % twoPi;
  return r < 0 ? r + twoPi : r;
}

/** Abramowitz-Stegun 7.1.26 (|error| < 1.5e-7): enough for cell contributions. */
export function erf(x: number): number {
  const sign = x < 0 ? -1 : 1;
  const a = Math.abs(x);
  const t = 1 / (1 + 0.3275911 * a);
  const poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  return sign * (1 - poly * expNonPositive(-a * a));
}

const ln2High = 0.693147180369123816490; // ln 2 to 32 bits: k * ln2High is exact for |k| < 2^20
const ln2Low = 1.90821492927058770002e-10;
const inverseLn2 = 1.44269504088896338700;
/** Below this exp underflows to 0 as a double. */
const expUnderflow = -745.2;
/** 2^-k for k in 0..1074, by exact halving (the same numbers wherever they are computed). */
const inversePowersOfTwo = (() => {
  const table = new Float64Array(1075);
  table[0] = 1;
  for (let k = 1; k < table.length; k++) table[k] = table[k - 1]! * 0.5;
  return table;
})();

/**
 * e^x for x <= 0 (its only domain: no caller needs more), within about 2 ulp of the true value
 * (1 ulp of Math.exp, measured), from additions, multiplications and one table lookup only. Not
 * Math.exp: the native cylinder kernel (workers/native/cylinder-kernel.cc)
 * must build the same bits, and V8's exp and the C library's differ in the last bit for about
 * one argument in ten. Both compute this, step for step, so they agree exactly.
 *
 * x = k ln2 + r with |r| <= ln2 / 2 (ln2 in two parts, Cody-Waite), e^r by its Taylor series to
 * r^13 (remainder below 2e-17 relative), then scaled by 2^k.
 */
export function expNonPositive(x: number): number {
  if (!(x > expUnderflow)) return x === x ? 0 : x; // NaN stays NaN
  const k = Math.floor(x * inverseLn2 + 0.5);
  const r = x - k * ln2High - k * ln2Low;
  const series = 1 + r * (1 + r * (1 / 2 + r * (1 / 6 + r * (1 / 24 + r * (1 / 120 + r * (1 / 720 + r * (1 / 5040 + r * (1 / 40320
    + r * (1 / 362880 + r * (1 / 3628800 + r * (1 / 39916800 + r * (1 / 479001600 + r * (1 / 6227020800)))))))))))));
  // k >= -1075 here; a series value near 2 times 2^-1075 is still a subnormal, so split the scaling.
  return k < -1000 ? series * inversePowersOfTwo[1000]! * inversePowersOfTwo[-k - 1000]! : series * inversePowersOfTwo[-k]!;
}

/** Convex hull (Andrew's monotone chain), counter-clockwise, as flat [x0, y0, x1, y1, ...]. */
export function convexHull(xs: ArrayLike<number>, ys: ArrayLike<number>, count: number): number[] {
  const order = Array.from({ length: count }, (_, index) => index).sort((a, b) => xs[a]! - xs[b]! || ys[a]! - ys[b]!);
  const cross = (o: number, a: number, b: number) => (xs[a]! - xs[o]!) * (ys[b]! - ys[o]!) - (ys[a]! - ys[o]!) * (xs[b]! - xs[o]!);
  const build = (indices: number[]) => {
    const chain: number[] = [];
    for (const index of indices) {
      while (chain.length >= 2 && cross(chain[chain.length - 2]!, chain[chain.length - 1]!, index) <= 0) chain.pop();
      chain.push(index);
    }
    chain.pop();
    return chain;
  };
  const hull = count < 3 ? order : [...build(order), ...build([...order].reverse())];
  return hull.flatMap((index) => [xs[index]!, ys[index]!]);
}

function segmentDistance(px: number, py: number, ax: number, ay: number, bx: number, by: number): number {
  const dx = bx - ax;
  const dy = by - ay;
  const lengthSquared = dx * dx + dy * dy;
  const t = lengthSquared === 0 ? 0 : Math.max(0, Math.min(1, ((px - ax) * dx + (py - ay) * dy) / lengthSquared));
  const ex = px - (ax + t * dx);
  const ey = py - (ay + t * dy);
  return Math.sqrt(ex * ex + ey * ey); // not Math.hypot: several times slower, no overflow at pixel scales
}

/**
 * A counter-clockwise hull with each edge's outward unit normal and offset, so that a point's
 * signed distance to every edge line is one dot product: inside when none is positive, and farther
 * than the margin from the hull when one exceeds it (the distance to a convex polygon is at least
 * the distance to any of its edge lines). Only points in between need the distance to the edges.
 */
export interface PreparedHull {
  /** Flat [x0, y0, x1, y1, ...], as convexHull gives it. */
  vertices: readonly number[];
  normalX: Float64Array;
  normalY: Float64Array;
  offsets: Float64Array;
}

export function prepareHull(hull: readonly number[]): PreparedHull {
  const count = hull.length / 2;
  const normalX = new Float64Array(count);
  const normalY = new Float64Array(count);
  const offsets = new Float64Array(count);
  for (let v = 0; v < count; v++) {
    const w = (v + 1) % count;
    const ex = hull[2 * w]! - hull[2 * v]!;
    const ey = hull[2 * w + 1]! - hull[2 * v + 1]!;
    const length = Math.sqrt(ex * ex + ey * ey);
    // A repeated vertex (zero-length edge) bounds nothing: its normal stays zero.
    if (length === 0) continue;
    normalX[v] = ey / length;
    normalY[v] = -ex / length;
    offsets[v] = normalX[v]! * hull[2 * v]! + normalY[v]! * hull[2 * v + 1]!;
  }
  return { vertices: hull, normalX, normalY, offsets };
}

/** Rounding slack for the dot-product tests: far below a pixel, far above float error at pixel scales. */
const hullSlackPx = 1e-6;

/** True when (px, py) is inside the counter-clockwise hull or within marginPx of it. */
export function nearHull(hull: PreparedHull, px: number, py: number, marginPx: number): boolean {
  const vertices = hull.vertices.length / 2;
  if (vertices === 0) return false;
  let farthest = -Infinity;
  for (let v = 0; v < vertices; v++) {
    const distance = hull.normalX[v]! * px + hull.normalY[v]! * py - hull.offsets[v]!;
    if (distance > farthest) farthest = distance;
  }
  if (farthest > marginPx + hullSlackPx) return false;
  // One or two vertices enclose nothing: only the distance to them counts.
  if (vertices >= 3 && (farthest <= -hullSlackPx || (farthest <= hullSlackPx && insideHull(hull.vertices, px, py)))) return true;
  return withinMarginOfFacingEdges(hull, px, py, marginPx);
}

/**
 * The nearest boundary point of a convex polygon, seen from outside, lies on an edge whose line has
 * the point on its outer side: only those edges are measured. A zero-length edge (a hull of one
 * point) has a zero normal and is always measured.
 */
function withinMarginOfFacingEdges(hull: PreparedHull, px: number, py: number, marginPx: number): boolean {
  const points = hull.vertices;
  const vertices = points.length / 2;
  for (let v = 0; v < vertices; v++) {
    if (hull.normalX[v]! * px + hull.normalY[v]! * py - hull.offsets[v]! <= -hullSlackPx) continue;
    const w = v + 1 === vertices ? 0 : v + 1;
    if (segmentDistance(px, py, points[2 * v]!, points[2 * v + 1]!, points[2 * w]!, points[2 * w + 1]!) <= marginPx) return true;
  }
  return false;
}

function insideHull(hull: readonly number[], px: number, py: number): boolean {
  const vertices = hull.length / 2;
  for (let v = 0; v < vertices; v++) {
    const w = v + 1 === vertices ? 0 : v + 1;
    if ((hull[2 * w]! - hull[2 * v]!) * (py - hull[2 * v + 1]!) - (hull[2 * w + 1]! - hull[2 * v + 1]!) * (px - hull[2 * v]!) < 0) return false;
  }
  return true;
}
