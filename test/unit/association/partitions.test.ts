/**
 * Gallery partitions in process (two association nodes on a real nats-server, each with its own
 * connection): each keeps only its half, identify and dedupe ask both, a missing partition is an
 * error and never a "no match", and nodes counting partitions differently do not mix.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Modality, type EnrollRequest } from '../../../proto/gen/biopay/v1/biometrics.js';
import { ActorSystem, type ActorClient } from '../../../core/actors/index.js';
import { parsePartition, partitionOf, type PartitionSpec } from '../../../core/association/partition.js';
import { PartitionClients } from '../../../core/association/scatter.js';
import { TemplateSealer } from '../../../core/association/template-crypto.js';
import { silentLogger } from '../../../core/log.js';
import { ActorKind, AssociationProtocol } from '../../../core/protocols.js';
import { startAssociationNode, type AssociationNode } from '../../../nodes/association/node.js';
import { startNatsServer, type NatsServerHandle } from '../../helpers/nats-server.js';

const FIXTURES = join(import.meta.dirname, '..', '..', 'fixtures', 'fvc2002', 'DB1_B');
const finger = (name: string) => readFileSync(join(FIXTURES, `${name}.iso`));
const FINGERS = ['101', '102', '103', '104', '105', '106'];

const enrollRequest = (accountId: string, credentialId: string, iso: Buffer): EnrollRequest => ({
  accountId, credentialId, isoTemplate: iso, embedding: undefined, modality: Modality.MODALITY_FINGERPRINT,
  policy: undefined, idempotencyKey: '', hint: '', extraImpressions: [],
});

describe('association nodes each holding one gallery partition', () => {
  let nats: NatsServerHandle;
  const started: Array<{ node: AssociationNode; system: ActorSystem; nc: NatsConnection }> = [];
  const sealer = TemplateSealer.fromBase64(TemplateSealer.generateKeyBase64());

  async function startNode(partition: PartitionSpec) {
    const nc = await connect({ servers: nats.url });
    const system = new ActorSystem({ nats: nc });
    const node = await startAssociationNode({ nc, system, sealer, log: silentLogger(), workers: 0, partition, partitionTimeoutMs: 1_000,
      // Strict: DB1 impostor pairs stay clear of the threshold whatever the matcher's latest tuning.
      defaultTargetFmr: 1e-7,
    });
    const entry = { node, system, nc };
    started.push(entry);
    return { ...entry, association: system.client(ActorKind.Association, AssociationProtocol) };
  }

  async function stopNode(entry: { node: AssociationNode; system: ActorSystem; nc: NatsConnection }) {
    await entry.system.drain();
    await entry.node.stop();
    await entry.nc.drain();
    started.splice(started.indexOf(entry), 1);
  }

  const identify = (association: ActorClient<typeof AssociationProtocol>, captureId: string, iso: Buffer) =>
    association.ask(captureId, 'identify', {
      capture: { captureId, terminalId: 'T1', isoTemplate: iso, face: undefined, palm: undefined, hint: '' }, targetFmr: 0,
    });

  beforeAll(async () => {
    nats = await startNatsServer({ jetstream: true });
  });

  afterAll(async () => {
    for (const entry of [...started]) await stopNode(entry);
    await nats?.stop();
  });

  it('parses p/P and refuses nonsense', () => {
    expect(parsePartition('1/2')).toEqual({ index: 1, count: 2 });
    for (const bad of ['2/2', '0/0', '1', 'a/b', '-1/2', '0/999']) expect(() => parsePartition(bad)).toThrow(/partition/);
  });

  it('asks the partitions with a deadline just short of the caller\'s, at most the cap', () => {
    const partitions = new PartitionClients(new ActorSystem(), 2, 1_000);
    expect(partitions.askOptions(0)).toEqual({ timeoutMs: 1_000 });
    expect(partitions.askOptions(Date.now() + 60_000)).toEqual({ timeoutMs: 1_000 });
    const { timeoutMs } = partitions.askOptions(Date.now() + 300);
    expect(timeoutMs).toBeGreaterThan(200);
    expect(timeoutMs).toBeLessThan(300);
    expect(() => partitions.askOptions(Date.now() + 5)).toThrow(expect.objectContaining({ code: 'TIMEOUT' }));
  });

  it('answers UNAVAILABLE, never "no match", while a partition has no node', async () => {
    const first = await startNode({ index: 0, count: 2 });
    await expect(identify(first.association, 'cap-lonely', finger('101_2'))).rejects.toMatchObject({
      code: 'UNAVAILABLE', message: expect.stringMatching(/partition 1\/2/),
    });
    // Dedupe cannot be decided on half a gallery either.
    await expect(first.association.ask('acc-101', 'enroll', enrollRequest('acc-101', 'cred-101', finger('101_1'))))
      .rejects.toMatchObject({ code: 'UNAVAILABLE' });
  });

  it('splits enrollments by credential, identifies both halves from either node, and dedupes across them', async () => {
    const [first] = started.map((entry) => ({ ...entry, association: entry.system.client(ActorKind.Association, AssociationProtocol) }));
    const second = await startNode({ index: 1, count: 2 });
    const owners = FINGERS.map((name) => partitionOf(`cred-${name}`, 2));
    // The test needs credentials on both sides.
    expect(new Set(owners).size).toBe(2);
    for (const name of FINGERS) await first!.association.ask(`acc-${name}`, 'enroll', enrollRequest(`acc-${name}`, `cred-${name}`, finger(`${name}_1`)));

    expect(first!.node.engine.size).toBe(owners.filter((owner) => owner === 0).length);
    expect(second.node.engine.size).toBe(owners.filter((owner) => owner === 1).length);
    // Every node knows every credential's account (metadata), whatever partition holds its template.
    expect(first!.node.directory.size).toBe(FINGERS.length);
    for (const name of FINGERS) {
      for (const via of [first!.association, second.association]) {
        expect(await identify(via, `cap-${name}-${via === second.association ? 2 : 1}`, finger(`${name}_2`)))
          .toMatchObject({ matched: true, accountId: `acc-${name}`, credentialId: `cred-${name}` });
      }
    }
    const stranger = await identify(first!.association, 'cap-stranger', finger('109_1'));
    expect(stranger.matched).toBe(false);
    expect(stranger.candidatesSearched).toBe(FINGERS.length);

    // Another impression of a finger held by either partition, under a new credential of another account.
    for (const name of FINGERS.slice(0, 3)) {
      await expect(second.association.ask('acc-new', 'enroll', enrollRequest('acc-new', `cred-new-${name}`, finger(`${name}_2`))))
        .rejects.toMatchObject({ code: 'ALREADY_ENROLLED' });
    }
    const inSecond = FINGERS.find((name, index) => owners[index] === 1)!;
    expect(await first!.association.ask(`cred-${inSecond}`, 'deleteEnrollment', { credentialId: `cred-${inSecond}` })).toEqual({ deleted: true });
    expect((await identify(first!.association, 'cap-deleted', finger(`${inSecond}_2`))).matched).toBe(false);
  });

  it('keeps a node counting partitions differently out: its missing partitions are errors', async () => {
    const odd = await startNode({ index: 0, count: 3 });
    // Same enrollment stream, but partitions 1/3 and 2/3 have no node.
    await expect(identify(odd.association, 'cap-odd', finger('101_2'))).rejects.toMatchObject({
      code: 'UNAVAILABLE', message: expect.stringMatching(/1\/3, 2\/3/),
    });
    expect(odd.node.directory.size).toBe(FINGERS.length - 1);
    await stopNode(started.find((entry) => entry.node === odd.node)!);
  });
});
