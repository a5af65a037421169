/**
 * The actor system of one node: registers local kinds, serves them over NATS, and hands out clients
 * that reach a kind locally when it is registered here and over NATS otherwise.
 */
import { randomUUID } from 'node:crypto';
import type { NatsConnection } from '@nats-io/transport-node';
import { BiopayError, ErrorCode } from '../errors.js';
import { LocalKind } from './local-kind.js';
import { stderrLogger, type ActorLogger } from './log.js';
import { KindServer } from './remote-server.js';
import { RemoteKindClient } from './remote-client.js';
import { assertShardCount, DEFAULT_SHARD_COUNT, shardOf } from './shard.js';
import { openShardBucket, ShardLeases, type LeaseOptions } from './shard-leases.js';
import { actorSubject, actorWildcardSubject, assertKind } from './subjects.js';
import type { ActorFactory, ActorKindOptions, AskOptions, Protocol, RequestOf, ResponseOf } from './types.js';

export interface ActorSystemOptions {
  /** Names this node in logs and shard leases; random when omitted. */
  readonly nodeId?: string;
  /** Needed to serve kinds and to reach kinds that are not registered here. */
  readonly nats?: NatsConnection;
  /** Must be the same on every node. */
  readonly shardCount?: number;
  readonly defaultAskTimeoutMs?: number;
  /** Time drain() allows queued and in-flight messages before failing them with STOPPED. */
  readonly drainTimeoutMs?: number;
  readonly logger?: ActorLogger;
}

export interface ServeOptions {
  /** Shards this node answers for; every shard (one wildcard subscription) when omitted. */
  readonly shards?: readonly number[];
  /**
   * 'lease': serve only the shards this node holds a lease on (NATS KV bucket biopay-shards), taking
   * a fair share and rebalancing as nodes come and go, so one shard has one owner at a time.
   */
  readonly ownership?: 'static' | 'lease';
  readonly lease?: LeaseOptions;
}

export interface ActorClient<P extends Protocol> {
  ask<M extends keyof P & string>(key: string, method: M, message: RequestOf<P, M>, options?: AskOptions): Promise<ResponseOf<P, M>>;
  /** Fire and forget: failures are logged (never with payload contents), not thrown. */
  tell<M extends keyof P & string>(key: string, method: M, message: RequestOf<P, M>): void;
}

const DEFAULT_ASK_TIMEOUT_MS = 5_000;
const DEFAULT_DRAIN_TIMEOUT_MS = 30_000;
const ASK_TIMEOUT_MAX_MS = 600_000;

export class ActorSystem {
  readonly nodeId: string;
  readonly shardCount: number;
  readonly defaultAskTimeoutMs: number;
  private readonly nats: NatsConnection | undefined;
  private readonly drainTimeoutMs: number;
  private readonly log: ActorLogger;
  private readonly kinds = new Map<string, LocalKind>();
  private readonly servers = new Map<string, KindServer>();
  private readonly leases = new Map<string, ShardLeases>();
  private draining: Promise<void> | undefined;

  constructor(options: ActorSystemOptions = {}) {
    this.nodeId = options.nodeId ?? `node-${randomUUID().slice(0, 8)}`;
    this.nats = options.nats;
    this.shardCount = options.shardCount ?? DEFAULT_SHARD_COUNT;
    assertShardCount(this.shardCount);
    this.defaultAskTimeoutMs = options.defaultAskTimeoutMs ?? DEFAULT_ASK_TIMEOUT_MS;
    assertAskTimeout(this.defaultAskTimeoutMs);
    this.drainTimeoutMs = options.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS;
    this.log = options.logger ?? stderrLogger;
  }

  register<P extends Protocol>(kind: string, protocol: P, factory: ActorFactory, options?: ActorKindOptions): void {
    assertKind(kind);
    if (this.draining) throw new BiopayError(ErrorCode.Stopped, `cannot register ${kind}: the system is draining`);
    if (this.kinds.has(kind)) throw new BiopayError(ErrorCode.BadRequest, `actor kind ${kind} is already registered`);
    this.kinds.set(kind, new LocalKind(kind, protocol, factory, options, this.log));
  }

  /** Makes a registered kind reachable over NATS (queue group per kind, subjects per shard). */
  async serve(kind: string, options: ServeOptions = {}): Promise<void> {
    const server = this.kindServer(kind);
    if (options.ownership === 'lease') return this.serveLeased(kind, server, options.lease ?? {});
    await server.add(this.subjectsFor(kind, options.shards));
  }

  /** Shards of a kind this node serves under a lease (empty without lease ownership). */
  ownedShards(kind: string): number[] {
    return this.leases.get(kind)?.owned() ?? [];
  }

  /** Stops serving some shards of a kind over NATS (in-flight messages still finish). */
  async unserve(kind: string, shards: readonly number[]): Promise<void> {
    await this.servers.get(kind)?.remove(shards.map((shard) => actorSubject(kind, shard)));
  }

