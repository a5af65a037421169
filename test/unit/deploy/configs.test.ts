/**
 * The deployment files a cluster operator copies: the NATS configs must be valid for the real
 * nats-server, form one cluster (each routes to the other two), and the trial-cluster script must
 * parse and answer --help.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { findNatsServerBinary } from '../../../core/transport/nats-server-process.js';

const deployDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'deploy');
const configs = [1, 2, 3].map((n) => join(deployDir, 'nats', `node-${n}.conf`));

describe('deploy/nats cluster configs', () => {
  it.each(configs)('%s is accepted by nats-server -t', (config) => {
    const run = spawnSync(findNatsServerBinary(), ['-t', '-c', config], { encoding: 'utf8' });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stderr + run.stdout).toContain('is valid');
  });

  it('routes each server to the cluster ports of the other two', () => {
    const listens = configs.map((config) => /cluster \{[^}]*listen: ([\d.:]+)/s.exec(readFileSync(config, 'utf8'))![1]!);
    configs.forEach((config, index) => {
      const routes = [...readFileSync(config, 'utf8').matchAll(/nats-route:\/\/([\d.:]+)/g)].map((match) => match[1]);
      expect(routes.sort()).toEqual(listens.filter((_, other) => other !== index).sort());
    });
  });
});

describe('deploy/local-cluster.sh', () => {
  it('is valid bash and answers --help with exit 0', () => {
    const script = join(deployDir, 'local-cluster.sh');
    expect(spawnSync('bash', ['-n', script]).status).toBe(0);
    const help = spawnSync('bash', [script, '--help'], { encoding: 'utf8' });
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('Usage: deploy/local-cluster.sh');
    expect(spawnSync('bash', [script, '--bogus'], { encoding: 'utf8' }).status).toBe(2);
  });
});
