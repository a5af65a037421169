/**
 * A synthetic master finger: the whole fingertip as an ideal extractor would see it (outline,
 * orientation field, every minutia), from which impressions are drawn. Minutiae are spread by
 * dart throwing with a minimum spacing (ridges are about 8 px apart at the FVC2002 templates'
 * scale, so two minutiae are rarely closer) and point along the local ridge orientation.
 *
 * Default density, outline and spacing reproduce the FVC2002 templates (300 x 400 px at 197 px/cm,
 * 13-69 minutiae per template, median about 32; 63% endings; nearest-neighbour distance median
 * about 20 px) once impressions crop, drop and add minutiae.
 */
import { BiopayError, ErrorCode } from '../../errors.js';
import { orientationAt, randomOrientationField, randomPatternClass, type OrientationField, type PatternClass } from './orientation.js';
import { checkSeed, gaussian, makeRandom, uniform, type Random } from './random.js';

export type MasterMinutiaType = 'ending' | 'bifurcation';

export interface MasterMinutia {
  /** Finger coordinates: math axes (y up), origin at the finger's centre. */
  xPx: number;
  yPx: number;
  /** Counter-clockwise from the x axis, in [0, 2π). */
  angleRad: number;
  type: MasterMinutiaType;
}

export interface MasterFinger {
  seed: number;
  /** ISO finger position, 1-10 (right thumb .. left little). */
  fingerPosition: number;
  /** The fingertip outline: an ellipse centred on the origin. */
  halfWidthPx: number;
  halfHeightPx: number;
  field: OrientationField;
  minutiae: readonly MasterMinutia[];
}

export interface MasterFingerOptions {
  /** Force a pattern class; by default drawn with population frequencies. */
  patternClass?: PatternClass;
  /** Mean minutiae per 10,000 px² of fingertip (each finger varies around it). */
  densityPer10kPx2?: number;
  /** No two minutiae closer than this. */
  minSpacingPx?: number;
}

const defaultDensityPer10kPx2 = 8;
const defaultMinSpacingPx = 8;
/** Spread of a finger's density around the mean (log-normal sigma): some fingers are richer. */
const densitySpread = 0.25;
const endingShare = 0.63;
/** Minutiae deviate a little from the smoothed orientation field. */
const directionNoiseRad = 0.06;
/** Dart throwing gives up after this many tries per wanted minutia (a dense field saturates). */
const triesPerMinutia = 30;
const maxMinutiae = 400;
const halfWidthRangePx = [115, 145] as const;
const halfHeightRangePx = [165, 205] as const;

function checkRange(value: number | undefined, fallback: number, low: number, high: number, what: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !(value >= low && value <= high)) {
    throw new BiopayError(ErrorCode.BadRequest, `${what} must be a number in [${low}, ${high}], got ${String(value)}`);
  }
  return value;
}

const patternClasses: ReadonlySet<string> = new Set(['arch', 'tented-arch', 'left-loop', 'right-loop', 'whorl']);

function checkOptions(options: MasterFingerOptions): Required<Omit<MasterFingerOptions, 'patternClass'>> & { patternClass?: PatternClass } {
  if (options.patternClass !== undefined && !patternClasses.has(options.patternClass)) {
    throw new BiopayError(ErrorCode.BadRequest, `unknown pattern class ${String(options.patternClass)}`);
  }
  return {
    patternClass: options.patternClass,
    densityPer10kPx2: checkRange(options.densityPer10kPx2, defaultDensityPer10kPx2, 0.1, 50, 'densityPer10kPx2'),
    minSpacingPx: checkRange(options.minSpacingPx, defaultMinSpacingPx, 0, 50, 'minSpacingPx'),
  };
}

function tooClose(xs: number[], ys: number[], x: number, y: number, minSquared: number): boolean {
  for (let index = 0; index < xs.length; index++) {
    const dx = xs[index]! - x;
    const dy = ys[index]! - y;
    if (dx * dx + dy * dy < minSquared) return true;
  }
  return false;
}

function placeMinutiae(random: Random, finger: Omit<MasterFinger, 'minutiae'>, wanted: number, minSpacingPx: number): MasterMinutia[] {
  const xs: number[] = [];
  const ys: number[] = [];
  const minutiae: MasterMinutia[] = [];
  const minSquared = minSpacingPx * minSpacingPx;
  for (let tries = 0; tries < wanted * triesPerMinutia && minutiae.length < wanted; tries++) {
    // Uniform in the ellipse: uniform in the unit disc, stretched.
    const u = uniform(random, -1, 1);
    const v = uniform(random, -1, 1);
    if (u * u + v * v > 1) continue;
    const x = u * finger.halfWidthPx;
    const y = v * finger.halfHeightPx;
    if (tooClose(xs, ys, x, y, minSquared)) continue;
    xs.push(x);
    ys.push(y);
    const polarity = random() < 0.5 ? 0 : Math.PI;
    const angle = orientationAt(finger.field, x, y) + polarity + gaussian(random, directionNoiseRad);
    const type = random() < endingShare ? 'ending' : 'bifurcation';
    minutiae.push({ xPx: x, yPx: y, angleRad: ((angle % (2 * Math.PI)) + 2 * Math.PI) % (2 * Math.PI), type });
  }
  return minutiae;
}

/** A master finger, entirely determined by the seed and options. */
export function generateMasterFinger(seed: number, options: MasterFingerOptions = {}): MasterFinger {
  checkSeed(seed);
  const settings = checkOptions(options);
  const random = makeRandom(seed);
  const halfWidthPx = uniform(random, ...halfWidthRangePx);
  const halfHeightPx = uniform(random, ...halfHeightRangePx);
  const patternClass = settings.patternClass ?? randomPatternClass(random);
  const field = randomOrientationField(random, patternClass, halfHeightPx);
  const fingerPosition = 1 + Math.floor(random() * 10);
  const finger = { seed, fingerPosition, halfWidthPx, halfHeightPx, field };
  const areaPx2 = Math.PI * halfWidthPx * halfHeightPx;
  const density = settings.densityPer10kPx2 * Math.exp(gaussian(random, densitySpread));
  const wanted = Math.min(maxMinutiae, Math.round((areaPx2 / 10_000) * density));
  return { ...finger, minutiae: placeMinutiae(random, finger, wanted, settings.minSpacingPx) };
}
