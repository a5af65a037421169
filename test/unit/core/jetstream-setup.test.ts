/**
 * Stream and bucket setup at node start, retried while JetStream settles: the retry rule on
 * nats.js's own error classes; a server without JetStream, refused at once (through the CLI too);
 * and a real cluster that has lost its quorum, refused after the bounded tries.
 */
import { execFile } from 'node:child_process';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { RequestError, TimeoutError } from '@nats-io/transport-node';
import { afterAll, describe, expect, it } from 'vitest';
import { BiopayError, ErrorCode } from '../../../core/errors.js';
import { createLogger } from '../../../core/log.js';
import { JETSTREAM_SETUP_ATTEMPTS_MAX, logSetupRetries, setUpJetStream } from '../../../core/transport/jetstream-setup.js';
import { connectNats, type NatsConnection } from '../../../core/transport/nats.js';
import { isJetStreamSettling } from '../../../core/transport/nats-errors.js';
import { CLI_PATH } from '../../helpers/node-process.js';
import { startNatsCluster, startNatsServer, type NatsClusterHandle, type NatsServerHandle } from '../../helpers/nats-server.js';

function failingTimes<T>(failures: number, error: () => unknown, result: T): { setup: () => Promise<T>; calls: () => number } {
  let calls = 0;
  return {
    setup: async () => {
      calls++;
      if (calls <= failures) throw error();
      return result;
    },
    calls: () => calls,
  };
}

describe('setUpJetStream', () => {
  it('tries again after timeouts, logging each retry, and answers with the first success', async () => {
    const lines: string[] = [];
    const log = createLogger({ level: 'warn', write: (line) => lines.push(line) });
    const { setup, calls } = failingTimes(2, () => new RequestError('request failed', { cause: new TimeoutError() }), 'bucket');
    const result = await setUpJetStream('test bucket', setup, { firstPauseMs: 1, onRetry: logSetupRetries(log) });
    expect(result).toBe('bucket');
    expect(calls()).toBe(3);
    const records = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(records.map(({ message, what, attempt, attemptsMax }) => ({ message, what, attempt, attemptsMax }))).toEqual([
      { message: 'JetStream not ready; trying again', what: 'test bucket', attempt: 1, attemptsMax: JETSTREAM_SETUP_ATTEMPTS_MAX },
      { message: 'JetStream not ready; trying again', what: 'test bucket', attempt: 2, attemptsMax: JETSTREAM_SETUP_ATTEMPTS_MAX },
    ]);
  });

  it('fails at once on an error that is not JetStream settling', async () => {
    const { setup, calls } = failingTimes(1, () => new Error('stream name already in use with a different configuration'), 'x');
    await expect(setUpJetStream('test bucket', setup, { firstPauseMs: 1 })).rejects.toThrow(/different configuration/);
    expect(calls()).toBe(1);
  });

  it('gives up after its tries with UNAVAILABLE, naming what and keeping the cause', async () => {
    const { setup, calls } = failingTimes(10, () => new TimeoutError(), 'x');
    const failure = await setUpJetStream('test bucket', setup, { attemptsMax: 3, firstPauseMs: 1 }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(BiopayError);
    expect((failure as BiopayError).code).toBe(ErrorCode.Unavailable);
    expect((failure as BiopayError).message).toBe('test bucket: JetStream did not answer in 3 tries');
    expect((failure as BiopayError).cause).toBeInstanceOf(TimeoutError);
    expect(calls()).toBe(3);
  });

  it('reads timeouts and no-responders through their wrappers, and nothing else as settling', () => {
    expect(isJetStreamSettling(new TimeoutError())).toBe(true);
    expect(isJetStreamSettling(new RequestError('failed', { cause: new TimeoutError() }))).toBe(true);
    expect(isJetStreamSettling(new Error('permissions violation'))).toBe(false);
    expect(isJetStreamSettling(new BiopayError(ErrorCode.BadRequest, 'bad'))).toBe(false);
  });
});

describe('a server without JetStream', () => {
  let server: NatsServerHandle | undefined;
  let nc: NatsConnection | undefined;

  afterAll(async () => {
    await nc?.close();
    await server?.stop();
  });

  it('fails at once, saying so, instead of waiting for a JetStream that will not come', async () => {
    server = await startNatsServer({ jetstream: false });
    nc = await connectNats({ servers: server.url, name: 'setup-test-no-js' });
    let calls = 0;
    const failure = await setUpJetStream('test stream', async () => {
      calls++;
      return (await jetstreamManager(nc!)).streams.info('TEST');
    }).catch((error: unknown) => error);
    expect((failure as BiopayError).code).toBe(ErrorCode.Unavailable);
    expect((failure as BiopayError).message).toBe('test stream: JetStream is not enabled on the NATS server or for this account (start nats-server with -js)');
    expect(calls).toBe(1);
  });

  it('stops a node at start with exit 1 and the reason, for each role that keeps streams', async () => {
    for (const role of ['business', 'terminal']) {
      const run = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
        execFile(process.execPath, [CLI_PATH, 'node', role, '--nats', server!.url], { timeout: 30_000 }, (error, _stdout, stderr) =>
          resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stderr }));
      });
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(/UNAVAILABLE: .*: JetStream is not enabled on the NATS server or for this account \(start nats-server with -js\)/);
    }
  });
});

describe('a cluster that has lost its quorum', () => {
  let cluster: NatsClusterHandle | undefined;
  let nc: NatsConnection | undefined;

  afterAll(async () => {
    await nc?.close();
    await cluster?.stop();
  });

  it('refuses to create a bucket with a typed UNAVAILABLE, after the bounded tries', async () => {
    cluster = await startNatsCluster(3);
    nc = await connectNats({ servers: cluster.urls[0]!, name: 'setup-test' });
    cluster.servers[1]!.kill();
    cluster.servers[2]!.kill();
    const seen: unknown[] = [];
    const kvm = new Kvm(jetstream(nc, { timeout: 500 }));
    const failure = await setUpJetStream('lonely bucket', () => kvm.create('lonely', { history: 1, replicas: 3, timeout: 500 }), {
      attemptsMax: 3,
      firstPauseMs: 50,
      onRetry: (_what, _attempt, error) => seen.push(error),
    }).catch((error: unknown) => error);
    expect((failure as BiopayError).code).toBe(ErrorCode.Unavailable);
    expect((failure as BiopayError).message).toBe('lonely bucket: JetStream did not answer in 3 tries');
    expect(seen).toHaveLength(2);
    for (const error of seen) expect(isJetStreamSettling(error)).toBe(true);
  });
});
