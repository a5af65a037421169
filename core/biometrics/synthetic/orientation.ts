/**
 * Ridge orientation fields of synthetic fingers: the zero-pole model of Sherlock and Monro
 * ("A model for interpreting fingerprint topology", Pattern Recognition 26(7), 1993): a loop once
 * around a core turns the ridge orientation by +π, around a delta by -π. A smooth low-frequency
 * perturbation is added so that two fingers of one class still differ.
 *
 * Coordinates are finger coordinates in pixels, math axes (x right, y up), origin at the finger's
 * centre; orientations are in radians, defined modulo π (a ridge has no direction).
 */
import { gaussian, uniform, weightedChoice, type Random } from './random.js';

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

export function randomPatternClass(random: Random): PatternClass {
  return weightedChoice(random, classWeights);
}

function point(xPx: number, yPx: number): Point {
  return { xPx, yPx };
}

/**
 * Singularities per class, in a finger whose half-height is halfHeightPx. Loops put the delta
 * below the core on one side; whorls have two cores and two deltas; an arch's core-delta pair sits
 * below the finger (only its arching ridges are seen); a tented arch's pair is close and central.
 */
function singularities(patternClass: PatternClass, random: Random, halfHeightPx: number): { cores: Point[]; deltas: Point[] } {
  const cx = gaussian(random, 15);
  const cy = uniform(random, 0, 50);
  switch (patternClass) {
    case 'left-loop':
    case 'right-loop': {
      const side = patternClass === 'left-loop' ? 1 : -1;
      const core = point(cx, cy);
      const delta = point(cx + side * uniform(random, 60, 110), cy - uniform(random, 80, 140));
      return { cores: [core], deltas: [delta] };
    }
    case 'whorl': {
      const gapPx = uniform(random, 10, 40);
      const tilt = gaussian(random, 0.4);
      const cores = [point(cx - (gapPx / 2) * Math.sin(tilt), cy + (gapPx / 2) * Math.cos(tilt)), point(cx + (gapPx / 2) * Math.sin(tilt), cy - (gapPx / 2) * Math.cos(tilt))];
      const deltas = [point(cx - uniform(random, 70, 120), cy - uniform(random, 70, 130)), point(cx + uniform(random, 70, 120), cy - uniform(random, 70, 130))];
      return { cores, deltas };
    }
    case 'tented-arch': {
      const core = point(cx, cy - 20);
      return { cores: [core], deltas: [point(core.xPx + gaussian(random, 5), core.yPx - uniform(random, 25, 45))] };
    }
    case 'arch': {
      const core = point(cx, -halfHeightPx - uniform(random, 20, 80));
      return { cores: [core], deltas: [point(core.xPx + gaussian(random, 10), core.yPx - uniform(random, 30, 70))] };
    }
  }
}

function randomWave(random: Random): Wave {
  const wavelengthPx = uniform(random, minWavelengthPx, maxWavelengthPx);
  const direction = uniform(random, 0, Math.PI);
  const k = (2 * Math.PI) / wavelengthPx;
  return {
    amplitudeRad: waveAmplitudeRad * uniform(random, 0.3, 1),
    kxPerPx: k * Math.cos(direction),
    kyPerPx: k * Math.sin(direction),
    phaseRad: uniform(random, 0, 2 * Math.PI),
  };
}

export function randomOrientationField(random: Random, patternClass: PatternClass, halfHeightPx: number): OrientationField {
  const { cores, deltas } = singularities(patternClass, random, halfHeightPx);
  const waves = Array.from({ length: waveCount }, () => randomWave(random));
  return { patternClass, cores, deltas, baseRad: gaussian(random, 0.05), waves };
}

/** Ridge orientation at (x, y), in [0, π). */
export function orientationAt(field: OrientationField, xPx: number, yPx: number): number {
  let angle = field.baseRad;
  for (const core of field.cores) angle += 0.5 * Math.atan2(yPx - core.yPx, xPx - core.xPx);
  for (const delta of field.deltas) angle -= 0.5 * Math.atan2(yPx - delta.yPx, xPx - delta.xPx);
  for (const wave of field.waves) angle += wave.amplitudeRad * Math.sin(wave.kxPerPx * xPx + wave.kyPerPx * yPx + wave.phaseRad);
  const folded = angle % Math.PI;
  return folded < 0 ? folded + Math.PI : folded;
}
