/**
 * Galleries split across association nodes, searched scatter-gather.
 *
 * Design (the smallest one the actor runtime already supports, with no change to it):
 * - A credential belongs to partition fnv1a32(credential id) mod P. A node started as partition p
 *   of P keeps only the templates of partition p (it still reads every enrollment record, to know
 *   which account each credential belongs to and what modalities an account has: metadata only).
 * - Partition p of P is its own actor kind, `association-part-<p>-of-<P>`. Nodes of one partition
 *   share that kind's queue group, so an ask reaches exactly one member of the partition, and a
 *   partition with several members is load-balanced and survives one of them leaving. P is in the
 *   name, so nodes started with different P never answer for each other: the missing partitions
 *   show up as errors instead of half a gallery.
 * - The public `association` kind is served by every node. The node that takes an identify asks
 *   every partition kind (its own partition is local: the runtime routes a registered kind in
 *   process, so P = 1 costs no network hop and behaves as before) with a deadline just short of the
 *   caller's (the runtime hands it to receive), and merges the candidates. A partition that fails or
 *   misses it fails the identify with UNAVAILABLE: a missing partition might have held the match,
 *   so the answer is never "no match".
 * - Enrollment: the dedupe search (1:N at enrollment) goes to every partition the same way; the
 *   write goes to the owning partition only (keyed by credential id, so one credential's enroll and
 *   delete queue in one actor), which stores the template and appends it to the enrollment stream.
 */
import { fnv1a32 } from '../actors/index.js';
import type { Protocol } from '../actors/types.js';
import {
  DeleteEnrollmentRequest, DeleteEnrollmentResponse, EnrollRequest, EnrollResponse, GallerySearchRequest,
  GallerySearchResponse,
} from '../../proto/gen/biopay/v1/biometrics.js';
import { BiopayError, ErrorCode } from '../errors.js';

export interface PartitionSpec {
  /** This node's partition, 0-based. */
  readonly index: number;
  readonly count: number;
}

export const SINGLE_PARTITION: PartitionSpec = { index: 0, count: 1 };
/** More partitions than this would make every identify a fan-out too wide to be worth it. */
export const PARTITIONS_MAX = 256;

/** Methods of one partition kind, asked by association nodes only. */
export const GalleryPartitionProtocol = {
  search: { request: GallerySearchRequest, response: GallerySearchResponse },
  enroll: { request: EnrollRequest, response: EnrollResponse },
  deleteEnrollment: { request: DeleteEnrollmentRequest, response: DeleteEnrollmentResponse },
} as const satisfies Protocol;

export function partitionKind(index: number, count: number): string {
  return `association-part-${index}-of-${count}`;
}

export function partitionOf(credentialId: string, count: number): number {
  return fnv1a32(credentialId) % count;
}

export function checkPartition(spec: PartitionSpec): PartitionSpec {
  const { index, count } = spec;
  if (!Number.isInteger(count) || count < 1 || count > PARTITIONS_MAX || !Number.isInteger(index) || index < 0 || index >= count) {
    throw new BiopayError(ErrorCode.BadRequest, `partition must be p/P with 1 <= P <= ${PARTITIONS_MAX} and 0 <= p < P`);
  }
  return spec;
}

/** "p/P", e.g. "0/2" (the first of two partitions). */
export function parsePartition(text: string): PartitionSpec {
  const match = /^(\d{1,3})\/(\d{1,3})$/.exec(text.trim());
  if (!match) throw new BiopayError(ErrorCode.BadRequest, `partition "${text}" is not of the form p/P (e.g. 0/2)`);
  return checkPartition({ index: Number(match[1]), count: Number(match[2]) });
}
