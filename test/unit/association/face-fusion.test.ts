/**
 * Face embeddings through a real association node (in process, real nats-server with JetStream):
 * enrollment sealed into the enrollment stream, identify by another capture, dedupe, replay into a
 * node started later, deletion; and the fused decision when a capture has a finger and a face.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { firstValueFrom, from } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { EnrollmentRecord, Modality, type Capture, type EnrollRequest, type SensorEvent } from '../../../proto/gen/biopay/v1/biometrics.js';
import { ActorSystem, type ActorClient } from '../../../core/actors/index.js';
import { ENROLLMENT_STREAM, enrollmentSubject } from '../../../core/association/enrollment-log.js';
import { embeddingFromBytes } from '../../../core/association/partition-gallery.js';
import { TemplateSealer } from '../../../core/association/template-crypto.js';
import { calibration as fingerCalibration } from '../../../core/biometrics/calibration.js';
import { analyticCalibration } from '../../../core/biometrics/embeddings/calibration.js';
import { evidenceFromTable, fusedEvidenceThreshold } from '../../../core/biometrics/embeddings/fusion.js';
import { SyntheticEmbeddingModel } from '../../../core/biometrics/embeddings/synthetic.js';
import { silentLogger } from '../../../core/log.js';
import { assembleCaptures } from '../../../core/terminal/capture-assembler.js';
import { ActorKind, AssociationProtocol } from '../../../core/protocols.js';
import { startAssociationNode, type AssociationNode } from '../../../nodes/association/node.js';
import { startNatsServer, type NatsServerHandle } from '../../helpers/nats-server.js';

const FIXTURES = join(import.meta.dirname, '..', '..', 'fixtures', 'fvc2002', 'DB1_B');
const finger = (name: string) => readFileSync(join(FIXTURES, `${name}.iso`));
const DIMENSION = 64;
/**
 * Strict, so that the test does not depend on the matcher's exact impostor scores (the matcher and
 * its calibration evolve): DB1 impostor pairs stay below its threshold with a margin.
 */
const TARGET_FMR = 1e-7;
/** Enrollment photos are good; the terminal's camera is noisier. */
const enrollModel = new SyntheticEmbeddingModel({ dimension: DIMENSION, seed: 11, noise: 0.3 });
const cameraModel = new SyntheticEmbeddingModel({ dimension: DIMENSION, seed: 11, noise: 0.8 });
/** A poor camera: a genuine face is evidence ~2-4 (FMR 1e-2 to 1e-4). */
const poorCameraModel = new SyntheticEmbeddingModel({ dimension: DIMENSION, seed: 11, noise: 2 });
const face = (model: SyntheticEmbeddingModel, person: number, capture = 0) => ({ values: [...model.capture(person, capture)] });

function enrollRequest(accountId: string, credentialId: string, template: { iso?: Buffer; face?: { values: number[] } }): EnrollRequest {
  return {
    accountId, credentialId, isoTemplate: template.iso ?? Buffer.alloc(0), embedding: template.face,
    modality: template.face ? Modality.MODALITY_FACE : Modality.MODALITY_FINGERPRINT, policy: undefined, idempotencyKey: '', hint: '', extraImpressions: [],
  };
}

function capture(captureId: string, parts: { iso?: Buffer; face?: { values: number[] } }): Capture {
  return { captureId, terminalId: 'T1', isoTemplate: parts.iso ?? Buffer.alloc(0), face: parts.face, palm: undefined, hint: '' };
}

