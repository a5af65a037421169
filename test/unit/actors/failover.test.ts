/**
 * Shard leases on a real 3-node JetStream cluster with three node processes: the shards are split
 * 4/4/4, each key is answered by its shard's owner, and when one node process is killed (SIGKILL)
 * the other two take over its shards once its leases expire.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Kvm, type KV } from '@nats-io/kv';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ActorSystem, shardOf } from '../../../core/actors/index.js';
import { SHARD_BUCKET } from '../../../core/actors/shard-leases.js';
import { connectNats, type NatsConnection } from '../../../core/transport/nats.js';
import { startNatsCluster, type NatsClusterHandle } from '../../helpers/nats-server.js';
import { KIND, memoryLogger, sleep, TestProtocol } from './fixtures.js';

const shardCount = 12;
const ttlMs = 1_500;
const script = fileURLToPath(new URL('./lease-node.ts', import.meta.url));

let cluster: NatsClusterHandle;
let nc: NatsConnection;
const nodes = new Map<string, ChildProcess>();

function startNode(nodeId: string, urls: string[]): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', script, nodeId, urls.join(','), String(shardCount), String(ttlMs)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  nodes.set(nodeId, child);
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${nodeId} exited with ${code}`)));
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      if (chunk.startsWith('ready')) resolve(child);
    });
  });
}

async function owners(kv: KV): Promise<Map<number, string>> {
  const result = new Map<number, string>();
  for (let shard = 0; shard < shardCount; shard++) {
    const entry = await kv.get(`${KIND}.${shard}`);
    if (entry && entry.operation === 'PUT') result.set(shard, entry.string());
  }
  return result;
}

function shares(held: Map<number, string>): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const owner of [...held.values()].sort()) counts[owner] = (counts[owner] ?? 0) + 1;
  return counts;
}

async function waitForShares(kv: KV, expected: Record<string, number>, timeoutMs = 20_000): Promise<Map<number, string>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const held = await owners(kv).catch(() => new Map<number, string>());
    if (JSON.stringify(shares(held)) === JSON.stringify(expected)) return held;
    if (Date.now() > deadline) throw new Error(`shares ${JSON.stringify(shares(held))}, expected ${JSON.stringify(expected)}`);
    await sleep(100);
  }
}

beforeAll(async () => {
  cluster = await startNatsCluster(3);
  const urls = cluster.urls;
  // Each node prefers a different server; all know the whole cluster.
  await Promise.all(['n1', 'n2', 'n3'].map((id, i) => startNode(id, [...urls.slice(i), ...urls.slice(0, i)])));
  nc = await connectNats({ servers: urls, name: 'failover-test' });
});

afterAll(async () => {
  await Promise.all(
    [...nodes.values()].map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once('exit', () => resolve());
          child.kill('SIGTERM');
        }),
    ),
  );
  await nc?.close();
  await cluster?.stop();
});

it('splits shards fairly, answers on the owner, and fails over when a node dies', async () => {
  const kv = await new Kvm(nc).open(SHARD_BUCKET);
  let held = await waitForShares(kv, { n1: 4, n2: 4, n3: 4 });

  const caller = new ActorSystem({ nodeId: 'caller', nats: nc, shardCount, logger: memoryLogger().logger });
  const client = caller.client(KIND, TestProtocol);
  const keys = Array.from({ length: 48 }, (_, i) => `acc_${i}`);
  for (const key of keys) {
    const account = await client.ask(key, 'get', { accountId: key });
    expect(account.owner).toBe(held.get(shardOf(key, shardCount)));
  }

  nodes.get('n3')!.kill('SIGKILL');
  held = await waitForShares(kv, { n1: 6, n2: 6 });
  for (const key of keys) {
    const account = await client.ask(key, 'get', { accountId: key });
    expect(account.owner).toBe(held.get(shardOf(key, shardCount)));
  }
  await caller.drain();
});
