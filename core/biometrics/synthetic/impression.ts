/**
 * One impression of a master finger, as a minutiae extractor would report it: the finger placed
 * and distorted on the sensor, only the part in contact and inside the image seen, some minutiae
 * missed (more near the border of the contact area), spurious ones added, positions and angles
 * jittered, and some endings read as bifurcations and back.
 *
 * Captures differ in quality: one uniform "difficulty" draw per impression scales distortion,
 * losses, spurious minutiae and jitter together, and poor captures get patches of bad skin where
 * minutiae are lost and noise appears. With the defaults, our MCC matcher's EER on synthetic
 * fingers (2-4%) is close to its EER on the FVC2002 templates.
 */
import { BiopayError, ErrorCode } from '../../errors.js';
import type { IsoRecord, Minutia, MinutiaType } from '../iso.js';
import { DeformationMap, randomDeformation } from './distortion.js';
import type { MasterFinger, MasterMinutia } from './master-finger.js';
import { orientationAt } from './orientation.js';
import { checkSeed, Rng } from './random.js';

export interface ImpressionOptions {
  widthPx?: number;
  heightPx?: number;
  resolutionPpcm?: number;
  /** Rotation of the finger on the sensor, uniform in ±this. */
  maxRotationRad?: number;
  /** Sigma of the finger centre's offset from the image centre. */
  translationPx?: number;
  /** Scale of the elastic distortion (sigma of the sliding skin's shift). */
  distortionPx?: number;
  /** Contact area: the fingertip's outline scaled by a factor drawn in [min, max]. */
  minContactScale?: number;
  maxContactScale?: number;
  /** Mean share of minutiae in view that the extractor misses (each impression varies around it). */
  missingRate?: number;
  /** Mean spurious minutiae per genuine one reported. */
  spuriousRate?: number;
  positionJitterPx?: number;
  angleJitterRad?: number;
  /** Probability that an ending is reported as a bifurcation or the reverse. */
  typeFlipRate?: number;
}

type Settings = Required<ImpressionOptions>;

const degree = Math.PI / 180;
export const defaultImpressionOptions: Readonly<Settings> = Object.freeze({
  widthPx: 300,
  heightPx: 400,
  resolutionPpcm: 197,
  maxRotationRad: 20 * degree,
  translationPx: 20,
  distortionPx: 6,
  minContactScale: 0.65,
  maxContactScale: 0.95,
  missingRate: 0.15,
  spuriousRate: 0.15,
  positionJitterPx: 1.5,
  angleJitterRad: 4.5 * degree,
  typeFlipRate: 0.1,
});

const limits: Record<keyof Settings, readonly [number, number]> = {
  widthPx: [16, 0x3fff],
  heightPx: [16, 0x3fff],
  resolutionPpcm: [1, 0xffff],
  maxRotationRad: [0, Math.PI],
  translationPx: [0, 500],
  distortionPx: [0, 50],
  minContactScale: [0.1, 2],
  maxContactScale: [0.1, 2],
  missingRate: [0, 1],
  spuriousRate: [0, 5],
  positionJitterPx: [0, 50],
  angleJitterRad: [0, Math.PI],
  typeFlipRate: [0, 1],
};

/** ISO/IEC 19794-2 caps a view at 255 minutiae. */
const maxViewMinutiae = 255;
/** Extractors find nothing in the last few pixels of an image. */
const imageMarginPx = 4;
/** Minutiae this close to the contact border are missed far more often. */
const borderBandPx = 15;
const borderMissRate = 0.5;
/** Spurious minutiae mostly follow the ridges (breaks, bridges); some point anywhere. */
const spuriousAlongRidgeShare = 0.7;
const spuriousAngleNoiseRad = 0.3;
/**
 * Distortion, missing and spurious rates and jitter of an impression are the means scaled by
 * 1 + spread * (2 * difficulty - 1), difficulty uniform in [0, 1] per impression.
 */
const difficultySpread = 0.6;
/** Mean number of poor-skin patches of the poorest captures. */
const maxBlotchesMean = 0.7;
const blotchRadiusRangePx = [20, 50] as const;
const blotchMissRate = 0.7;
const blotchSpuriousPer10kPx2 = 12;

