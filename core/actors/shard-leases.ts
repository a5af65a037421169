/**
 * Shard ownership leases in NATS KV, so that one shard of a kind has one owner at a time.
 *
 * Bucket `biopay-shards` (history 1, TTL = lease time): key `<kind>.<shard>` holds the owner's node
 * id; `<kind>.nodes.<node>` is each live node's heartbeat. Every tick a node renews its leases with
 * a revision check (a failed check means the lease was lost), heartbeats, and moves toward its fair
 * share ceil(shards / live nodes): it takes free shards with `create` (fails if owned) and releases
 * extras (stop serving first, then delete with a revision check). A dead node's keys expire by TTL.
 * A node that cannot renew for most of a TTL stops serving on its own, before its lease can expire
 * on the server and be taken by another node.
 */
import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { asBiopayError, BiopayError, ErrorCode, isBiopayError } from '../errors.js';
import { setUpJetStream, type JetStreamSetupRetry } from '../transport/jetstream-setup.js';
import { streamReplicas } from '../transport/replicas.js';
import type { ActorLogger } from './log.js';

export const SHARD_BUCKET = 'biopay-shards';
export const DEFAULT_LEASE_TTL_MS = 6_000;
const LEASE_TTL_MIN_MS = 300;
/** Share of the TTL after the last good renewal at which a node stops serving a shard by itself. */
const FENCE_FRACTION = 0.7;

export interface LeaseOptions {
  /** Lease lifetime without renewal (the bucket's TTL; fixed when the bucket is created). */
  readonly ttlMs?: number;
  /** KV replicas (3 in a 3-node cluster, so leases survive a server). */
  readonly replicas?: number;
}

export interface LeaseHooks {
  /** Start serving a shard just acquired. */
  acquired(shard: number): Promise<void>;
  /** Stop serving a shard and quiesce its actors (before a release, or after a loss). */
  relinquished(shard: number): Promise<void>;
}

interface Lease {
  revision: number;
  renewedAtMs: number;
}

export async function openShardBucket(
  nc: NatsConnection, options: LeaseOptions, onRetry?: JetStreamSetupRetry,
): Promise<{ kv: KV; ttlMs: number }> {
  const ttlMs = Math.max(LEASE_TTL_MIN_MS, options.ttlMs ?? DEFAULT_LEASE_TTL_MS);
  const kvm = new Kvm(nc);
  try {
    return await setUpJetStream(`shard leases (bucket ${SHARD_BUCKET})`, async () => {
      let kv: KV;
      try {
        kv = await kvm.create(SHARD_BUCKET, { history: 1, ttl: ttlMs, replicas: options.replicas ?? streamReplicas() });
      } catch {
        // Created earlier by another node (maybe with other limits): its settings win.
        kv = await kvm.open(SHARD_BUCKET);
      }
      const status = await kv.status();
      return { kv, ttlMs: status.ttl > 0 ? status.ttl : ttlMs };
    }, { onRetry });
  } catch (error) {
    if (isBiopayError(error, ErrorCode.Unavailable)) throw error;
    throw new BiopayError(ErrorCode.Unavailable, `shard leases need JetStream (bucket ${SHARD_BUCKET})`, { cause: error });
  }
}

export class ShardLeases {
  private readonly leases = new Map<number, Lease>();
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(
    private readonly kv: KV,
    private readonly kind: string,
    private readonly nodeId: string,
    private readonly shardCount: number,
    private readonly ttlMs: number,
    private readonly hooks: LeaseHooks,
    private readonly log: ActorLogger,
  ) {}

  owns(shard: number): boolean {
    return this.leases.has(shard);
  }

  owned(): number[] {
    return [...this.leases.keys()].sort((a, b) => a - b);
  }

  /** Runs the first tick (so the node owns its share when this resolves), then ticks periodically. */
  async start(): Promise<void> {
    await this.tick();
    this.schedule();
  }

  /** Stops ticking (waits for a tick in progress); the leases stay held until releaseAll(). */
  async halt(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.ticking;
  }

