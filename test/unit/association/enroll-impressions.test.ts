/**
 * Enrollment with several impressions of one finger, through an association node on a real
 * nats-server: the node keeps one (the most central), stores and seals only that one, identifies
 * later touches with it, and refuses impressions that disagree or cannot be read without storing
 * anything.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Modality, type EnrollmentRecord, type EnrollRequest } from '../../../proto/gen/biopay/v1/biometrics.js';
import { ActorSystem, type ActorClient } from '../../../core/actors/index.js';
import { EnrollmentLog } from '../../../core/association/enrollment-log.js';
import { TemplateSealer } from '../../../core/association/template-crypto.js';
import { silentLogger } from '../../../core/log.js';
import { ActorKind, AssociationProtocol } from '../../../core/protocols.js';
import { startAssociationNode, type AssociationNode } from '../../../nodes/association/node.js';
import { startNatsServer, type NatsServerHandle } from '../../helpers/nats-server.js';

const FIXTURES = join(import.meta.dirname, '..', '..', 'fixtures');
const finger = (name: string) => readFileSync(join(FIXTURES, 'fvc2002', 'DB1_B', `${name}.iso`));
const truncated = readFileSync(join(FIXTURES, 'invalid-iso', '101_1_truncate_2_bytes.iso'));

const enrollRequest = (credentialId: string, impressions: Buffer[], modality = Modality.MODALITY_FINGERPRINT): EnrollRequest => ({
  accountId: `acc-${credentialId}`, credentialId, isoTemplate: impressions[0]!, extraImpressions: impressions.slice(1),
  embedding: modality === Modality.MODALITY_FACE ? { values: Array.from({ length: 512 }, (_, index) => Math.sin(index)) } : undefined,
  modality, policy: undefined, idempotencyKey: '', hint: '',
});

describe('enrollment with several impressions', () => {
  let nats: NatsServerHandle;
  let nc: NatsConnection;
  let system: ActorSystem;
  let node: AssociationNode;
  let association: ActorClient<typeof AssociationProtocol>;
  const sealer = TemplateSealer.fromBase64(TemplateSealer.generateKeyBase64());

  beforeAll(async () => {
    nats = await startNatsServer({ jetstream: true });
    nc = await connect({ servers: nats.url });
    system = new ActorSystem({ nats: nc });
    // Strict, so DB1 impostor pairs stay clear of the threshold; one real matcher thread.
    node = await startAssociationNode({ nc, system, sealer, log: silentLogger(), workers: 1, defaultTargetFmr: 1e-7 });
    association = system.client(ActorKind.Association, AssociationProtocol);
  }, 60_000);

  afterAll(async () => {
    await system?.drain();
    await node?.stop();
    await nc?.drain();
    await nats?.stop();
  });

  const identify = (captureId: string, iso: Buffer) => association.ask(captureId, 'identify', {
    capture: { captureId, terminalId: 'T1', isoTemplate: iso, face: undefined, palm: undefined, hint: '' }, targetFmr: 0,
  });

  async function storedRecords(): Promise<EnrollmentRecord[]> {
    const log = await EnrollmentLog.open(nc);
    const records: EnrollmentRecord[] = [];
    await log.follow(async (batch) => {
      records.push(...batch);
    }, () => undefined);
    await log.close();
    return records;
  }

  it('keeps one impression, seals only that one, and identifies a later touch with it', async () => {
    const offered = [finger('101_1'), finger('101_3'), finger('101_4')];
    const enrolled = await association.ask('acc-cred-101', 'enroll', enrollRequest('cred-101', offered));
    expect(enrolled).toMatchObject({ credentialId: 'cred-101', impressions: 3 });
    expect(enrolled.selectedImpression).toBeLessThan(3);
    expect(node.gallery.size).toBe(1);
    const [record] = (await storedRecords()).filter((stored) => stored.credentialId === 'cred-101');
    expect(sealer.open(record!.sealedTemplate, 'cred-101').equals(offered[enrolled.selectedImpression]!)).toBe(true);
    const found = await identify('touch-101-2', finger('101_2'));
    expect(found).toMatchObject({ matched: true, credentialId: 'cred-101' });
  });

  it('answers a retried enrollment as the first, with the same choice', async () => {
    const offered = [finger('101_1'), finger('101_3'), finger('101_4')];
    const first = await storedRecords();
    const again = await association.ask('acc-cred-101', 'enroll', enrollRequest('cred-101', offered));
    expect(again).toMatchObject({ credentialId: 'cred-101', impressions: 3 });
    expect((await storedRecords()).length).toBe(first.length);
  });

  it('refuses impressions of different fingers and stores nothing', async () => {
    const before = node.gallery.size;
    await expect(association.ask('acc-cred-mixed', 'enroll', enrollRequest('cred-mixed', [finger('102_1'), finger('103_1'), finger('104_1')])))
      .rejects.toMatchObject({ code: 'INVALID_TEMPLATE', message: expect.stringMatching(/do not agree/) });
    expect(node.gallery.size).toBe(before);
    expect((await storedRecords()).some((record) => record.credentialId === 'cred-mixed')).toBe(false);
    expect(await identify('touch-102-2', finger('102_2'))).toMatchObject({ matched: false });
  });

  it('names an impression it cannot read, and refuses extra impressions with a face', async () => {
    await expect(association.ask('acc-cred-bad', 'enroll', enrollRequest('cred-bad', [finger('105_1'), truncated])))
      .rejects.toMatchObject({ code: 'INVALID_TEMPLATE', message: expect.stringMatching(/^impression 2 of 2/) });
    await expect(association.ask('acc-cred-face', 'enroll', enrollRequest('cred-face', [Buffer.alloc(0), finger('105_1')], Modality.MODALITY_FACE)))
      .rejects.toMatchObject({ code: 'BAD_REQUEST', message: expect.stringMatching(/extra impressions/) });
    expect((await storedRecords()).some((record) => ['cred-bad', 'cred-face'].includes(record.credentialId))).toBe(false);
  });
});
