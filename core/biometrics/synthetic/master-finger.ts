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
import {
  orientationAt,
  randomOrientationField,
  randomPatternClass,
  randomWaves,
  waveSum,
  type OrientationField,
  type PatternClass,
  type Wave,
} from './orientation.js';
import { checkSeed, Rng } from './random.js';

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
  /**
   * Which way along the ridge minutiae mostly point, as a smooth angle field (base + waves): where
   * ridges diverge, bifurcations open and endings point the same way over a region. In the FVC2002
   * templates, minutiae closer than 20 px point the same way (within 30 degrees) twice as often as
   * opposite ways.
   */
  polarityBaseRad: number;
  polarityWaves: Wave[];
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
/** Share of minutiae pointing along the polarity field rather than against it. */
const polarityCoherence = 0.8;
const polarityWaveCount = 3;
const polarityWaveAmplitudeRad = 1.2;
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

/**
 * Points accepted so far, bucketed in square cells of the minimum spacing, so that a candidate is
 * checked against the nine cells around it rather than against every point.
 */
class SpacingGrid {
  private readonly heads: Int32Array;
  private readonly next: number[] = [];
  private readonly xs: number[] = [];
  private readonly ys: number[] = [];
  private readonly columns: number;
  private readonly rows: number;
  private readonly minSquared: number;

  constructor(
    private readonly halfWidthPx: number,
    private readonly halfHeightPx: number,
    private readonly cellPx: number,
  ) {
    this.columns = Math.max(1, Math.ceil((2 * halfWidthPx) / cellPx));
    this.rows = Math.max(1, Math.ceil((2 * halfHeightPx) / cellPx));
    this.heads = new Int32Array(this.columns * this.rows).fill(-1);
    this.minSquared = cellPx * cellPx;
  }

  private column(xPx: number): number {
    return Math.min(this.columns - 1, Math.max(0, Math.floor((xPx + this.halfWidthPx) / this.cellPx)));
  }

  private row(yPx: number): number {
    return Math.min(this.rows - 1, Math.max(0, Math.floor((yPx + this.halfHeightPx) / this.cellPx)));
  }

  isFree(xPx: number, yPx: number): boolean {
    const column = this.column(xPx);
    const row = this.row(yPx);
    for (let r = Math.max(0, row - 1); r <= Math.min(this.rows - 1, row + 1); r++) {
      for (let c = Math.max(0, column - 1); c <= Math.min(this.columns - 1, column + 1); c++) {
        for (let index = this.heads[r * this.columns + c]!; index !== -1; index = this.next[index]!) {
          const dx = this.xs[index]! - xPx;
          const dy = this.ys[index]! - yPx;
          if (dx * dx + dy * dy < this.minSquared) return false;
        }
      }
    }
    return true;
  }

  add(xPx: number, yPx: number): void {
    const cell = this.row(yPx) * this.columns + this.column(xPx);
    this.xs.push(xPx);
    this.ys.push(yPx);
    this.next.push(this.heads[cell]!);
    this.heads[cell] = this.xs.length - 1;
  }
}

function placeMinutiae(rng: Rng, finger: Omit<MasterFinger, 'minutiae'>, wanted: number, minSpacingPx: number): MasterMinutia[] {
  // With no spacing asked, one cell per 8 px keeps the grid small; isFree then always accepts.
  const grid = new SpacingGrid(finger.halfWidthPx, finger.halfHeightPx, minSpacingPx > 0 ? minSpacingPx : defaultMinSpacingPx);
  const minutiae: MasterMinutia[] = [];
  for (let tries = 0; tries < wanted * triesPerMinutia && minutiae.length < wanted; tries++) {
    // Uniform in the ellipse: uniform in the unit disc, stretched.
    const u = rng.uniform(-1, 1);
    const v = rng.uniform(-1, 1);
    if (u * u + v * v > 1) continue;
    const x = u * finger.halfWidthPx;
    const y = v * finger.halfHeightPx;
    if (minSpacingPx > 0 && !grid.isFree(x, y)) continue;
    grid.add(x, y);
    const ridge = orientationAt(finger.field, x, y);
    const flow = finger.polarityBaseRad + waveSum(finger.polarityWaves, x, y);
    const along = Math.cos(ridge - flow) >= 0;
    const polarity = along === rng.chance(polarityCoherence) ? 0 : Math.PI;
    const angle = ridge + polarity + rng.gaussian(directionNoiseRad);
    const type = rng.chance(endingShare) ? 'ending' : 'bifurcation';
    minutiae.push({ xPx: x, yPx: y, angleRad: ((angle % (2 * Math.PI)) + 2 * Math.PI) % (2 * Math.PI), type });
  }
  return minutiae;
}

/** A master finger, entirely determined by the seed and options. */
export function generateMasterFinger(seed: number, options: MasterFingerOptions = {}): MasterFinger {
  checkSeed(seed);
  const settings = checkOptions(options);
  const rng = Rng.fromSeed(seed);
  const halfWidthPx = rng.uniform(...halfWidthRangePx);
  const halfHeightPx = rng.uniform(...halfHeightRangePx);
  const patternClass = settings.patternClass ?? randomPatternClass(rng);
  const field = randomOrientationField(rng, patternClass, halfHeightPx);
  const fingerPosition = 1 + Math.floor(rng.next() * 10);
  const polarityBaseRad = rng.uniform(0, 2 * Math.PI);
  const polarityWaves = randomWaves(rng, polarityWaveCount, polarityWaveAmplitudeRad);
  const finger = { seed, fingerPosition, halfWidthPx, halfHeightPx, field, polarityBaseRad, polarityWaves };
  const areaPx2 = Math.PI * halfWidthPx * halfHeightPx;
  const density = settings.densityPer10kPx2 * Math.exp(rng.gaussian(densitySpread));
  const wanted = Math.min(maxMinutiae, Math.round((areaPx2 / 10_000) * density));
  return { ...finger, minutiae: placeMinutiae(rng, finger, wanted, settings.minSpacingPx) };
}
