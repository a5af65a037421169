import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { calibration as fingerprintCalibration, thresholdForFmr } from '../../../core/biometrics/calibration.js';
import { analyticCalibration, analyticThreshold } from '../../../core/biometrics/embeddings/calibration.js';
import { EmbeddingGallery } from '../../../core/biometrics/embeddings/embedding-gallery.js';
import {
  decideByIdentity,
  decideFused,
  decideModalities,
  evidenceFromTable,
  fuseCandidates,
  fusedEvidenceThreshold,
  maxEvidencePerModality,
} from '../../../core/biometrics/embeddings/fusion.js';
import { SyntheticEmbeddingModel } from '../../../core/biometrics/embeddings/synthetic.js';
import { Rng } from '../../../core/biometrics/synthetic/random.js';
import { BiopayError, ErrorCode } from '../../../core/errors.js';

const faceCalibration = analyticCalibration(512);
const options = { faceCalibration, targetFmr: 1e-6 };
/** Scores each at FMR 1e-4 on its own: evidence 4, short of the 6 that 1e-6 needs alone. */
const weakFinger = thresholdForFmr(1e-4);
const weakFace = analyticThreshold(512, 1e-4);

describe('evidence from a calibration table', () => {
  it('is -log10(FMR) at the table points', () => {
    for (const point of fingerprintCalibration.points) {
      expect(evidenceFromTable(fingerprintCalibration.points, point.threshold)).toBeCloseTo(-Math.log10(point.fmr), 9);
    }
    for (const point of faceCalibration.points) {
      expect(evidenceFromTable(faceCalibration.points, point.threshold)).toBeCloseTo(-Math.log10(point.fmr), 9);
    }
  });

  it('never falls as the score rises and stays within [0, max]', () => {
    fc.assert(
      fc.property(fc.double({ min: -1, max: 2, noNaN: true }), fc.double({ min: -1, max: 2, noNaN: true }), (a, b) => {
        const [low, high] = a < b ? [a, b] : [b, a];
        for (const table of [fingerprintCalibration, faceCalibration]) {
          const [lowEvidence, highEvidence] = [evidenceFromTable(table.points, low), evidenceFromTable(table.points, high)];
          expect(highEvidence).toBeGreaterThanOrEqual(lowEvidence);
          expect(lowEvidence).toBeGreaterThanOrEqual(0);
          expect(highEvidence).toBeLessThanOrEqual(maxEvidencePerModality);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('fused evidence threshold', () => {
  it('is -log10(target) for one modality and more for two (Fisher)', () => {
    expect(fusedEvidenceThreshold(1e-6, 1)).toBe(6);
    expect(fusedEvidenceThreshold(1e-6, 2)).toBeCloseTo(7.2477, 3);
    expect(fusedEvidenceThreshold(1e-6, 3)).toBeGreaterThan(fusedEvidenceThreshold(1e-6, 2));
  });

  it('holds the fused FMR of independent impostor modalities at the target', () => {
    const rng = Rng.fromSeed(5);
    const samples = 200_000;
    for (const target of [1e-2, 1e-3]) {
      const threshold = fusedEvidenceThreshold(target, 2);
      let accepted = 0;
      for (let index = 0; index < samples; index++) {
        // Under impostors a calibrated FMR is uniform on (0, 1].
        if (-Math.log10(1 - rng.next()) - Math.log10(1 - rng.next()) >= threshold) accepted++;
      }
      const expected = target * samples;
      expect(Math.abs(accepted - expected)).toBeLessThan(5 * Math.sqrt(expected));
    }
  });
});

describe('finger and face fusion', () => {
  it('passes a weak finger plus a weak face of the same identity where either alone fails', () => {
    const finger = [{ id: 'alice', score: weakFinger }, { id: 'bob', score: 0.05 }];
    const face = [{ id: 'alice', score: weakFace }, { id: 'carol', score: 0.05 }];
    expect(decideFused(finger, undefined, options)).toMatchObject({ match: false, reason: 'below-threshold' });
    expect(decideFused(undefined, face, options)).toMatchObject({ match: false, reason: 'below-threshold' });
    const fused = decideFused(finger, face, options);
    expect(fused).toMatchObject({ match: true, reason: 'match', candidate: { id: 'alice' } });
    expect(fused.candidate!.evidence).toBeCloseTo(8, 3);
    expect(fused.candidate!.modalities.finger!.evidence).toBeCloseTo(4, 3);
    expect(fused.candidate!.modalities.face!.evidence).toBeCloseTo(4, 3);
  });

  it('does not fuse a finger of one identity with a face of another', () => {
    const decision = decideFused([{ id: 'alice', score: weakFinger }], [{ id: 'bob', score: weakFace }], options);
    expect(decision).toMatchObject({ match: false, reason: 'below-threshold' });
    expect(decision.candidates.map((candidate) => candidate.id).sort()).toEqual(['alice', 'bob']);
  });

  it('calls two identities that each pass on their own a conflict, not a match', () => {
    const strongFinger = thresholdForFmr(1e-8);
    const strongFace = analyticThreshold(512, 1e-8);
    const decision = decideFused([{ id: 'alice', score: strongFinger }], [{ id: 'bob', score: strongFace }], options);
    expect(decision).toMatchObject({ match: false, reason: 'ambiguous' });
  });

  it('lets one strong modality carry a capture whose other modality found nothing', () => {
    const decision = decideFused([{ id: 'alice', score: thresholdForFmr(1e-8) }], [], options);
    expect(decision).toMatchObject({ match: true, candidate: { id: 'alice' } });
    expect(decision.requiredEvidence).toBeCloseTo(fusedEvidenceThreshold(1e-6, 2), 9);
    expect(decideFused([], [], options)).toMatchObject({ match: false, reason: 'no-candidates' });
  });

  it('takes the best score of an identity listed twice (two fingers)', () => {
    const [fused] = fuseCandidates([{ id: 'alice', score: 0.05 }, { id: 'alice', score: weakFinger }, { id: 'alice', score: 0.02 }], undefined, options);
    expect(fused!.modalities.finger!.score).toBe(weakFinger);
  });

  it('fuses real searches: a noisy face capture plus a weak finger identifies the payer', () => {
    const model = new SyntheticEmbeddingModel({ dimension: 512, seed: 9, noise: 2.2 });
    const gallery = new EmbeddingGallery({ modality: 'face', dimension: 512, quantization: 'int8' });
    for (let person = 0; person < 200; person++) gallery.add(`acct-${person}`, model.capture(person, 0));
    const face = gallery.search(model.capture(17, 1), { topK: 10 }).candidates;
    // Heavy noise (genuine cosine ~0.17, FMR ~1e-4): found at rank 1, but not enough on its own.
    expect(face[0]!.id).toBe('acct-17');
    expect(decideFused(undefined, face, options).match).toBe(false);
    const finger = [{ id: 'acct-17', score: thresholdForFmr(1e-5) }, { id: 'acct-3', score: 0.06 }];
    expect(decideFused(finger, undefined, options).match).toBe(false);
    expect(decideFused(finger, face, options)).toMatchObject({ match: true, candidate: { id: 'acct-17' } });
  });

  it('refuses malformed candidates and repeated modalities with BAD_REQUEST', () => {
    const bad = [
      () => decideFused([{ id: '', score: 0.1 }], undefined, options),
      () => decideFused([{ id: 'a', score: Number.NaN }], undefined, options),
      () => decideFused(undefined, undefined, options),
      () => decideFused([], [], { ...options, targetFmr: 0 }),
      () => decideModalities([{ modality: 'face', candidates: [], calibration: faceCalibration }, { modality: 'face', candidates: [], calibration: faceCalibration }], 1e-6),
    ];
    for (const action of bad) {
      try {
        action();
        throw new Error('accepted');
      } catch (error) {
        expect(error).toBeInstanceOf(BiopayError);
        expect((error as BiopayError).code).toBe(ErrorCode.BadRequest);
      }
    }
  });
});

describe('fusion judged per identity on the modalities it is enrolled with', () => {
  const inputs = (finger: { id: string; score: number }[], face: { id: string; score: number }[]) => [
    { modality: 'finger' as const, candidates: finger, calibration: fingerprintCalibration },
    { modality: 'face' as const, candidates: face, calibration: faceCalibration },
  ];
  const strongFinger = thresholdForFmr(1e-7);

  it('needs one modality of an identity enrolled with a finger only, two of one enrolled with both', () => {
    const capture = inputs([{ id: 'alice', score: strongFinger }], [{ id: 'stranger', score: 0.02 }]);
    // Evidence 7 passes 1e-6 alone, but not the ~7.8 that two modalities need.
    expect(decideModalities(capture, 1e-6).match).toBe(false);
    const fingerOnly = decideByIdentity(capture, 1e-6, (id) => (id === 'alice' ? 1 : 2));
    expect(fingerOnly).toMatchObject({ match: true, candidate: { id: 'alice' }, judgedModalities: 1 });
    expect(fingerOnly.requiredEvidence).toBeCloseTo(6, 9);
    expect(decideByIdentity(capture, 1e-6, () => 2)).toMatchObject({ match: false, reason: 'below-threshold', judgedModalities: 2 });
  });

  it('never judges an identity on fewer modalities than listed it, and calls two passing identities a conflict', () => {
    const both = inputs([{ id: 'alice', score: weakFinger }], [{ id: 'alice', score: weakFace }]);
    expect(decideByIdentity(both, 1e-6, () => 0)).toMatchObject({ match: true, judgedModalities: 2 });
    const two = inputs([{ id: 'alice', score: strongFinger }], [{ id: 'bob', score: analyticThreshold(512, 1e-7) }]);
    expect(decideByIdentity(two, 1e-6, () => 1)).toMatchObject({ match: false, reason: 'ambiguous' });
    expect(decideByIdentity(inputs([], []), 1e-6, () => 1)).toMatchObject({ match: false, reason: 'no-candidates' });
  });
});
