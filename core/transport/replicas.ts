/**
 * How many copies JetStream keeps of biopay's streams and buckets (enrollments, business commands
 * and records, shard leases). One on a single server; three on a three-server cluster, so losing a
 * server loses neither enrollments nor the record of a gate that opened. Read once from
 * BIOPAY_STREAM_REPLICAS and validated: a typo must stop the node at start, not halve durability.
 * Applies when a stream is first created; an existing stream keeps its own setting.
 */
import { BiopayError, ErrorCode } from '../errors.js';

/** JetStream allows at most 5 replicas. */
const REPLICAS_MAX = 5;

export function streamReplicas(environment: NodeJS.ProcessEnv = process.env): number {
  const text = environment['BIOPAY_STREAM_REPLICAS'];
  if (text === undefined || text === '') return 1;
  const replicas = Number(text);
  if (!Number.isInteger(replicas) || replicas < 1 || replicas > REPLICAS_MAX) {
    throw new BiopayError(ErrorCode.BadRequest, `BIOPAY_STREAM_REPLICAS must be an integer from 1 to ${REPLICAS_MAX}, not "${text}"`);
  }
  return replicas;
}
