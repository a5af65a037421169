/**
 * Enrollment changes travel as a JetStream stream: a second association node started later
 * replays it into its own gallery (sealed templates opened with the shared key), and a deletion
 * removes the finger from every node's gallery.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { EnrollmentRecord } from '../../proto/gen/biopay/v1/biometrics.js';
import { ActorSystem } from '../../core/actors/index.js';
import { ENROLLMENT_STREAM } from '../../core/association/enrollment-log.js';
import { TemplateSealer } from '../../core/association/template-crypto.js';
import { silentLogger } from '../../core/log.js';
import { ActorKind, AssociationProtocol } from '../../core/protocols.js';
import { startAssociationNode, type AssociationNode } from '../../nodes/association/node.js';
import { startNatsServer, type NatsServerHandle } from '../helpers/nats-server.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'fvc2002', 'DB1_B');
const template = (name: string) => readFileSync(join(FIXTURES, `${name}.iso`));

describe('association nodes share their gallery through the enrollment stream', () => {
  let nats: NatsServerHandle;
  const connections: NatsConnection[] = [];
  const nodes: Array<{ node: AssociationNode; system: ActorSystem }> = [];
  const sealer = TemplateSealer.fromBase64(TemplateSealer.generateKeyBase64());

  async function startNode() {
    const nc = await connect({ servers: nats.url });
    connections.push(nc);
    const system = new ActorSystem({ nats: nc });
    const node = await startAssociationNode({ nc, system, sealer, log: silentLogger(), workers: 1 });
    nodes.push({ node, system });
    return { node, system };
  }

  beforeAll(async () => {
    nats = await startNatsServer({ jetstream: true });
  });

  afterAll(async () => {
    for (const { node, system } of nodes) {
      await system.drain();
      await node.stop();
    }
    for (const nc of connections) await nc.drain();
    await nats?.stop();
  });

  it('replays enrollments into a node started later, and a deletion leaves every gallery and the stream', async () => {
    const first = await startNode();
    const association = first.system.client(ActorKind.Association, AssociationProtocol);
    const enroll = (accountId: string, finger: string) => association.ask(accountId, 'enroll', {
      accountId, isoTemplate: template(finger), credentialId: `cred-${finger}`, modality: 0, embedding: undefined,
      policy: undefined, idempotencyKey: '', hint: '', extraImpressions: [],
    });
    for (const finger of ['101_1', '102_1', '103_1', '104_1']) await enroll(`acc-${finger}`, finger);
    await expect(enroll('acc-other', '101_2')).rejects.toMatchObject({ code: 'ALREADY_ENROLLED' });

    const second = await startNode();
    expect(second.node.engine.size).toBe(4);
    const found = await second.node.engine.identify(template('103_2'), { topK: 1 });
    expect(found.candidates[0]!.id).toBe('cred-103_1');

    expect(await association.ask('cred-103_1', 'deleteEnrollment', { credentialId: 'cred-103_1' })).toEqual({ deleted: true });
    // The other node follows the stream: the finger leaves its gallery too.
    for (let attempt = 0; attempt < 50 && second.node.engine.size !== 3; attempt++) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(second.node.engine.size).toBe(3);
    // Only the deletion record is left for that credential: the sealed template is gone from the stream.
    const jsm = await jetstreamManager(connections[0]!);
    const last = await jsm.streams.getMessage(ENROLLMENT_STREAM, { last_by_subj: 'biopay.enrollment.cred-103_1' });
    const record = EnrollmentRecord.decode(last!.data);
    expect(record.deleted).toBe(true);
    expect(record.sealedTemplate.length).toBe(0);
    expect((await jsm.streams.info(ENROLLMENT_STREAM)).state.messages).toBe(4);
  });
});
