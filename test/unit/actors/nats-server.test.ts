/** The nats-server helpers start real servers that accept clients, and stop them. */
import { jetstreamManager } from '@nats-io/jetstream';
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { ErrorCode } from '../../../core/errors.js';
import { startNatsServerProcess } from '../../../core/transport/nats-server-process.js';
import { connectNats } from '../../../core/transport/nats.js';
import { startNatsCluster, startNatsServer } from '../../helpers/nats-server.js';

it('starts a single server with JetStream and stops it', async () => {
  const server = await startNatsServer({ jetstream: true });
  const nc = await connectNats({ servers: server.url, name: 'helper-test' });
  const jsm = await jetstreamManager(nc);
  await expect(jsm.getAccountInfo()).resolves.toBeDefined();
  await nc.close();
  await server.stop();
  await expect(connectNats({ servers: server.url, name: 'helper-test', timeoutMs: 500 })).rejects.toThrow();
});

it('runs the server on as many Go threads as asked (the embedded network asks for one), and refuses a count that is not one', async () => {
  const server = await startNatsServerProcess({ jetstream: true, goMaxProcs: 1 });
  try {
    const nc = await connectNats({ servers: server.url, name: 'helper-test' });
    await expect(jetstreamManager(nc).then((jsm) => jsm.getAccountInfo())).resolves.toBeDefined();
    await nc.close();
    if (process.platform === 'linux') {
      expect(readFileSync(`/proc/${server.pid}/environ`, 'utf8').split('\0')).toContain('GOMAXPROCS=1');
    }
  } finally {
    await server.stop();
  }
  for (const goMaxProcs of [0, 1.5, -1]) {
    await expect(startNatsServerProcess({ goMaxProcs })).rejects.toMatchObject({ code: ErrorCode.BadRequest });
  }
});

it('starts a 3-node JetStream cluster that survives losing one node', async () => {
  const cluster = await startNatsCluster(3);
  try {
    expect(new Set(cluster.urls).size).toBe(3);
    const nc = await connectNats({ servers: cluster.urls, name: 'helper-test' });
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: 'HELPER', subjects: ['helper.>'], num_replicas: 3 });
    cluster.servers[0]!.kill();
    const other = await connectNats({ servers: cluster.urls.slice(1), name: 'helper-test-2' });
    // The killed node may have been the meta leader: the others elect a new one within seconds.
    const info = await retry(async () => (await jetstreamManager(other, { timeout: 2_000 })).streams.info('HELPER'));
    expect(info.config.num_replicas).toBe(3);
    await other.close();
    await nc.close();
  } finally {
    await cluster.stop();
  }
});

async function retry<T>(attempt: () => Promise<T>, budgetMs = 20_000): Promise<T> {
  const deadline = Date.now() + budgetMs;
  for (;;) {
    try {
      return await attempt();
    } catch (error) {
      if (Date.now() > deadline) throw error;
    }
  }
}