function scaledByDifficulty(settings: Settings, difficulty: number): Settings {
  const factor = 1 + difficultySpread * (2 * difficulty - 1);
  return {
    ...settings,
    distortionPx: settings.distortionPx * factor,
    missingRate: Math.min(1, settings.missingRate * factor),
    spuriousRate: settings.spuriousRate * factor,
    positionJitterPx: settings.positionJitterPx * factor,
    angleJitterRad: settings.angleJitterRad * factor,
  };
}

export function impressionSettings(options: ImpressionOptions = {}): Settings {
  const given = Object.entries(options).filter(([, value]) => value !== undefined);
  const settings: Settings = { ...defaultImpressionOptions, ...(Object.fromEntries(given) as ImpressionOptions) };
  for (const key of Object.keys(limits) as (keyof Settings)[]) {
    const value = settings[key];
    const [low, high] = limits[key];
    if (typeof value !== 'number' || !(value >= low && value <= high)) {
      throw new BiopayError(ErrorCode.BadRequest, `${key} must be a number in [${low}, ${high}], got ${String(value)}`);
    }
  }
  for (const key of ['widthPx', 'heightPx', 'resolutionPpcm'] as const) {
    if (!Number.isInteger(settings[key])) throw new BiopayError(ErrorCode.BadRequest, `${key} must be an integer`);
  }
  if (settings.minContactScale > settings.maxContactScale) {
    throw new BiopayError(ErrorCode.BadRequest, 'minContactScale must not exceed maxContactScale');
  }
  return settings;
}

/** The part of the fingertip touching the sensor: an ellipse in finger coordinates. */
interface Contact {
  xPx: number;
  yPx: number;
  halfWidthPx: number;
  halfHeightPx: number;
}

function randomContact(rng: Rng, master: MasterFinger, settings: Settings): Contact {
  const scale = rng.uniform(settings.minContactScale, settings.maxContactScale);
  return {
    xPx: rng.gaussian(12),
    yPx: rng.gaussian(20),
    halfWidthPx: master.halfWidthPx * scale,
    halfHeightPx: master.halfHeightPx * scale,
  };
}

/** Approximate distance inside the contact ellipse's border (negative outside). */
function depthInContact(contact: Contact, xPx: number, yPx: number): number {
  const u = (xPx - contact.xPx) / contact.halfWidthPx;
  const v = (yPx - contact.yPx) / contact.halfHeightPx;
  const radius = Math.sqrt(u * u + v * v);
  return (1 - radius) * Math.min(contact.halfWidthPx, contact.halfHeightPx);
}

function wrapAngle(angleRad: number): number {
  const turn = 2 * Math.PI;
  return ((angleRad % turn) + turn) % turn;
}

interface Scene {
  rng: Rng;
  settings: Settings;
  deformation: DeformationMap;
  contact: Contact;
  out: Minutia[];
}

/** Maps, jitters and reports one minutia if it lands inside the image. */
function report(scene: Scene, source: MasterMinutia, flipRate: number): void {
  const { rng, settings, deformation } = scene;
  const angle = deformation.mapMinutia(source.xPx, source.yPx, source.angleRad);
  const xPx = Math.round(deformation.xPx + rng.gaussian(settings.positionJitterPx));
  const yPx = Math.round(deformation.yPx + rng.gaussian(settings.positionJitterPx));
  if (xPx < imageMarginPx || yPx < imageMarginPx || xPx >= settings.widthPx - imageMarginPx || yPx >= settings.heightPx - imageMarginPx) return;
  const flipped = rng.chance(flipRate);
  const type: MinutiaType = flipped ? (source.type === 'ending' ? 'bifurcation' : 'ending') : source.type;
  scene.out.push({ xPx, yPx, angleRad: wrapAngle(angle + rng.gaussian(settings.angleJitterRad)), type, quality: 0 });
}

function uniformInContact(rng: Rng, contact: Contact): { xPx: number; yPx: number } {
  let u: number;
  let v: number;
  do {
    u = rng.uniform(-1, 1);
    v = rng.uniform(-1, 1);
  } while (u * u + v * v > 1);
  return { xPx: contact.xPx + u * contact.halfWidthPx, yPx: contact.yPx + v * contact.halfHeightPx };
}

function spuriousMinutia(rng: Rng, master: MasterFinger, contact: Contact): MasterMinutia {
  const { xPx, yPx } = uniformInContact(rng, contact);
  const angleRad =
    rng.chance(spuriousAlongRidgeShare)
      ? orientationAt(master.field, xPx, yPx) + (rng.chance(0.5) ? 0 : Math.PI) + rng.gaussian(spuriousAngleNoiseRad)
      : rng.uniform(0, 2 * Math.PI);
  return { xPx, yPx, angleRad, type: rng.chance(0.6) ? 'ending' : 'bifurcation' };
}

