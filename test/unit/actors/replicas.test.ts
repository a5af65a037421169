/**
 * BIOPAY_STREAM_REPLICAS: validated at start, and on a 3-server cluster the enrollment stream, the
 * business stream and records, the terminal registry and the shard leases are kept three times,
 * so losing a server loses none of them.
 */
import { jetstreamManager } from '@nats-io/jetstream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { EnrollmentLog } from '../../../core/association/enrollment-log.js';
import { ensureBusinessStream, openBusinessRecords } from '../../../core/business/setup.js';
import { BUSINESS_STREAM } from '../../../core/business/subjects.js';
import { openShardBucket } from '../../../core/actors/shard-leases.js';
import { TerminalRegistry } from '../../../core/terminal/registry.js';
import { connectNats } from '../../../core/transport/nats.js';
import { streamReplicas } from '../../../core/transport/replicas.js';
import { startNatsCluster } from '../../helpers/nats-server.js';

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('streamReplicas', () => {
  it('is 1 unless set, and takes 1 to 5', () => {
    expect(streamReplicas({})).toBe(1);
    expect(streamReplicas({ BIOPAY_STREAM_REPLICAS: '' })).toBe(1);
    expect(streamReplicas({ BIOPAY_STREAM_REPLICAS: '3' })).toBe(3);
  });

  it.each(['0', '6', '2.5', 'three', '-1'])('refuses %s with a clear error', (text) => {
    expect(() => streamReplicas({ BIOPAY_STREAM_REPLICAS: text })).toThrow(/BIOPAY_STREAM_REPLICAS must be an integer from 1 to 5/);
  });
});

it('creates every stream and bucket with three replicas on a 3-server cluster', async () => {
  vi.stubEnv('BIOPAY_STREAM_REPLICAS', '3');
  const cluster = await startNatsCluster(3);
  const nc = await connectNats({ servers: cluster.urls, name: 'replicas-test' });
  try {
    await EnrollmentLog.open(nc);
    await ensureBusinessStream(nc);
    const records = await openBusinessRecords(nc);
    await TerminalRegistry.open(nc);
    const { kv: leases } = await openShardBucket(nc, {});
    const jsm = await jetstreamManager(nc);
    const streams = (await jsm.streams.list().next()).map((info) => [info.config.name, info.config.num_replicas]);
    expect(Object.fromEntries(streams)).toMatchObject({ [BUSINESS_STREAM]: 3 });
    for (const [, replicas] of streams) expect(replicas).toBe(3);
    expect(streams.length).toBeGreaterThanOrEqual(5);
    expect((await records.status()).replicas).toBe(3);
    expect((await leases.status()).replicas).toBe(3);
  } finally {
    await nc.close();
    await cluster.stop();
  }
});
