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
  return sign * (1 - poly * Math.exp(-a * a));
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
  return Math.hypot(px - (ax + t * dx), py - (ay + t * dy));
}

/** True when (px, py) is inside the counter-clockwise hull or within marginPx of it. */
export function nearHull(hull: readonly number[], px: number, py: number, marginPx: number): boolean {
  const vertices = hull.length / 2;
  if (vertices === 0) return false;
  // Inside (the common case) needs only cross products; distances only for points outside.
  let inside = vertices >= 3;
  for (let v = 0; v < vertices && inside; v++) {
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
