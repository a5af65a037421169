/**
 * Where a point of the master finger lands on the sensor in one impression: a smooth elastic
 * distortion of the skin, then the finger's pose (rotation about its centre, translation).
 *
 * The elastic part follows Cappelli, Maio and Maltoni ("Modelling plastic distortion in fingerprint
 * images", ICAPR 2001): skin in the middle of the contact area sticks to the sensor, skin beyond an
 * outer radius follows a small rigid twist and shift, and a smooth brake blends the two. A few
 * Gaussian bumps add the irregular part of real skin stretch.
 */
import type { Rng } from './random.js';

export interface Bump {
  xPx: number;
  yPx: number;
  dxPx: number;
  dyPx: number;
  /** 1 / (2 sigma²). */
  falloffPerPx2: number;
}

export interface Deformation {
  /** Centre of the skin that does not slide (finger coordinates). */
  stickXPx: number;
  stickYPx: number;
  innerRadiusPx: number;
  outerRadiusPx: number;
  twistRad: number;
  shiftXPx: number;
  shiftYPx: number;
  bumps: Bump[];
  /** Pose: rotation about the finger's centre, then its centre's place on the image. */
  poseRad: number;
  centreXPx: number;
  centreYPx: number;
}

export interface DeformationSpec {
  stickXPx: number;
  stickYPx: number;
  distortionPx: number;
  poseRad: number;
  centreXPx: number;
  centreYPx: number;
}

const bumpCount = 4;
/** Twist of the sliding skin per pixel of distortion amplitude (6 px: about 2.3 degrees sigma). */
const twistPerPxRad = 0.0065;
/** A bump's pull is below 1e-5 of its size this far out: not worth an exp. */
const negligibleExponent = 11.5;
/** Step for the direction of a mapped minutia: short against the distortion's smallest scale. */
const directionStepPx = 4;

export function randomDeformation(rng: Rng, spec: DeformationSpec): Deformation {
  const amplitude = spec.distortionPx;
  const bumps = Array.from({ length: bumpCount }, (): Bump => {
    const sigma = rng.uniform(45, 100);
    return {
      xPx: spec.stickXPx + rng.uniform(-140, 140),
      yPx: spec.stickYPx + rng.uniform(-180, 180),
      dxPx: rng.gaussian(amplitude / 2),
      dyPx: rng.gaussian(amplitude / 2),
      falloffPerPx2: 1 / (2 * sigma * sigma),
    };
  });
  const innerRadiusPx = rng.uniform(30, 70);
  return {
    stickXPx: spec.stickXPx,
    stickYPx: spec.stickYPx,
    innerRadiusPx,
    outerRadiusPx: innerRadiusPx + rng.uniform(80, 150),
    twistRad: rng.gaussian(twistPerPxRad * amplitude),
    shiftXPx: rng.gaussian(amplitude),
    shiftYPx: rng.gaussian(amplitude),
    bumps,
    poseRad: spec.poseRad,
    centreXPx: spec.centreXPx,
    centreYPx: spec.centreYPx,
  };
}

/**
 * A deformation ready to apply: trigonometry done once, bumps in flat arrays, and the last mapped
 * point kept in fields instead of a fresh object per call (an impression maps ~100 points).
 */
export class DeformationMap {
  /** Image coordinates (x right, y down) of the last `map` call. */
  xPx = 0;
  yPx = 0;
  private readonly cosTwist: number;
  private readonly sinTwist: number;
  private readonly cosPose: number;
  private readonly sinPose: number;
  private readonly bumpData: Float64Array;

  constructor(private readonly d: Deformation) {
    this.cosTwist = Math.cos(d.twistRad);
    this.sinTwist = Math.sin(d.twistRad);
    this.cosPose = Math.cos(d.poseRad);
    this.sinPose = Math.sin(d.poseRad);
    this.bumpData = Float64Array.from(d.bumps.flatMap((b) => [b.xPx, b.yPx, b.dxPx, b.dyPx, b.falloffPerPx2]));
  }

  /** 0 inside the inner radius, 1 beyond the outer one, smooth (C1) between. */
  private brake(distancePx: number): number {
    const { innerRadiusPx, outerRadiusPx } = this.d;
    if (distancePx <= innerRadiusPx) return 0;
    if (distancePx >= outerRadiusPx) return 1;
    const t = (distancePx - innerRadiusPx) / (outerRadiusPx - innerRadiusPx);
    return t * t * (3 - 2 * t);
  }

  /** Maps a point in finger coordinates; the result is in `xPx`, `yPx`. */
  map(xPx: number, yPx: number): void {
    const d = this.d;
    const rx = xPx - d.stickXPx;
    const ry = yPx - d.stickYPx;
    const weight = this.brake(Math.sqrt(rx * rx + ry * ry));
    let x = xPx + weight * (rx * this.cosTwist - ry * this.sinTwist - rx + d.shiftXPx);
    let y = yPx + weight * (rx * this.sinTwist + ry * this.cosTwist - ry + d.shiftYPx);
    const bumps = this.bumpData;
    for (let at = 0; at < bumps.length; at += 5) {
      const bx = xPx - bumps[at]!;
      const by = yPx - bumps[at + 1]!;
      const exponent = (bx * bx + by * by) * bumps[at + 4]!;
      if (exponent > negligibleExponent) continue;
      const gain = Math.exp(-exponent);
      x += gain * bumps[at + 2]!;
      y += gain * bumps[at + 3]!;
    }
    // Rows grow downwards on the image; finger coordinates have y up.
    this.xPx = d.centreXPx + x * this.cosPose - y * this.sinPose;
    this.yPx = d.centreYPx - (x * this.sinPose + y * this.cosPose);
  }

  /**
   * Maps a minutia: its position lands in `xPx`, `yPx`, and its direction (counter-clockwise with
   * y up, as ISO records have it) is returned: the image of a short step along the minutia.
   */
  mapMinutia(xPx: number, yPx: number, angleRad: number): number {
    this.map(xPx + directionStepPx * Math.cos(angleRad), yPx + directionStepPx * Math.sin(angleRad));
    const aheadX = this.xPx;
    const aheadY = this.yPx;
    this.map(xPx, yPx);
    return Math.atan2(this.yPx - aheadY, aheadX - this.xPx);
  }
}
