/**
 * Real nats-server instances for tests: one server, or a 3-node JetStream cluster, on free ports.
 * Every process is stopped by the returned handles (and killed if the test process exits first).
 */
import { freePort, startNatsServerProcess, type NatsServerProcess } from '../../core/transport/nats-server-process.js';

export interface NatsServerHandle {
  url: string;
  port: number;
  stop(): Promise<void>;
  /** SIGKILL, for failover tests. */
  kill(): void;
}

export interface NatsClusterHandle {
  servers: NatsServerHandle[];
  urls: string[];
  stop(): Promise<void>;
}

export async function startNatsServer(options: { jetstream?: boolean } = {}): Promise<NatsServerHandle> {
  return asHandle(await startNatsServerProcess({ jetstream: options.jetstream ?? false }));
}

/** Cluster starts tried, each on fresh ports, when a port chosen free was taken before the server bound it. */
const CLUSTER_START_ATTEMPTS_MAX = 3;

/** A cluster with JetStream; resolves once every server is healthy (JetStream meta leader elected). */
export async function startNatsCluster(size = 3): Promise<NatsClusterHandle> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startClusterOnce(size);
    } catch (error) {
      // The ports are fixed per attempt (the servers name each other's routes): a race for one
      // of them with a process started meanwhile is retried on new ports, anything else is not.
      if (attempt >= CLUSTER_START_ATTEMPTS_MAX || !/address already in use/i.test(String((error as Error)?.message))) throw error;
    }
  }
}

async function startClusterOnce(size: number): Promise<NatsClusterHandle> {
  const clientPorts = await distinctFreePorts(size);
  const routePorts = await distinctFreePorts(size, clientPorts);
  const name = `biopay-test-${process.pid}-${clientPorts[0]}`;
  const started = await Promise.allSettled(
    clientPorts.map((port, i) =>
      startNatsServerProcess({
        port,
        jetstream: true,
        serverName: `n${i + 1}`,
        cluster: {
          name,
          port: routePorts[i]!,
          routes: routePorts.filter((_, j) => j !== i).map((p) => `nats://127.0.0.1:${p}`),
        },
      }),
    ),
  );
  const servers = started.flatMap((r) => (r.status === 'fulfilled' ? [asHandle(r.value)] : []));
  const stop = async () => {
    await Promise.all(servers.map((s) => s.stop()));
  };
  const failure = started.find((r) => r.status === 'rejected');
  if (failure) {
    await stop();
    throw failure.reason;
  }
  return { servers, urls: servers.map((s) => s.url), stop };
}

function asHandle(server: NatsServerProcess): NatsServerHandle {
  return { url: server.url, port: server.port, stop: () => server.stop(), kill: () => server.kill() };
}

async function distinctFreePorts(count: number, taken: readonly number[] = []): Promise<number[]> {
  const ports: number[] = [];
  while (ports.length < count) {
    const port = await freePort();
    if (!ports.includes(port) && !taken.includes(port)) ports.push(port);
  }
  return ports;
}