describe('face embeddings and fusion in the association node', () => {
  let nats: NatsServerHandle;
  const connections: NatsConnection[] = [];
  const nodes: Array<{ node: AssociationNode; system: ActorSystem }> = [];
  const sealer = TemplateSealer.fromBase64(TemplateSealer.generateKeyBase64());
  let association: ActorClient<typeof AssociationProtocol>;

  async function startNode() {
    const nc = await connect({ servers: nats.url });
    connections.push(nc);
    const system = new ActorSystem({ nats: nc });
    const node = await startAssociationNode({ nc, system, sealer, log: silentLogger(), workers: 0, embeddingDimensions: { face: DIMENSION },
      defaultTargetFmr: TARGET_FMR,
    });
    nodes.push({ node, system });
    return { node, system };
  }

  const identify = (captureId: string, parts: { iso?: Buffer; face?: { values: number[] } }, targetFmr = 0) =>
    association.ask(captureId, 'identify', { capture: capture(captureId, parts), targetFmr });

  beforeAll(async () => {
    nats = await startNatsServer({ jetstream: true });
    const first = await startNode();
    association = first.system.client(ActorKind.Association, AssociationProtocol);
  });

  afterAll(async () => {
    for (const { node, system } of nodes) {
      await system.drain();
      await node.stop();
    }
    for (const nc of connections) await nc.drain();
    await nats?.stop();
  });

  it('enrolls a face sealed in the stream, identifies another capture of it, and refuses bad or duplicate faces', async () => {
    await association.ask('acc-face-1', 'enroll', enrollRequest('acc-face-1', 'cred-face-1', { face: face(enrollModel, 1) }));
    await association.ask('acc-face-2', 'enroll', enrollRequest('acc-face-2', 'cred-face-2', { face: face(enrollModel, 2) }));

    const found = await identify('cap-face-1', { face: face(cameraModel, 1, 5) });
    expect(found).toMatchObject({ matched: true, accountId: 'acc-face-1', credentialId: 'cred-face-1' });
    expect(found.score).toBeGreaterThanOrEqual(found.threshold);
    const stranger = await identify('cap-face-99', { face: face(cameraModel, 99, 5) });
    expect(stranger.matched).toBe(false);
    expect(stranger.score).toBeLessThan(stranger.threshold);

    // Another photo of person 1 under another account: 1:N at enrollment.
    await expect(association.ask('acc-other', 'enroll', enrollRequest('acc-other', 'cred-face-1b', { face: face(enrollModel, 1, 3) })))
      .rejects.toMatchObject({ code: 'ALREADY_ENROLLED' });
    // Retrying the same enrollment is idempotent, not a duplicate of itself.
    await expect(association.ask('acc-face-1', 'enroll', enrollRequest('acc-face-1', 'cred-face-1', { face: face(enrollModel, 1) })))
      .resolves.toMatchObject({ credentialId: 'cred-face-1' });
    await expect(association.ask('acc-x', 'enroll', enrollRequest('acc-x', 'cred-x', { face: { values: [1, 2, 3] } })))
      .rejects.toMatchObject({ code: 'INVALID_TEMPLATE' });
    await expect(association.ask('acc-x', 'enroll', { ...enrollRequest('acc-x', 'cred-x', {}), modality: Modality.MODALITY_FACE }))
      .rejects.toMatchObject({ code: 'BAD_REQUEST' });
    await expect(identify('cap-bad', { face: { values: [0, 0, 1] } })).rejects.toMatchObject({ code: 'INVALID_TEMPLATE' });

    // At rest: the record names the modality and carries only ciphertext, bound to the credential.
    const jsm = await jetstreamManager(connections[0]!);
    const stored = await jsm.streams.getMessage(ENROLLMENT_STREAM, { last_by_subj: enrollmentSubject('cred-face-1') });
    const record = EnrollmentRecord.decode(stored!.data);
    expect(record.modality).toBe(Modality.MODALITY_FACE);
    const plain = Buffer.from(new Float32Array(face(enrollModel, 1).values).buffer);
    expect(Buffer.from(record.sealedTemplate).includes(plain.subarray(0, 16))).toBe(false);
    expect([...embeddingFromBytes(sealer.open(record.sealedTemplate, 'cred-face-1'))]).toEqual(face(enrollModel, 1).values);
    expect(() => sealer.open(record.sealedTemplate, 'cred-face-2')).toThrow(/authentication/);
  });

  it('replays faces into a node started later, and a deletion removes them everywhere', async () => {
    const second = await startNode();
    expect(second.node.gallery.embeddingGallery('face').size).toBe(2);
    expect(second.node.directory.get('cred-face-2')).toMatchObject({ accountId: 'acc-face-2', modality: Modality.MODALITY_FACE });

    expect(await association.ask('cred-face-2', 'deleteEnrollment', { credentialId: 'cred-face-2' })).toEqual({ deleted: true });
    for (let attempt = 0; attempt < 50 && second.node.gallery.embeddingGallery('face').size !== 1; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(second.node.gallery.embeddingGallery('face').size).toBe(1);
    expect(nodes[0]!.node.gallery.embeddingGallery('face').size).toBe(1);
    expect((await identify('cap-face-2', { face: face(cameraModel, 2, 5) })).matched).toBe(false);
  });

  it('fuses a finger and a face: together they pass a target FMR that neither passes alone', async () => {
    await association.ask('acc-both', 'enroll', enrollRequest('acc-both', 'cred-both-finger', { iso: finger('103_1') }));
    await association.ask('acc-both', 'enroll', enrollRequest('acc-both', 'cred-both-face', { face: face(enrollModel, 7) }));
    // The poorest impression of the enrolled finger (its evidence must not saturate for this test).
    const impressions = await Promise.all(['103_2', '103_3', '103_4', '103_5', '103_6', '103_7', '103_8'].map(async (name) => ({
      iso: finger(name), found: await identify(`cap-f-${name}`, { iso: finger(name) }, 0.5),
    })));
    const poorest = impressions.sort((a, b) => a.found.score - b.found.score)[0]!;
    expect(poorest.found.credentialId).toBe('cred-both-finger');
    const fingerProbe = poorest.iso;
    const faceProbe = face(poorCameraModel, 7, 9);
    const alone = { finger: poorest.found, face: await identify('cap-c', { face: faceProbe }) };
    const evidence = {
      finger: evidenceFromTable(fingerCalibration.points, alone.finger.score),
      face: evidenceFromTable(analyticCalibration(DIMENSION).points, alone.face.score),
    };
    expect(evidence.finger).toBeLessThan(9);
    // A target just beyond the stronger modality, which the two together still reach.
    const targetEvidence = Math.max(evidence.finger, evidence.face) + 0.05;
    const targetFmr = 10 ** -targetEvidence;
    expect(evidence.finger + evidence.face).toBeGreaterThan(fusedEvidenceThreshold(targetFmr, 2));

    expect((await identify('cap-f2', { iso: fingerProbe }, targetFmr)).matched).toBe(false);
    expect((await identify('cap-c2', { face: faceProbe }, targetFmr)).matched).toBe(false);
    const fused = await identify('cap-fc', { iso: fingerProbe, face: faceProbe }, targetFmr);
    expect(fused).toMatchObject({ matched: true, accountId: 'acc-both' });
    expect(['cred-both-finger', 'cred-both-face']).toContain(fused.credentialId);
    expect(fused.score).toBeCloseTo(evidence.finger + evidence.face, 6);
    expect(fused.threshold).toBeCloseTo(fusedEvidenceThreshold(targetFmr, 2), 9);
    // The other person's face with this finger: no account gathers enough evidence.
    expect((await identify('cap-fx', { iso: fingerProbe, face: face(cameraModel, 99, 1) }, targetFmr)).matched).toBe(false);
  });

  it('judges an account enrolled with a finger only on its finger, whatever face the camera saw', async () => {
    await association.ask('acc-finger', 'enroll', enrollRequest('acc-finger', 'cred-finger-only', { iso: finger('104_1') }));
    const fingerOnly = await identify('cap-g', { iso: finger('104_2') });
    expect(fingerOnly).toMatchObject({ matched: true, credentialId: 'cred-finger-only' });
    const withFace = await identify('cap-gf', { iso: finger('104_2'), face: face(cameraModel, 55, 1) });
    expect(withFace).toMatchObject({ matched: true, accountId: 'acc-finger', credentialId: 'cred-finger-only' });
    // One modality's requirement (-log10 of the target), not two's.
    expect(withFace.threshold).toBeCloseTo(-Math.log10(TARGET_FMR), 9);
  });

  it('identifies a touch whose sensor events carry a finger and a face, by the fused decision', async () => {
    const base = { terminalId: 'T1', sessionId: 's-1', liveness: 95, last: false, capturedUnixMs: 0n, amount: undefined, hint: '' };
    const events: SensorEvent[] = [
      { ...base, sensorId: 'finger-0', modality: Modality.MODALITY_FINGERPRINT, quality: 80, features: { $case: 'isoTemplate', value: finger('103_2') } },
      { ...base, sensorId: 'camera-0', modality: Modality.MODALITY_FACE, quality: 70, last: true, features: { $case: 'embedding', value: face(cameraModel, 7, 4) } },
    ];
    const touch = await firstValueFrom(from(events).pipe(assembleCaptures()));
    expect(touch.capture.face?.values.length).toBe(DIMENSION);
    const found = await association.ask(touch.capture.captureId, 'identify', { capture: touch.capture, targetFmr: 0 });
    expect(found).toMatchObject({ matched: true, accountId: 'acc-both' });
    expect(found.threshold).toBeCloseTo(fusedEvidenceThreshold(TARGET_FMR, 2), 9);
  });

  it('enrolls and identifies palms in their own gallery and dimension', async () => {
    const palmModel = new SyntheticEmbeddingModel({ dimension: 256, seed: 12, noise: 0.5 });
    const palm = (person: number, capture: number) => ({ values: [...palmModel.capture(person, capture)] });
    await association.ask('acc-palm', 'enroll', { ...enrollRequest('acc-palm', 'cred-palm', {}), modality: Modality.MODALITY_PALM, embedding: palm(3, 0) });
    expect(nodes[0]!.node.gallery.embeddingGallery('palm').size).toBe(1);
    const found = await association.ask('cap-palm', 'identify', {
      capture: { ...capture('cap-palm', {}), palm: palm(3, 1) }, targetFmr: 0,
    });
    expect(found).toMatchObject({ matched: true, accountId: 'acc-palm', credentialId: 'cred-palm' });
    // A face-sized vector is not a palm.
    await expect(association.ask('cap-palm-bad', 'identify', { capture: { ...capture('cap-palm-bad', {}), palm: face(cameraModel, 3, 1) }, targetFmr: 0 }))
      .rejects.toMatchObject({ code: 'INVALID_TEMPLATE' });
  });
});
