import { describe, expect, it } from 'vitest';
import { thresholdForFmr } from '../../../core/biometrics/calibration.js';
import { parseIsoRecord, writeIsoRecord } from '../../../core/biometrics/iso.js';
import { MccMatcher, templateRef } from '../../../core/biometrics/mcc-matcher.js';
import { SimdLocalStage } from '../../../core/biometrics/simd-local-stage.js';
import { templateFromIso, templateLayoutTag, templateOffsets } from '../../../core/biometrics/template.js';
import { loadFvcDatabase } from './fvc-fixtures.js';

const db1 = loadFvcDatabase('DB1_B');
const matcher = new MccMatcher();
const refs = db1.map((sample) => templateRef(templateFromIso(sample.bytes)));

/** The same record seen rotated by `angleRad` about the image centre and shifted, minus some minutiae. */
function moved(bytes: Uint8Array, angleRad: number, dxPx: number, dyPx: number, keepEvery: number): Uint8Array {
  const record = parseIsoRecord(bytes);
  const cx = record.widthPx / 2;
  const cy = record.heightPx / 2;
  const view = record.views[0]!;
  const cos = Math.cos(angleRad);
  const sin = Math.sin(angleRad);
  const minutiae = view.minutiae
    .filter((_, index) => index % keepEvery !== keepEvery - 1)
    .map((minutia) => {
      // Image rows grow downwards, so a counter-clockwise turn is (x, -y) rotated.
      const x = minutia.xPx - cx;
      const y = -(minutia.yPx - cy);
      return {
        ...minutia,
        xPx: Math.round(cx + cos * x - sin * y + dxPx),
        yPx: Math.round(cy - (sin * x + cos * y) + dyPx),
        angleRad: minutia.angleRad + angleRad,
      };
    })
    .filter((minutia) => minutia.xPx >= 0 && minutia.xPx < record.widthPx && minutia.yPx >= 0 && minutia.yPx < record.heightPx);
  return writeIsoRecord({ ...record, views: [{ ...view, minutiae }] });
}

describe('MCC matcher', () => {
  it('accepts most genuine pairs and rejects impostors at the calibrated threshold (DB1)', () => {
    const threshold = thresholdForFmr(1e-3);
    let genuine = 0;
    let genuineAccepted = 0;
    let impostor = 0;
    let impostorAccepted = 0;
    for (let a = 0; a < db1.length; a++) {
      for (let b = a + 1; b < db1.length; b++) {
        const accepted = matcher.score(refs[a]!, refs[b]!) >= threshold;
        if (db1[a]!.finger === db1[b]!.finger) {
          genuine++;
          if (accepted) genuineAccepted++;
        } else {
          impostor++;
          if (accepted) impostorAccepted++;
        }
      }
    }
    expect(genuine).toBe(280);
    expect(impostor).toBe(2880);
    expect(genuineAccepted / genuine).toBeGreaterThan(0.8);
    expect(impostorAccepted / impostor).toBeLessThan(0.005);
  });

  // Rotations beyond the direction filter (60 degrees) are not sought.
  it('is tolerant of rotation, translation and missing minutiae', () => {
    const threshold = thresholdForFmr(1e-4);
    const cases = [
      [0.5, 20, -15, 5],
      [-0.8, -25, 10, 4],
      [0.9, 0, 30, 6],
    ] as const;
    for (const sample of db1.filter((_, index) => index % 8 === 0)) {
      const original = templateRef(templateFromIso(sample.bytes));
      for (const [angle, dx, dy, keepEvery] of cases) {
        const changed = templateRef(templateFromIso(moved(sample.bytes, angle, dx, dy, keepEvery)));
        expect(matcher.score(original, changed)).toBeGreaterThan(threshold);
      }
    }
  });

  it('computes the same scores with the WebAssembly SIMD stage as with the JavaScript one', () => {
    const reference = new MccMatcher(undefined, { useSimd: false });
    for (let a = 0; a < refs.length; a += 7) {
      for (let b = 0; b < refs.length; b += 3) expect(matcher.score(refs[a]!, refs[b]!)).toBe(reference.score(refs[a]!, refs[b]!));
    }
  });

  it('handles the largest templates (255 minutiae, kept to the 128 nearest the centre)', () => {
    const bytes = randomRecord(255, 12345);
    const dense = templateFromIso(bytes);
    expect(dense[1]).toBeLessThanOrEqual(128);
    const reference = new MccMatcher(undefined, { useSimd: false });
    const self = templateRef(dense);
    const copy = templateRef(dense.slice());
    expect(matcher.score(self, copy)).toBe(reference.score(self, copy));
    expect(matcher.score(self, copy)).toBeGreaterThan(0.9);
    expect(matcher.score(refs[0]!, self)).toBe(reference.score(refs[0]!, self));
  });

  it('scores a template against itself highest and an empty one at zero', () => {
    const self = matcher.score(refs[0]!, refs[0]!);
    expect(self).toBeGreaterThan(matcher.score(refs[0]!, refs[1]!));
    const empty = templateRef(new Uint32Array([templateLayoutTag, 0]));
    expect(matcher.score(refs[0]!, empty)).toBe(0);
    expect(matcher.score(empty, refs[0]!)).toBe(0);
  });
});

