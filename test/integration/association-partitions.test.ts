/**
 * Galleries split across association node processes: two `biopay node association --partition
 * p/2` processes on a real nats-server each hold half of the enrolled fingers. Fingers of both
 * halves are identified through the network (scatter-gather), a duplicate held by either half is
 * refused at enrollment, each half holds only its own templates, and with one half gone identify
 * is an error, never a "no match".
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Modality, type Capture, type EnrollRequest } from '../../proto/gen/biopay/v1/biometrics.js';
import { ActorSystem } from '../../core/actors/index.js';
import { GalleryPartitionProtocol, partitionKind, partitionOf } from '../../core/association/partition.js';
import { TemplateSealer } from '../../core/association/template-crypto.js';
import { ActorKind, AssociationProtocol } from '../../core/protocols.js';
import { startNatsServer, type NatsServerHandle } from '../helpers/nats-server.js';
import { startNodeProcess, type NodeProcess } from '../helpers/node-process.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'fvc2002', 'DB1_B');
const finger = (name: string) => readFileSync(join(FIXTURES, `${name}.iso`));
const FINGERS = ['101', '102', '103', '104', '105', '106', '107', '108'];
/** Strict, so DB1 impostor pairs stay clear of the threshold whatever the matcher's latest tuning. */
const TARGET_FMR = '1e-7';

const enrollRequest = (name: string, accountId = `acc-${name}`, credentialId = `cred-${name}`, impression = 1): EnrollRequest => ({
  accountId, credentialId, isoTemplate: finger(`${name}_${impression}`), embedding: undefined,
  modality: Modality.MODALITY_FINGERPRINT, policy: undefined, idempotencyKey: '', hint: '', extraImpressions: [],
});
const capture = (captureId: string, iso: Buffer): Capture => ({ captureId, terminalId: 'T1', isoTemplate: iso, face: undefined, palm: undefined, hint: '' });

describe('two association node processes, each holding one half of the gallery', () => {
  let nats: NatsServerHandle;
  let nc: NatsConnection;
  let system: ActorSystem;
  const nodes: NodeProcess[] = [];

  beforeAll(async () => {
    nats = await startNatsServer({ jetstream: true });
    const env = { BIOPAY_TEMPLATE_KEY: TemplateSealer.generateKeyBase64() };
    nodes.push(...await Promise.all([0, 1].map((index) => startNodeProcess('association', [
      '--nats', nats.url, '--workers', '1', '--partition', `${index}/2`, '--target-fmr', TARGET_FMR,
    ], env))));
    nc = await connect({ servers: nats.url });
    // No kind registered here: every ask travels over NATS to the node processes.
    system = new ActorSystem({ nats: nc });
  }, 180_000);

  afterAll(async () => {
    await system?.drain();
    await nc?.drain();
    const exitCodes = await Promise.all(nodes.map((node) => node.stop()));
    await nats?.stop();
    expect(exitCodes).toEqual(nodes.map(() => 0));
  }, 60_000);

  it('identifies fingers of both halves and refuses a duplicate held by either', async () => {
    expect(nodes.map((node) => node.ready.partition)).toEqual(['0/2', '1/2']);
    const owners = FINGERS.map((name) => partitionOf(`cred-${name}`, 2));
    expect(new Set(owners).size).toBe(2);
    const association = system.client(ActorKind.Association, AssociationProtocol);
    for (const name of FINGERS) await association.ask(`acc-${name}`, 'enroll', enrollRequest(name));

    for (const name of FINGERS) {
      const found = await association.ask(`cap-${name}`, 'identify', { capture: capture(`cap-${name}`, finger(`${name}_2`)), targetFmr: 0 });
      expect(found).toMatchObject({ matched: true, accountId: `acc-${name}`, credentialId: `cred-${name}` });
      // Both halves were searched: every enrolled template was compared.
      expect(found.candidatesSearched).toBe(FINGERS.length);
    }
    const stranger = await association.ask('cap-stranger', 'identify', { capture: capture('cap-stranger', finger('110_1')), targetFmr: 0 });
    expect(stranger.matched).toBe(false);

    for (const name of [FINGERS[owners.indexOf(0)]!, FINGERS[owners.indexOf(1)]!]) {
      await expect(association.ask('acc-intruder', 'enroll', enrollRequest(name, 'acc-intruder', `cred-dup-${name}`, 2)))
        .rejects.toMatchObject({ code: 'ALREADY_ENROLLED' });
    }
  });

  it('keeps each finger in its own half only', async () => {
    const parts = [0, 1].map((index) => system.client(partitionKind(index, 2), GalleryPartitionProtocol));
    for (const name of FINGERS) {
      const answers = await Promise.all(parts.map((part) => part.ask(`probe-${name}`, 'search', { capture: capture(`probe-${name}`, finger(`${name}_1`)), topK: 1, acceptScore: 0 })));
      const holder = answers.findIndex((answer) => answer.candidates[0]?.credentialId === `cred-${name}`);
      expect(holder).toBe(partitionOf(`cred-${name}`, 2));
      expect(answers[1 - holder]!.candidates.some((candidate) => candidate.credentialId === `cred-${name}`)).toBe(false);
    }
  });

  it('refuses a search whose accept score is not a score (outside [0, 1], or NaN) with BAD_REQUEST', async () => {
    const part = system.client(partitionKind(0, 2), GalleryPartitionProtocol);
    for (const acceptScore of [-0.5, 1.5, Number.NaN]) {
      await expect(part.ask('probe-hostile', 'search', { capture: capture('probe-hostile', finger(`${FINGERS[0]}_1`)), topK: 1, acceptScore }))
        .rejects.toMatchObject({ code: 'BAD_REQUEST', message: expect.stringMatching(/acceptScore/) });
    }
  });

  it('answers an error, never "no match", once one half is gone', async () => {
    expect(await nodes[1]!.stop()).toBe(0);
    const association = system.client(ActorKind.Association, AssociationProtocol);
    const holderOfOne = FINGERS.find((name) => partitionOf(`cred-${name}`, 2) === 0)!;
    await expect(association.ask('cap-half', 'identify', { capture: capture('cap-half', finger(`${holderOfOne}_2`)), targetFmr: 0 }))
      .rejects.toMatchObject({ code: 'UNAVAILABLE', message: expect.stringMatching(/partition 1\/2/) });
  });
});