  /** Releases every lease and the heartbeat; call once nothing is served or processed any more. */
  async releaseAll(): Promise<void> {
    await Promise.all(this.owned().map((shard) => this.release(shard)));
    await this.kv.delete(this.memberKey()).catch(() => undefined);
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.ticking = this.tick().finally(() => this.schedule());
    }, Math.floor(this.ttlMs / 3));
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    try {
      await this.renewAll();
      await this.kv.put(this.memberKey(), this.nodeId);
      await this.rebalance();
    } catch (error) {
      this.log('warn', 'shards.tick_failed', { kind: this.kind, node: this.nodeId, message: asBiopayError(error).message });
    }
  }

  private async renewAll(): Promise<void> {
    await Promise.all(this.owned().map((shard) => this.renew(shard)));
  }

  private async renew(shard: number): Promise<void> {
    const lease = this.leases.get(shard)!;
    const sentAtMs = Date.now();
    try {
      lease.revision = await this.kv.update(this.shardKey(shard), this.nodeId, lease.revision);
      lease.renewedAtMs = sentAtMs;
    } catch (error) {
      const conflict = isConflict(error);
      if (conflict || Date.now() - lease.renewedAtMs > this.ttlMs * FENCE_FRACTION) {
        this.log('warn', 'shards.lease_lost', { kind: this.kind, node: this.nodeId, shard, conflict });
        this.leases.delete(shard);
        await this.hooks.relinquished(shard);
      }
    }
  }

  private async rebalance(): Promise<void> {
    const members = await this.countMembers();
    const fairShare = Math.ceil(this.shardCount / Math.max(1, members));
    const extra = this.owned().slice(fairShare);
    for (const shard of extra) {
      // Not ours for routing from now on; released only once its actors here are quiet.
      const revision = this.leases.get(shard)!.revision;
      this.leases.delete(shard);
      await this.hooks.relinquished(shard);
      await this.release(shard, revision);
    }
    if (this.leases.size >= fairShare) return;
    const taken = new Set(await this.listShardKeys());
    for (const shard of this.candidateOrder()) {
      if (this.stopped || this.leases.size >= fairShare) break;
      if (taken.has(shard) || this.leases.has(shard)) continue;
      await this.acquire(shard);
    }
  }

  private async acquire(shard: number): Promise<void> {
    const sentAtMs = Date.now();
    let revision: number;
    try {
      revision = await this.kv.create(this.shardKey(shard), this.nodeId);
    } catch (error) {
      if (!isConflict(error)) throw error;
      return; // Another node was faster.
    }
    this.leases.set(shard, { revision, renewedAtMs: sentAtMs });
    try {
      await this.hooks.acquired(shard);
    } catch (error) {
      this.leases.delete(shard);
      await this.release(shard, revision);
      throw error;
    }
    this.log('info', 'shards.acquired', { kind: this.kind, node: this.nodeId, shard });
  }

  private async release(shard: number, revision = this.leases.get(shard)?.revision): Promise<void> {
    this.leases.delete(shard);
    if (revision === undefined) return;
    try {
      await this.kv.delete(this.shardKey(shard), { previousSeq: revision });
      this.log('info', 'shards.released', { kind: this.kind, node: this.nodeId, shard });
    } catch {
      // Already taken over or expired: nothing of ours left to release.
    }
  }

  private async countMembers(): Promise<number> {
    let count = 0;
    for await (const _key of await this.kv.keys(`${this.kind}.nodes.*`)) count++;
    return count;
  }

  private async listShardKeys(): Promise<number[]> {
    const shards: number[] = [];
    for await (const key of await this.kv.keys(`${this.kind}.*`)) {
      const shard = Number(key.slice(this.kind.length + 1));
      if (Number.isInteger(shard)) shards.push(shard);
    }
    return shards;
  }

  /** Free shards are tried from a node-specific offset, so nodes starting together contend less. */
  private candidateOrder(): number[] {
    let offset = 0;
    for (const char of this.nodeId) offset = (offset * 31 + char.charCodeAt(0)) % this.shardCount;
    return Array.from({ length: this.shardCount }, (_, i) => (offset + i) % this.shardCount);
  }

  private shardKey(shard: number): string {
    return `${this.kind}.${shard}`;
  }

  private memberKey(): string {
    return `${this.kind}.nodes.${this.nodeId.replace(/[^-\w]/g, '_')}`;
  }
}

function isConflict(error: unknown): boolean {
  return (
    error instanceof JetStreamApiError &&
    (error.code === JetStreamApiCodes.StreamWrongLastSequence || error.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown)
  );
}