/** A record of `count` minutiae at random places, directions spread over the whole circle. */
function randomRecord(count: number, seed: number): Uint8Array {
  const next = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
  const minutiae = Array.from({ length: count }, () => ({
    xPx: 40 + Math.floor(next() * 220),
    yPx: 40 + Math.floor(next() * 320),
    // Whole ISO steps (360/256 degrees) include 0 and the last step before 2 pi, and repeat.
    angleRad: (Math.floor(next() * 256) * 2 * Math.PI) / 256,
    type: 'ending' as const,
    quality: 0,
  }));
  return writeIsoRecord({ widthPx: 300, heightPx: 400, xResolutionPpcm: 197, yResolutionPpcm: 197, captureEquipment: 0, views: [{ fingerPosition: 0, viewNumber: 0, impressionType: 0, quality: 0, minutiae }] });
}

describe('SIMD local stage', () => {
  it('visits exactly the pairs within the direction limit, across 0 and 2 pi, and chains each key once', () => {
    const stage = SimdLocalStage.create();
    expect(stage).toBeDefined();
    const templates = [...[3, 8, 20, 45, 90].map((count, index) => templateFromIso(randomRecord(count, 1000 + index))), ...db1.slice(0, 6).map((sample) => templateFromIso(sample.bytes))];
    const maxDiff = Math.PI / 3;
    for (const a of templates) {
      for (const b of templates) {
        const nA = a[1]!;
        const nB = b[1]!;
        const at = templateOffsets(0, nA, 8);
        const bt = templateOffsets(0, nB, 8);
        const count = stage!.compare(a, at.theta, nA, b, bt.theta, nB, maxDiff, -1);
        const seen: number[] = [];
        for (let bucket = 0; bucket < 256; bucket++) {
          for (let index = stage!.heads[bucket]!; index >= 0; index = stage!.next[index]!) seen.push(stage!.keys[index]! & 0xffff);
        }
        const af = new Float32Array(a.buffer);
        const bf = new Float32Array(b.buffer);
        const expected: number[] = [];
        for (let i = 0; i < nA; i++) {
          for (let j = 0; j < nB; j++) {
            let d = Math.abs(af[at.theta + i]! - bf[bt.theta + j]!);
            if (d > Math.PI) d = 2 * Math.PI - d;
            if (d <= maxDiff && af[at.norm + i]! + bf[bt.norm + j]! !== 0) expected.push((i << 8) | j);
          }
        }
        expect(seen.length).toBe(count);
        expect(seen.sort((x, y) => x - y)).toEqual(expected);
      }
    }
  });
});
