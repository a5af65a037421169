/**
 * The one way nodes connect to NATS: named connections that keep reconnecting (a node outlives a
 * server restart or a cluster failover) and never give up while the process runs.
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { BiopayError, ErrorCode } from '../errors.js';

export type { NatsConnection } from '@nats-io/transport-node';

export interface ConnectNatsOptions {
  readonly servers: string | string[];
  /** Shown by the server (connz) to tell nodes apart: e.g. `account-node-1`. */
  readonly name: string;
  /** Time allowed for the first connection. */
  readonly timeoutMs?: number;
}

const RECONNECT_WAIT_MS = 250;
const RECONNECT_JITTER_MS = 100;
const PING_INTERVAL_MS = 10_000;
const CONNECT_TIMEOUT_MS = 5_000;

export async function connectNats(options: ConnectNatsOptions): Promise<NatsConnection> {
  try {
    return await connect({
      servers: options.servers,
      name: options.name,
      timeout: options.timeoutMs ?? CONNECT_TIMEOUT_MS,
      // Reconnect forever: a node is useless without NATS, and an outage should heal on its own.
      reconnect: true,
      maxReconnectAttempts: -1,
      reconnectTimeWait: RECONNECT_WAIT_MS,
      reconnectJitter: RECONNECT_JITTER_MS,
      pingInterval: PING_INTERVAL_MS,
      maxPingOut: 3,
      // Async stack traces cost an Error allocation per request: measurable on the payment path.
      noAsyncTraces: true,
    });
  } catch (error) {
    const servers = Array.isArray(options.servers) ? options.servers.join(',') : options.servers;
    throw new BiopayError(ErrorCode.Unavailable, `cannot connect to NATS at ${servers}`, { cause: error });
  }
}
