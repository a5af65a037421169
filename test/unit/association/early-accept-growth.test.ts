/**
 * A hinted identify may stop at the first candidate reaching an accept score derived from the
 * hint's last population (early-accept.ts). When the population has grown past that allowance, the
 * early stop cannot be trusted and the association node searches again in full: the decision is the
 * full search's. One association node on a real nats-server, synthetic fingers enrolled with a hint.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Modality, type EnrollRequest } from '../../../proto/gen/biopay/v1/biometrics.js';
import { ActorSystem, type ActorClient } from '../../../core/actors/index.js';
import { POPULATION_SLACK } from '../../../core/association/early-accept.js';
import { TemplateSealer } from '../../../core/association/template-crypto.js';
import { writeIsoRecord } from '../../../core/biometrics/iso.js';
import { populationFinger, populationImpression } from '../../../core/biometrics/synthetic/index.js';
import { silentLogger } from '../../../core/log.js';
import { ActorKind, AssociationProtocol } from '../../../core/protocols.js';
import { startAssociationNode, type AssociationNode } from '../../../nodes/association/node.js';
import { startNatsServer, type NatsServerHandle } from '../../helpers/nats-server.js';

const SEED = 11;
const HINT = 'shop-7';
/** Enough for a hinted search to be staged in the index's order (match-engine.ts minWholeRanked). */
const FIRST_POPULATION = 130;
const GROWN_POPULATION = Math.ceil(FIRST_POPULATION * POPULATION_SLACK) + 5;

const impression = (fingerId: number, number: number) =>
  Buffer.from(writeIsoRecord(populationImpression(SEED, populationFinger(SEED, fingerId), fingerId, number)));

describe('a hinted identify after its community grew past the early-accept allowance', () => {
  let nats: NatsServerHandle;
  let nc: NatsConnection;
  let system: ActorSystem;
  let node: AssociationNode;
  let association: ActorClient<typeof AssociationProtocol>;
  const enrolled: number[] = [];

  const enroll = async (fingerId: number) => {
    const request: EnrollRequest = {
      accountId: `acc-${fingerId}`, credentialId: `cred-${fingerId}`, isoTemplate: impression(fingerId, 1), embedding: undefined,
      modality: Modality.MODALITY_FINGERPRINT, policy: undefined, idempotencyKey: '', hint: HINT, extraImpressions: [],
    };
    // A synthetic finger close enough to another is refused as a duplicate: it simply is not in the community.
    const accepted = await association.ask(`acc-${fingerId}`, 'enroll', request).then(() => true, () => false);
    if (accepted) enrolled.push(fingerId);
  };
  const identify = (captureId: string, fingerId: number) => association.ask(captureId, 'identify', {
    capture: { captureId, terminalId: 'T1', isoTemplate: impression(fingerId, 2), face: undefined, palm: undefined, hint: HINT }, targetFmr: 0,
  });

  beforeAll(async () => {
    nats = await startNatsServer({ jetstream: true });
    nc = await connect({ servers: nats.url });
    system = new ActorSystem({ nats: nc });
    node = await startAssociationNode({ nc, system, sealer: TemplateSealer.fromBase64(TemplateSealer.generateKeyBase64()), log: silentLogger(), workers: 0 });
    association = system.client(ActorKind.Association, AssociationProtocol);
  }, 30_000);

  afterAll(async () => {
    await system?.drain();
    await node?.stop();
    await nc?.drain();
    await nats?.stop();
  });

  it('searches again in full, and decides as the full search does', async () => {
    for (let fingerId = 1; enrolled.length < FIRST_POPULATION; fingerId++) await enroll(fingerId);
    // Payers whose second impression the matcher finds: the test is about how far a search goes.
    const payers: number[] = [];
    for (const fingerId of enrolled) {
      if ((await identify(`probe-${fingerId}`, fingerId)).accountId === `acc-${fingerId}`) payers.push(fingerId);
      if (payers.length === 3) break;
    }
    expect(payers).toHaveLength(3);
    const [first, second, third] = payers as [number, number, number];

    // The hint's population is remembered: a payer found stops after a few candidates.
    const early = await identify('early', first);
    expect(early).toMatchObject({ matched: true, accountId: `acc-${first}` });
    expect(early.candidatesSearched).toBeLessThan(FIRST_POPULATION);

    for (let fingerId = enrolled.at(-1)! + 1; enrolled.length < GROWN_POPULATION; fingerId++) await enroll(fingerId);
    // Grown past the allowance: the early stop is not trusted, the search is repeated over everyone.
    const grown = await identify('grown', second);
    expect(grown).toMatchObject({ matched: true, accountId: `acc-${second}` });
    expect(grown.candidatesSearched).toBe(GROWN_POPULATION);

    // The new population is remembered: early stops again.
    const again = await identify('again', third);
    expect(again).toMatchObject({ matched: true, accountId: `acc-${third}` });
    expect(again.candidatesSearched).toBeLessThan(GROWN_POPULATION);
  }, 60_000);
});
