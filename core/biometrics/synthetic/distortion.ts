/**
 * Where a point of the master finger lands on the sensor in one impression: a smooth elastic
 * distortion of the skin, then the finger's pose (rotation about its centre, translation).
 *
 * The elastic part follows Cappelli, Maio and Maltoni ("Modelling plastic distortion in fingerprint
 * images", ICAPR 2001): skin in the middle of the contact area sticks to the sensor, skin beyond an
 * outer radius follows a small rigid twist and shift, and a smooth brake blends the two. A few
 * Gaussian bumps add the irregular part of real skin stretch.
 */
import { gaussian, uniform, type Random } from './random.js';

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
/** Step for the direction of a mapped minutia: short against the distortion's smallest scale. */
const directionStepPx = 4;

export function randomDeformation(random: Random, spec: DeformationSpec): Deformation {
  const amplitude = spec.distortionPx;
  const bumps = Array.from({ length: bumpCount }, (): Bump => {
    const sigma = uniform(random, 45, 100);
    return {
      xPx: spec.stickXPx + uniform(random, -140, 140),
      yPx: spec.stickYPx + uniform(random, -180, 180),
      dxPx: gaussian(random, amplitude / 2),
      dyPx: gaussian(random, amplitude / 2),
      falloffPerPx2: 1 / (2 * sigma * sigma),
    };
  });
  const innerRadiusPx = uniform(random, 30, 70);
  return {
    stickXPx: spec.stickXPx,
    stickYPx: spec.stickYPx,
    innerRadiusPx,
    outerRadiusPx: innerRadiusPx + uniform(random, 80, 150),
    twistRad: gaussian(random, twistPerPxRad * amplitude),
    shiftXPx: gaussian(random, amplitude),
    shiftYPx: gaussian(random, amplitude),
    bumps,
    poseRad: spec.poseRad,
    centreXPx: spec.centreXPx,
    centreYPx: spec.centreYPx,
  };
}

/** 0 inside the inner radius, 1 beyond the outer one, smooth (C1) between. */
function brake(d: Deformation, distancePx: number): number {
  if (distancePx <= d.innerRadiusPx) return 0;
  if (distancePx >= d.outerRadiusPx) return 1;
  const t = (distancePx - d.innerRadiusPx) / (d.outerRadiusPx - d.innerRadiusPx);
  return t * t * (3 - 2 * t);
}

/** Maps finger coordinates to image coordinates (x right, y down), written into `out`. */
export function mapPoint(d: Deformation, xPx: number, yPx: number, out: { xPx: number; yPx: number }): void {
  const rx = xPx - d.stickXPx;
  const ry = yPx - d.stickYPx;
  const weight = brake(d, Math.sqrt(rx * rx + ry * ry));
  const cosT = Math.cos(d.twistRad);
  const sinT = Math.sin(d.twistRad);
  let x = xPx + weight * (rx * cosT - ry * sinT - rx + d.shiftXPx);
  let y = yPx + weight * (rx * sinT + ry * cosT - ry + d.shiftYPx);
  for (const bump of d.bumps) {
    const bx = xPx - bump.xPx;
    const by = yPx - bump.yPx;
    const gain = Math.exp(-(bx * bx + by * by) * bump.falloffPerPx2);
    x += gain * bump.dxPx;
    y += gain * bump.dyPx;
  }
  const cosP = Math.cos(d.poseRad);
  const sinP = Math.sin(d.poseRad);
  // Rows grow downwards on the image; finger coordinates have y up.
  out.xPx = d.centreXPx + x * cosP - y * sinP;
  out.yPx = d.centreYPx - (x * sinP + y * cosP);
}

/**
 * Direction of a minutia after mapping, counter-clockwise with y up as ISO records have it: the
 * image of a short step along the minutia.
 */
export function mapDirection(d: Deformation, xPx: number, yPx: number, angleRad: number, at: { xPx: number; yPx: number }): number {
  const ahead = { xPx: 0, yPx: 0 };
  mapPoint(d, xPx + directionStepPx * Math.cos(angleRad), yPx + directionStepPx * Math.sin(angleRad), ahead);
  return Math.atan2(at.yPx - ahead.yPx, ahead.xPx - at.xPx);
}
