/** Shard leases on one server: nodes split the shards fairly, hand them over on join and on drain. */
import { describe, expect, it } from 'vitest';
import { Kvm } from '@nats-io/kv';
import { ActorSystem, shardOf } from '../../../core/actors/index.js';
import { SHARD_BUCKET } from '../../../core/actors/shard-leases.js';
import { deposit, Journal, KIND, memoryLogger, TestActor, TestProtocol, until, useNatsServer } from './fixtures.js';

const nats = useNatsServer('actors-leases-test', { jetstream: true });
const shardCount = 8;
// Long enough that a starved machine (the suite beside busy loops) still renews in time: with
// 900 ms a node once fenced itself mid-test and its keys' actors started over on the new owner.
const lease = { ttlMs: 3_000 };

function leasedNode(nodeId: string, journal: Journal): ActorSystem {
  const system = new ActorSystem({ nodeId, nats: nats(), shardCount, logger: memoryLogger().logger });
  system.register(KIND, TestProtocol, (key) => new TestActor(key, journal), { idleTimeoutMs: 60_000 });
  return system;
}

async function owners(): Promise<Map<number, string>> {
  const kv = await new Kvm(nats()).open(SHARD_BUCKET);
  const result = new Map<number, string>();
  for (let shard = 0; shard < shardCount; shard++) {
    const entry = await kv.get(`${KIND}.${shard}`);
    if (entry && entry.operation === 'PUT') result.set(shard, entry.string());
  }
  return result;
}

describe('shard leases', () => {
  it('rebalances on join and hands every shard over on drain', async () => {
    const journal = new Journal();
    const a = leasedNode('node-a', journal);
    await a.serve(KIND, { ownership: 'lease', lease });
    expect(a.ownedShards(KIND)).toHaveLength(shardCount);

    const b = leasedNode('node-b', journal);
    await b.serve(KIND, { ownership: 'lease', lease });
    await until(() => a.ownedShards(KIND).length === 4 && b.ownedShards(KIND).length === 4, 10_000);
    const held = await owners();
    expect([...held.values()].sort()).toEqual([...Array(4).fill('node-a'), ...Array(4).fill('node-b')]);
    for (const shard of a.ownedShards(KIND)) expect(held.get(shard)).toBe('node-a');

    // A caller with no kind of its own reaches each key on the owner of its shard.
    const caller = new ActorSystem({ nodeId: 'caller', nats: nats(), shardCount, logger: memoryLogger().logger });
    const client = caller.client(KIND, TestProtocol);
    const keys = Array.from({ length: 40 }, (_, i) => `acc_${i}`);
    for (const key of keys) await client.ask(key, 'deposit', deposit(1n));
    expect(a.liveActors(KIND) + b.liveActors(KIND)).toBe(keys.length);
    const onA = keys.filter((key) => a.ownedShards(KIND).includes(shardOf(key, shardCount)));
    expect(a.liveActors(KIND)).toBe(onA.length);

    // Node a's own client, too, sends keys of b's shards to b (one actor per key in the network).
    const viaA = a.client(KIND, TestProtocol);
    for (const key of keys) expect((await viaA.ask(key, 'get', { accountId: key })).balanceMinor).toBe(1n);
    expect(a.liveActors(KIND)).toBe(onA.length);

    await a.drain();
    await until(() => b.ownedShards(KIND).length === shardCount, 10_000);
    for (const key of keys) await client.ask(key, 'deposit', deposit(1n));
    expect(b.liveActors(KIND)).toBe(keys.length);
    await b.drain();
    expect((await owners()).size).toBe(0);
    await caller.drain();
  });
});