/** Raster order, as extractors scan, so that the list order tells nothing about which are genuine. */
function rasterOrder(a: Minutia, b: Minutia): number {
  return a.yPx - b.yPx || a.xPx - b.xPx;
}

/**
 * A patch of poor skin or contact (dry, wet, scarred): most minutiae under it are lost and the
 * extractor invents some, pointing anywhere. Spurious minutiae of real templates cluster like this.
 */
interface Blotch {
  xPx: number;
  yPx: number;
  radiusPx: number;
}

function randomBlotch(rng: Rng, contact: Contact): Blotch {
  const point = uniformInContact(rng, contact);
  return { ...point, radiusPx: rng.uniform(blotchRadiusRangePx[0], blotchRadiusRangePx[1]) };
}

function inBlotch(blotches: readonly Blotch[], xPx: number, yPx: number): boolean {
  return blotches.some((b) => (xPx - b.xPx) ** 2 + (yPx - b.yPx) ** 2 < b.radiusPx * b.radiusPx);
}

function blotchNoise(rng: Rng, blotch: Blotch): MasterMinutia {
  const r = blotch.radiusPx * Math.sqrt(rng.next());
  const t = rng.uniform(0, 2 * Math.PI);
  return { xPx: blotch.xPx + r * Math.cos(t), yPx: blotch.yPx + r * Math.sin(t), angleRad: rng.uniform(0, 2 * Math.PI), type: rng.chance(0.5) ? 'ending' : 'bifurcation' };
}

/** An impression of `master`, entirely determined by the master, the seed and the options. */
export function generateImpression(master: MasterFinger, seed: number, options: ImpressionOptions = {}): IsoRecord {
  checkSeed(seed);
  const base = impressionSettings(options);
  const rng = Rng.fromSeed(seed);
  // One draw sets how poor this capture is: a poor one is distorted, noisy and incomplete at once.
  const difficulty = rng.next();
  const settings = scaledByDifficulty(base, difficulty);
  const contact = randomContact(rng, master, settings);
  const deformation = new DeformationMap(randomDeformation(rng, {
    stickXPx: contact.xPx,
    stickYPx: contact.yPx,
    distortionPx: settings.distortionPx,
    poseRad: rng.uniform(-settings.maxRotationRad, settings.maxRotationRad),
    centreXPx: settings.widthPx / 2 + rng.gaussian(settings.translationPx),
    centreYPx: settings.heightPx / 2 + rng.gaussian(settings.translationPx),
  }));
  const blotches = Array.from({ length: rng.poisson(maxBlotchesMean * difficulty) }, () => randomBlotch(rng, contact));
  const scene: Scene = { rng, settings, deformation, contact, out: [] };
  for (const minutia of master.minutiae) {
    const depth = depthInContact(contact, minutia.xPx, minutia.yPx);
    if (depth < 0) continue;
    if (rng.chance(settings.missingRate) || (depth < borderBandPx && rng.chance(borderMissRate))) continue;
    if (inBlotch(blotches, minutia.xPx, minutia.yPx) && rng.chance(blotchMissRate)) continue;
    report(scene, minutia, settings.typeFlipRate);
  }
  const spurious = rng.poisson(settings.spuriousRate * scene.out.length);
  for (let index = 0; index < spurious; index++) report(scene, spuriousMinutia(rng, master, contact), 0);
  for (const blotch of blotches) {
    const count = rng.poisson(blotchSpuriousPer10kPx2 * (Math.PI * blotch.radiusPx ** 2) / 10_000);
    for (let index = 0; index < count; index++) report(scene, blotchNoise(rng, blotch), 0);
  }
  const minutiae = scene.out.sort(rasterOrder).slice(0, maxViewMinutiae);
  const quality = Math.round(100 - 60 * difficulty);
  return {
    widthPx: settings.widthPx,
    heightPx: settings.heightPx,
    xResolutionPpcm: settings.resolutionPpcm,
    yResolutionPpcm: settings.resolutionPpcm,
    captureEquipment: 0,
    views: [{ fingerPosition: master.fingerPosition, viewNumber: 0, impressionType: 0, quality, minutiae }],
  };
}
