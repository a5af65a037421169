/**
 * The matcher form of a finger template: one flat Uint32Array (floats stored through a Float32Array
 * view of the same words) so that it can be copied into a SharedArrayBuffer gallery and read by
 * workers without any decoding. Built once, at enrollment.
 *
 * Layout in 32-bit words, n = usable minutiae, W = words per cylinder:
 *   [0] layout tag   [1] n
 *   [2, 2+n) x   [2+n, 2+2n) y   [2+2n, 2+3n) direction (f32, math axes: y up, radians)
 *   [2+3n, 2+4n) cylinder norm, sqrt(popcount) (f32)   [2+4n, 2+4n+nW) cylinder bits
 * Cell validity only decides at enrollment whether a cylinder is usable; unusable minutiae are
 * dropped (they still shaped their neighbours' cylinders). Minutiae are sorted by direction: the
 * matcher relies on it to visit only the pairs of close directions.
 */
import { BiopayError, ErrorCode } from '../errors.js';
import { buildCylinders } from './cylinder.js';
import { normalizeAngle } from './geometry.js';
import { parseIsoRecord, type FingerView, type IsoRecord } from './iso.js';
import { cylinderWords, defaultMccParams, type MccParams } from './mcc-params.js';

export const templateLayoutTag = 0x4d434332; // "MCC2"
export const templateHeaderWords = 2;

export function templateWords(minutiae: number, words: number): number {
  return templateHeaderWords + 4 * minutiae + minutiae * words;
}

/** Word offsets of the parts of a template of n minutiae starting at base. */
export function templateOffsets(base: number, n: number, words: number) {
  const x = base + templateHeaderWords;
  return { x, y: x + n, theta: x + 2 * n, norm: x + 3 * n, bits: x + 4 * n };
}

function bitCount(word: number): number {
  let count = 0;
  for (let rest = word >>> 0; rest !== 0; rest >>>= 1) count += rest & 1;
  return count;
}

/** The view a record is matched by: best quality, then most minutiae. */
function chooseView(record: IsoRecord): FingerView {
  return record.views.reduce((best, view) =>
    view.quality > best.quality || (view.quality === best.quality && view.minutiae.length > best.minutiae.length) ? view : best,
  );
}

export interface Points {
  xs: Float32Array;
  ys: Float32Array;
  thetas: Float32Array;
  count: number;
}

/** Keeps at most `limit` minutiae, nearest to the centroid (no quality in our templates to rank by). */
function selectPoints(view: FingerView, limit: number): Points {
  const all = view.minutiae;
  const cx = all.reduce((sum, m) => sum + m.xPx, 0) / Math.max(1, all.length);
  const cy = all.reduce((sum, m) => sum + m.yPx, 0) / Math.max(1, all.length);
  const kept = all.length <= limit ? all : [...all].sort((a, b) => Math.hypot(a.xPx - cx, a.yPx - cy) - Math.hypot(b.xPx - cx, b.yPx - cy)).slice(0, limit);
  const count = kept.length;
  const points: Points = { xs: new Float32Array(count), ys: new Float32Array(count), thetas: new Float32Array(count), count };
  kept.forEach((minutia, index) => {
    points.xs[index] = minutia.xPx;
    points.ys[index] = -minutia.yPx; // image rows grow downwards; angles are counter-clockwise
    points.thetas[index] = normalizeAngle(minutia.angleRad);
  });
  return points;
}

/** The minutiae a record's template is built from (its best view, at most maxMinutiae), as cylinder input. */
export function templatePoints(record: IsoRecord, params: MccParams = defaultMccParams): Points {
  return selectPoints(chooseView(record), params.maxMinutiae);
}

export function templateFromRecord(record: IsoRecord, params: MccParams = defaultMccParams): Uint32Array {
  const points = templatePoints(record, params);
  const words = cylinderWords(params);
  const cylinders = buildCylinders(points.xs, points.ys, points.thetas, points.count, params);
  const keep: number[] = [];
  for (let m = 0; m < points.count; m++) if (cylinders.usable[m]) keep.push(m);
  // Sorted by direction: the pairs within the kernel's direction limit are then one run round
  // the circle for each probe minutia, visited without testing the others.
  keep.sort((a, b) => points.thetas[a]! - points.thetas[b]!);
  const n = keep.length;
  const template = new Uint32Array(templateWords(n, words));
  const floats = new Float32Array(template.buffer);
  const at = templateOffsets(0, n, words);
  template[0] = templateLayoutTag;
  template[1] = n;
  keep.forEach((m, index) => {
    floats[at.x + index] = points.xs[m]!;
    floats[at.y + index] = points.ys[m]!;
    floats[at.theta + index] = points.thetas[m]!;
    const bits = cylinders.bits.subarray(m * words, (m + 1) * words);
    floats[at.norm + index] = Math.sqrt(bits.reduce((sum, word) => sum + bitCount(word), 0));
    template.set(bits, at.bits + index * words);
  });
  return template;
}

/** ISO bytes to matcher form; throws INVALID_TEMPLATE for bad records. */
export function templateFromIso(bytes: Uint8Array, params: MccParams = defaultMccParams): Uint32Array {
  return templateFromRecord(parseIsoRecord(bytes), params);
}

/**
 * Fewer usable minutiae than this are too little of a finger to tell people apart 1:N: such a
 * probe scores as high against strangers as against its mate (in 10 million synthetic impostor
 * pairs the highest scores all had 4-5 usable minutiae), which would set the identification
 * threshold for everyone. The terminal asks for another touch instead (about 0.5% of synthetic
 * impressions, 0 of the 320 FVC2002 B templates).
 */
export const minUsableMinutiae = 10;

/** The matcher form holds enough usable minutiae to be searched (word 1 is their count). */
export function isMatchable(template: Uint32Array): boolean {
  return template[1]! >= minUsableMinutiae;
}

/** Matcher form for enrollment or search: also refused when too few minutiae are usable. */
export function matchableTemplateFromIso(bytes: Uint8Array, params: MccParams = defaultMccParams): Uint32Array {
  const template = templateFromIso(bytes, params);
  if (!isMatchable(template)) {
    throw new BiopayError(ErrorCode.InvalidTemplate, `too few usable minutiae (${template[1]}, at least ${minUsableMinutiae} needed)`);
  }
  return template;
}
