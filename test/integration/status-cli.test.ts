/** `biopay status` on a network with no node yet, and its flags (the nodes' answers: load-processes.test.ts). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { statusCommand } from '../../cli/status.js';
import { runCaptured } from '../helpers/cli-io.js';
import { startNatsServer, type NatsServerHandle } from '../helpers/nats-server.js';

const run = (args: string[]) => runCaptured(statusCommand, args);

describe('biopay status', () => {
  let nats: NatsServerHandle;

  beforeAll(async () => {
    nats = await startNatsServer({ jetstream: false });
  }, 30_000);

  afterAll(async () => {
    await nats?.stop();
  });

  it('fails (exit 1) when no node answers, at once rather than after its timeout', async () => {
    const startedMs = Date.now();
    const text = await run(['--nats', nats.url, '--timeout-ms', '10000']);
    expect(text.code).toBe(1);
    expect(text.stdout).toBe(`no biopay node answered on ${nats.url}`);
    // nats-server answers "no responders" when nobody serves the subject.
    expect(Date.now() - startedMs).toBeLessThan(5_000);
    const json = await run(['--nats', nats.url, '--json']);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toEqual({ nodes: [], skipped: 0 });
  });

  it('explains itself and refuses a bad timeout as a usage error', async () => {
    const help = await run(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Usage: biopay status[\s\S]*nats micro stats biopay[\s\S]*Exit code 0 when at least one node answered/);
    for (const value of ['0', '60001', '2.5', 'soon']) {
      const bad = await run(['--nats', nats.url, '--timeout-ms', value]);
      expect(bad.code, value).toBe(2);
      expect(bad.stderr).toContain('--timeout-ms must be an integer from 1 to 60000');
    }
  });
});
