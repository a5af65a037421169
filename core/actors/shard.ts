/**
 * Keys are partitioned into shards by a stable hash, so every node computes the same shard for a
 * key and one shard (hence one key) can have one owner at a time.
 */
import { BiopayError, ErrorCode } from '../errors.js';

export const DEFAULT_SHARD_COUNT = 64;
const SHARD_COUNT_MAX = 4096;
const FNV_OFFSET_BASIS = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** FNV-1a 32-bit over the key's UTF-8 bytes: cheap, stable across processes and languages. */
export function fnv1a32(key: string): number {
  let hash = FNV_OFFSET_BASIS;
  for (const byte of Buffer.from(key, 'utf8')) {
    hash ^= byte;
    hash = Math.imul(hash, FNV_PRIME);
  }
  return hash >>> 0;
}

export function shardOf(key: string, shardCount: number): number {
  return fnv1a32(key) % shardCount;
}

export function assertShardCount(shardCount: number): void {
  if (!Number.isInteger(shardCount) || shardCount < 1 || shardCount > SHARD_COUNT_MAX) {
    throw new BiopayError(ErrorCode.BadRequest, `shardCount must be an integer in 1..${SHARD_COUNT_MAX}`);
  }
}
