/** Public surface of the actor runtime. */
export * from './types.js';
export { ActorSystem, type ActorClient, type ActorSystemOptions, type ServeOptions } from './system.js';
export { shardOf, fnv1a32, DEFAULT_SHARD_COUNT } from './shard.js';
export { actorSubject, actorQueueGroup } from './subjects.js';
export { DEFAULT_RESTART_POLICY } from './restart.js';
export { DEFAULT_MAILBOX_CAPACITY, DEFAULT_IDLE_TIMEOUT_MS } from './local-kind.js';
export type { ActorLogger } from './log.js';
export { SHARD_BUCKET, DEFAULT_LEASE_TTL_MS, type LeaseOptions } from './shard-leases.js';
