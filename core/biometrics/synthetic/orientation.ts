/**
 * Ridge orientation fields of synthetic fingers: the zero-pole model of Sherlock and Monro
 * ("A model for interpreting fingerprint topology", Pattern Recognition 26(7), 1993): a loop once
 * around a core turns the ridge orientation by +π, around a delta by -π. A smooth low-frequency
 * perturbation is added so that two fingers of one class still differ.
 *
 * Coordinates are finger coordinates in pixels, math axes (x right, y up), origin at the finger's
 * centre; orientations are in radians, defined modulo π (a ridge has no direction).
 */
import type { Rng } from './random.js';

export type PatternClass = 'arch' | 'tented-arch' | 'left-loop' | 'right-loop' | 'whorl';

export interface Point {
  xPx: number;
  yPx: number;
}

/** One term of the perturbation: amplitudeRad * sin(kx x + ky y + phase). */
export interface Wave {
  amplitudeRad: number;
  kxPerPx: number;
  kyPerPx: number;
  phaseRad: number;
}

export interface OrientationField {
  patternClass: PatternClass;
  cores: Point[];
  deltas: Point[];
  /** Orientation far from every singularity (0 = horizontal ridges). */
  baseRad: number;
  waves: Wave[];
}

/** Frequencies of the Henry classes in large populations (loops dominate, arches are rare). */
const classWeights: readonly (readonly [PatternClass, number])[] = [
  ['right-loop', 0.317],
  ['left-loop', 0.338],
  ['whorl', 0.279],
  ['arch', 0.037],
  ['tented-arch', 0.029],
];

const waveCount = 3;
const waveAmplitudeRad = 0.09;
/** Wavelengths of the perturbation: a few times the ridge spacing up to the finger's size. */
const minWavelengthPx = 150;
const maxWavelengthPx = 450;

export function randomPatternClass(rng: Rng): PatternClass {
  return rng.choice(classWeights);
}

function point(xPx: number, yPx: number): Point {
  return { xPx, yPx };
}

/**
 * Singularities per class, in a finger whose half-height is halfHeightPx. Loops put the delta
 * below the core on one side; whorls have two cores and two deltas; an arch's core-delta pair sits
 * below the finger (only its arching ridges are seen); a tented arch's pair is close and central.
 */
function singularities(patternClass: PatternClass, rng: Rng, halfHeightPx: number): { cores: Point[]; deltas: Point[] } {
  const cx = rng.gaussian(15);
  const cy = rng.uniform(0, 50);
  switch (patternClass) {
    case 'left-loop':
    case 'right-loop': {
      const side = patternClass === 'left-loop' ? 1 : -1;
      const core = point(cx, cy);
      const delta = point(cx + side * rng.uniform(60, 110), cy - rng.uniform(80, 140));
      return { cores: [core], deltas: [delta] };
    }
    case 'whorl': {
      const gapPx = rng.uniform(10, 40);
      const tilt = rng.gaussian(0.4);
      const cores = [point(cx - (gapPx / 2) * Math.sin(tilt), cy + (gapPx / 2) * Math.cos(tilt)), point(cx + (gapPx / 2) * Math.sin(tilt), cy - (gapPx / 2) * Math.cos(tilt))];
      const deltas = [point(cx - rng.uniform(70, 120), cy - rng.uniform(70, 130)), point(cx + rng.uniform(70, 120), cy - rng.uniform(70, 130))];
      return { cores, deltas };
    }
    case 'tented-arch': {
      const core = point(cx, cy - 20);
      return { cores: [core], deltas: [point(core.xPx + rng.gaussian(5), core.yPx - rng.uniform(25, 45))] };
    }
    case 'arch': {
      const core = point(cx, -halfHeightPx - rng.uniform(20, 80));
      return { cores: [core], deltas: [point(core.xPx + rng.gaussian(10), core.yPx - rng.uniform(30, 70))] };
    }
  }
}

function randomWave(rng: Rng, amplitudeRad: number): Wave {
  const wavelengthPx = rng.uniform(minWavelengthPx, maxWavelengthPx);
  const direction = rng.uniform(0, Math.PI);
  const k = (2 * Math.PI) / wavelengthPx;
  return {
    amplitudeRad: amplitudeRad * rng.uniform(0.3, 1),
    kxPerPx: k * Math.cos(direction),
    kyPerPx: k * Math.sin(direction),
    phaseRad: rng.uniform(0, 2 * Math.PI),
  };
}

/** A smooth random angle field: the sum of `count` plane waves of wavelengths 150-450 px. */
export function randomWaves(rng: Rng, count: number, amplitudeRad: number): Wave[] {
  return Array.from({ length: count }, () => randomWave(rng, amplitudeRad));
}

export function waveSum(waves: readonly Wave[], xPx: number, yPx: number): number {
  let sum = 0;
  for (const wave of waves) sum += wave.amplitudeRad * Math.sin(wave.kxPerPx * xPx + wave.kyPerPx * yPx + wave.phaseRad);
  return sum;
}

export function randomOrientationField(rng: Rng, patternClass: PatternClass, halfHeightPx: number): OrientationField {
  const { cores, deltas } = singularities(patternClass, rng, halfHeightPx);
  const waves = randomWaves(rng, waveCount, waveAmplitudeRad);
  return { patternClass, cores, deltas, baseRad: rng.gaussian(0.05), waves };
}

/**
 * atan2 within 2e-6 rad (a minimax polynomial for atan on [0, 1]): orientations need far less, and
 * it is the generator's hottest call.
 */
export function fastAtan2(y: number, x: number): number {
  const ax = Math.abs(x);
  const ay = Math.abs(y);
  if (ax === 0 && ay === 0) return 0;
  const swap = ay > ax;
  const z = swap ? ax / ay : ay / ax;
  const z2 = z * z;
  let angle = z * (0.99997726 + z2 * (-0.33262347 + z2 * (0.19354346 + z2 * (-0.11643287 + z2 * (0.05265332 + z2 * -0.0117212)))));
  if (swap) angle = Math.PI / 2 - angle;
  if (x < 0) angle = Math.PI - angle;
  return y < 0 ? -angle : angle;
}

/** Ridge orientation at (x, y), in [0, π). */
export function orientationAt(field: OrientationField, xPx: number, yPx: number): number {
  let angle = field.baseRad;
  for (const core of field.cores) angle += 0.5 * fastAtan2(yPx - core.yPx, xPx - core.xPx);
  for (const delta of field.deltas) angle -= 0.5 * fastAtan2(yPx - delta.yPx, xPx - delta.xPx);
  angle += waveSum(field.waves, xPx, yPx);
  const folded = angle % Math.PI;
  return folded < 0 ? folded + Math.PI : folded;
}
