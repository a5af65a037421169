/**
 * Actor runtime benchmark. Workload: a counter actor answering `deposit` (DepositRequest -> Account)
 * spread over `keys` keys, with `window` asks outstanding at a time.
 *   - local asks per second: caller and actors in one ActorSystem (no serialization);
 *   - remote asks per second: caller and host are two ActorSystems with their own NATS connections
 *     to a nats-server child, every ask a protobuf request/reply over NATS;
 *   - remote sequential round trip: one ask at a time, median latency;
 *   - baseline: raw NATS request/reply of the same bytes and window, no actor runtime;
 *   - durable publishes (the business step's command and record): a 200-byte message into a
 *     JetStream stream, waiting for its acknowledgement, through the request mux
 *     (core/transport/stream-publish.ts) and through nats.js's `js.publish`, per second and in
 *     CPU of this process per publish (both connections, one process).
 * Each figure is the median of `runs`.
 */
import { availableParallelism, cpus } from 'node:os';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { ActorSystem, type Actor } from '../core/actors/index.js';
import { connectNats, type NatsConnection } from '../core/transport/nats.js';
import { startNatsServerProcess } from '../core/transport/nats-server-process.js';
import { publishToStream } from '../core/transport/stream-publish.js';
import { Account, DepositRequest } from '../proto/gen/biopay/v1/ledger.js';

const BenchProtocol = { deposit: { request: DepositRequest, response: Account } } as const;
const KIND = 'benchacct';
const keys = 256;
const window = 512;
const localAsks = 200_000;
const remoteAsks = 20_000;
const sequentialAsks = 2_000;
const streamPublishes = 20_000;
/** In flight at once: a busy terminal node's business steps. */
const streamWindow = 64;
const STREAM = 'BENCH_PUBLISH';

