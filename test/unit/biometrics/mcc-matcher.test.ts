import { describe, expect, it } from 'vitest';
import { thresholdForFmr } from '../../../core/biometrics/calibration.js';
import { parseIsoRecord, writeIsoRecord } from '../../../core/biometrics/iso.js';
import { MccMatcher, templateRef } from '../../../core/biometrics/mcc-matcher.js';
import { templateFromIso, templateLayoutTag } from '../../../core/biometrics/template.js';
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
    let seed = 12345;
    const next = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
    const minutiae = Array.from({ length: 255 }, () => ({
      xPx: Math.floor(next() * 300),
      yPx: Math.floor(next() * 400),
      angleRad: next() * 2 * Math.PI,
      type: 'ending' as const,
      quality: 0,
    }));
    const bytes = writeIsoRecord({ widthPx: 300, heightPx: 400, xResolutionPpcm: 197, yResolutionPpcm: 197, captureEquipment: 0, views: [{ fingerPosition: 0, viewNumber: 0, impressionType: 0, quality: 0, minutiae }] });
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