  client<P extends Protocol>(kind: string, protocol: P): ActorClient<P> {
    assertKind(kind);
    let remote: RemoteKindClient | undefined;
    const route = (key: string): LocalKind | RemoteKindClient => {
      const local = this.kinds.get(kind);
      const leases = this.leases.get(kind);
      // Under leases the local instance is used only for owned shards: elsewhere it lives on the owner.
      if (local && (!leases || !this.nats || leases.owns(shardOf(key, this.shardCount)))) return local;
      if (!this.nats) throw new BiopayError(ErrorCode.Unavailable, `actor kind ${kind} is not local and NATS is not configured`);
      remote ??= new RemoteKindClient(this.nats, kind, protocol, this.shardCount, this.log);
      return remote;
    };
    return {
      ask: (key, method, message, options) => {
        try {
          const timeoutMs = options?.timeoutMs ?? this.defaultAskTimeoutMs;
          assertAskTimeout(timeoutMs);
          if (!Object.hasOwn(protocol, method)) throw new BiopayError(ErrorCode.BadRequest, `actor kind ${kind} has no method "${method}"`);
          return route(key).ask(key, method, message, timeoutMs) as Promise<ResponseOf<typeof protocol, typeof method>>;
        } catch (error) {
          return Promise.reject(error);
        }
      },
      tell: (key, method, message) => {
        try {
          route(key).tell(key, method, message);
        } catch (error) {
          this.log('warn', 'actor.tell_failed', { kind, key, method, code: (error as BiopayError).code });
        }
      },
    };
  }

  /** Live instances of a local kind (tests, metrics). */
  liveActors(kind: string): number {
    return this.kinds.get(kind)?.size ?? 0;
  }

  /**
   * Stops taking messages (NATS subscriptions drained, local sends refused with STOPPED), finishes
   * queued and in-flight ones, stops every actor. Idempotent. Does not close the NATS connection.
   */
  drain(): Promise<void> {
    this.draining ??= this.drainOnce();
    return this.draining;
  }

  private async drainOnce(): Promise<void> {
    const deadlineMs = Date.now() + this.drainTimeoutMs;
    await Promise.all([...this.leases.values()].map((leases) => leases.halt()));
    await Promise.all([...this.servers.values()].map((server) => server.drain()));
    await Promise.all([...this.kinds.values()].map((kind) => kind.drain(deadlineMs)));
    // Leases go last: another node may take a shard only once its work here is finished.
    await Promise.all([...this.leases.values()].map((leases) => leases.releaseAll()));
  }

  private async serveLeased(kind: string, server: KindServer, options: LeaseOptions): Promise<void> {
    if (this.leases.has(kind)) return;
    const local = this.kinds.get(kind)!;
    const { kv, ttlMs } = await openShardBucket(this.nats!, options, (what, attempt, error) =>
      this.log('warn', 'jetstream.setup_retry', { kind, what, attempt, message: String(error) }));
    const leases = new ShardLeases(kv, kind, this.nodeId, this.shardCount, ttlMs, {
      acquired: (shard) => server.add([actorSubject(kind, shard)]),
      relinquished: async (shard) => {
        await server.remove([actorSubject(kind, shard)]);
        await local.quiesce((key) => shardOf(key, this.shardCount) === shard);
      },
    }, this.log);
    this.leases.set(kind, leases);
    await leases.start();
  }

  private kindServer(kind: string): KindServer {
    const local = this.kinds.get(kind);
    if (!local) throw new BiopayError(ErrorCode.BadRequest, `cannot serve ${kind}: not registered`);
    if (!this.nats) throw new BiopayError(ErrorCode.Unavailable, `cannot serve ${kind}: NATS is not configured`);
    if (this.draining) throw new BiopayError(ErrorCode.Stopped, `cannot serve ${kind}: the system is draining`);
    let server = this.servers.get(kind);
    if (!server) {
      server = new KindServer(this.nats, local, this.shardCount, this.log);
      this.servers.set(kind, server);
    }
    return server;
  }

  private subjectsFor(kind: string, shards: readonly number[] | undefined): string[] {
    if (!shards) return [actorWildcardSubject(kind)];
    for (const shard of shards) {
      if (!Number.isInteger(shard) || shard < 0 || shard >= this.shardCount) {
        throw new BiopayError(ErrorCode.BadRequest, `shard ${shard} out of range 0..${this.shardCount - 1}`);
      }
    }
    return shards.map((shard) => actorSubject(kind, shard));
  }
}

function assertAskTimeout(timeoutMs: number): void {
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > ASK_TIMEOUT_MAX_MS) {
    throw new BiopayError(ErrorCode.BadRequest, `ask timeout must be an integer in 1..${ASK_TIMEOUT_MAX_MS} ms`);
  }
}