class Counter implements Actor {
  private balanceMinor = 0n;
  constructor(private readonly key: string) {}
  async receive(_method: string, message: unknown): Promise<unknown> {
    this.balanceMinor += (message as DepositRequest).amountMinor;
    return Account.fromPartial({ accountId: this.key, balanceMinor: this.balanceMinor });
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

function hostSystem(nats?: NatsConnection): ActorSystem {
  const system = new ActorSystem({ nodeId: 'bench-host', nats, logger: () => undefined });
  system.register(KIND, BenchProtocol, (key) => new Counter(key), { mailboxCapacity: window });
  return system;
}

const request: DepositRequest = { accountId: '', amountMinor: 1n, idempotencyKey: '' };

/** Operations per second with `window` of them in flight. */
async function pipelinedRate(total: number, operation: (i: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  const lane = async () => {
    while (next < total) await operation(next++);
  };
  const started = process.hrtime.bigint();
  await Promise.all(Array.from({ length: window }, lane));
  return total / (Number(process.hrtime.bigint() - started) / 1e9);
}

function askRate(system: ActorSystem, total: number): Promise<number> {
  const client = system.client(KIND, BenchProtocol);
  return pipelinedRate(total, (i) => client.ask(`acc_${i % keys}`, 'deposit', request, { timeoutMs: 30_000 }));
}

/** The same request/reply on bare NATS: what the runtime's overhead is measured against. */
async function rawNatsRate(host: NatsConnection, caller: NatsConnection, total: number): Promise<number> {
  const subscription = host.subscribe('bench.raw.*', { queue: 'bench', callback: (_error, msg) => void msg.respond(msg.data) });
  await host.flush();
  const data = DepositRequest.encode(request).finish();
  const rate = await pipelinedRate(total, () => caller.request('bench.raw.1', data, { timeout: 30_000 }));
  await subscription.drain();
  return rate;
}

/** Durable publishes per second and CPU µs of this process per publish, `streamWindow` in flight. */
async function streamPublishRate(nc: NatsConnection, how: 'mux' | 'nats.js', run: number): Promise<{ perSecond: number; cpuUs: number }> {
  const data = new Uint8Array(200);
  const js = jetstream(nc);
  let next = 0;
  const publish = (i: number) => (how === 'mux'
    ? publishToStream(nc, `bench.stream.${i % keys}`, data, { msgId: `${how}-${run}-${i}`, timeoutMs: 30_000 })
    : js.publish(`bench.stream.${i % keys}`, data, { msgID: `${how}-${run}-${i}`, timeout: 30_000 }));
  const lane = async () => {
    while (next < streamPublishes) await publish(next++);
  };
  const cpu = process.cpuUsage();
  const started = process.hrtime.bigint();
  await Promise.all(Array.from({ length: streamWindow }, lane));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const used = process.cpuUsage(cpu);
  return { perSecond: streamPublishes / seconds, cpuUs: (used.user + used.system) / streamPublishes };
}

async function sequentialLatencyUs(system: ActorSystem): Promise<number> {
  const client = system.client(KIND, BenchProtocol);
  const latencies: number[] = [];
  for (let i = 0; i < sequentialAsks; i++) {
    const started = process.hrtime.bigint();
    await client.ask(`acc_${i % keys}`, 'deposit', request);
    latencies.push(Number(process.hrtime.bigint() - started) / 1e3);
  }
  return median(latencies);
}

export async function runActorBench(options: { json: boolean; runs: number }): Promise<Record<string, unknown>> {
  const runs = Math.max(1, Math.floor(options.runs));
  const local: number[] = [];
  for (let run = 0; run < runs; run++) {
    const system = hostSystem();
    local.push(await askRate(system, localAsks));
    await system.drain();
  }
  const server = await startNatsServerProcess({ jetstream: true });
  const hostConnection = await connectNats({ servers: server.url, name: 'bench-host' });
  const callerConnection = await connectNats({ servers: server.url, name: 'bench-caller' });
  const remote: number[] = [];
  const raw: number[] = [];
  const roundTripUs: number[] = [];
  const streamMux: Array<{ perSecond: number; cpuUs: number }> = [];
  const streamNatsJs: Array<{ perSecond: number; cpuUs: number }> = [];
  try {
    await (await jetstreamManager(callerConnection)).streams.add({ name: STREAM, subjects: ['bench.stream.>'], max_msgs: streamPublishes });
    for (let run = 0; run < runs; run++) {
      const host = hostSystem(hostConnection);
      await host.serve(KIND);
      const caller = new ActorSystem({ nodeId: 'bench-caller', nats: callerConnection, logger: () => undefined });
      remote.push(await askRate(caller, remoteAsks));
      raw.push(await rawNatsRate(hostConnection, callerConnection, remoteAsks));
      roundTripUs.push(await sequentialLatencyUs(caller));
      await host.drain();
      // Interleaved, so that a drift of the machine falls on both.
      streamMux.push(await streamPublishRate(callerConnection, 'mux', run));
      streamNatsJs.push(await streamPublishRate(callerConnection, 'nats.js', run));
    }
  } finally {
    await callerConnection.close();
    await hostConnection.close();
    await server.stop();
  }
  const result = {
    benchmark: 'actors',
    workload: `counter actor, ${keys} keys, ${window} asks in flight; local ${localAsks} asks, remote ${remoteAsks} asks over one nats-server (2 connections, one process); sequential ${sequentialAsks} asks; `
      + `${streamPublishes} durable publishes of 200 bytes into a file stream, ${streamWindow} in flight, each with a message id`,
    machine: `${cpus()[0]?.model ?? 'unknown cpu'} x ${availableParallelism()}, node ${process.version}`,
    runs,
    localAsksPerSecond: Math.round(median(local)),
    remoteAsksPerSecond: Math.round(median(remote)),
    remoteRoundTripUsMedian: Math.round(median(roundTripUs)),
    rawNatsRequestsPerSecond: Math.round(median(raw)),
    streamPublishesPerSecond: Math.round(median(streamMux.map((result) => result.perSecond))),
    streamPublishCpuUs: Math.round(median(streamMux.map((result) => result.cpuUs)) * 10) / 10,
    natsJsStreamPublishesPerSecond: Math.round(median(streamNatsJs.map((result) => result.perSecond))),
    natsJsStreamPublishCpuUs: Math.round(median(streamNatsJs.map((result) => result.cpuUs)) * 10) / 10,
  };
  if (!options.json) {
    const lines = Object.entries(result).map(([key, value]) => `${key.padEnd(30)} ${String(value)}`);
    process.stdout.write(`${lines.join('\n')}\n`);
  }
  return result;
}
