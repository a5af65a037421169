/** NATS names used by the actor transport; every node derives them the same way. */
import { BiopayError, ErrorCode } from '../errors.js';

const SUBJECT_PREFIX = 'biopay.actor';
const KIND_PATTERN = /^[a-z][a-z0-9_-]{0,63}$/;

export function actorSubject(kind: string, shard: number): string {
  return `${SUBJECT_PREFIX}.${kind}.${shard}`;
}

/** Every shard of a kind (one subscription instead of shardCount). */
export function actorWildcardSubject(kind: string): string {
  return `${SUBJECT_PREFIX}.${kind}.*`;
}

/** Nodes serving a kind share one queue group, so each message reaches one of them. */
export function actorQueueGroup(kind: string): string {
  return `${SUBJECT_PREFIX}.${kind}`;
}

/** A kind is a single subject token: lower-case letters, digits, `_` and `-`. */
export function assertKind(kind: string): void {
  if (!KIND_PATTERN.test(kind)) {
    throw new BiopayError(ErrorCode.BadRequest, `invalid actor kind "${kind}": expected ${KIND_PATTERN.source}`);
  }
}
