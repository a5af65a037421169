/** A real gateway (real gRPC server on a free port) over the fake kinds, and a real client. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { silentLogger } from '../../../core/log.js';
import { createGatewayClient, type GatewayClient } from '../../../core/grpc/index.js';
import { startGateway, type Gateway } from '../../../nodes/gateway/index.js';
import type { CommandIo } from '../../../cli/io.js';
import { startFakeNetwork, type FakeState } from './fakes.js';

const FIXTURES = join(fileURLToPath(new URL('.', import.meta.url)), '../../fixtures/fvc2002/DB1_B');

export function templatePath(name: string): string {
  return join(FIXTURES, `${name}.iso`);
}

export function template(name: string): Buffer {
  return readFileSync(templatePath(name));
}

export interface Harness {
  readonly state: FakeState;
  readonly gateway: Gateway;
  readonly address: string;
  readonly client: GatewayClient;
  readonly system: ReturnType<typeof startFakeNetwork>['system'];
  stop(): Promise<void>;
}

export async function startHarness(): Promise<Harness> {
  const { system, state } = startFakeNetwork();
  const gateway = await startGateway({ system, port: 0, log: silentLogger(), shutdownTimeoutMs: 1_000 });
  const address = `127.0.0.1:${gateway.port}`;
  const client = createGatewayClient(address);
  return {
    state, gateway, address, client, system,
    async stop() {
      client.close();
      await gateway.stop();
      await system.drain();
    },
  };
}

/** Captures a command's output. */
export function captureIo(): CommandIo & { out: string[]; err: string[]; json(): any } {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out, err,
    stdout: (text) => out.push(text),
    stderr: (text) => err.push(text),
    json() {
      if (out.length !== 1) throw new Error(`expected one stdout write, got ${out.length}: ${out.join('|')}`);
      return JSON.parse(out[0]!);
    },
  };
}
