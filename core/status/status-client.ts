/**
 * Asks every biopay node on a NATS network for its status (status-service.ts): one STATS request
 * of the micro protocol to the `biopay` service, answers collected until none has come for
 * `stallMs` or `timeoutMs` has passed. The answers are read here one by one rather than through
 * @nats-io/services' client, which ends the whole collection at the first answer that is not
 * JSON: an answer that is not a biopay status (another program under the same name, a broken
 * reply) is counted and skipped, never trusted, and costs the others nothing.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { BiopayError, ErrorCode } from '../errors.js';
import { isNoResponders } from '../transport/nats-errors.js';
import { parseNodeStatus, type NodeStatus } from './node-status.js';
import { STATUS_SERVICE_NAME } from './status-service.js';

export interface CollectOptions {
  /** The longest the collection takes. */
  readonly timeoutMs?: number;
  /** Stop once no answer has come for this long after the first. */
  readonly stallMs?: number;
}

export interface CollectedStatuses {
  /** By node name. */
  readonly nodes: NodeStatus[];
  /** Answers that were not a biopay node's status. */
  readonly skipped: number;
}

export const COLLECT_TIMEOUT_MS_DEFAULT = 2_000;
export const COLLECT_STALL_MS_DEFAULT = 250;
/** Answers read at most: a network of more nodes than this is not what one status call is for. */
export const COLLECTED_NODES_MAX = 1_000;
/** The micro protocol's STATS request to every instance of a service (`$SRV.STATS.<name>`). */
const STATS_SUBJECT = `$SRV.STATS.${STATUS_SERVICE_NAME}`;
/** Longest answer read: a status is well under a kilobyte. */
const ANSWER_BYTES_MAX = 64 * 1024;
const decoder = new TextDecoder();

export async function collectNodeStatuses(nc: NatsConnection, options: CollectOptions = {}): Promise<CollectedStatuses> {
  const nodes: NodeStatus[] = [];
  let skipped = 0;
  try {
    const answers = await nc.requestMany(STATS_SUBJECT, new Uint8Array(0), {
      strategy: 'stall', maxWait: options.timeoutMs ?? COLLECT_TIMEOUT_MS_DEFAULT, stall: options.stallMs ?? COLLECT_STALL_MS_DEFAULT,
      maxMessages: COLLECTED_NODES_MAX,
    });
    for await (const answer of answers) {
      const status = answer.data.length <= ANSWER_BYTES_MAX ? statusOf(answer.data) : undefined;
      if (status) nodes.push(status);
      else skipped++;
    }
  } catch (error) {
    // No node at all: the server answers "no responders" at once.
    if (!isNoResponders(error)) throw new BiopayError(ErrorCode.Unavailable, 'could not ask the network for its nodes\' status', { cause: error });
  }
  nodes.sort((a, b) => a.node.localeCompare(b.node));
  return { nodes, skipped };
}

/** A STATS answer's status: the data of the service's one endpoint. */
function statusOf(data: Uint8Array): NodeStatus | undefined {
  let answer: { endpoints?: unknown };
  try {
    answer = JSON.parse(decoder.decode(data)) as { endpoints?: unknown };
  } catch {
    return undefined;
  }
  const endpoints = typeof answer === 'object' && answer !== null && Array.isArray(answer.endpoints) ? answer.endpoints : [];
  return endpoints.length === 1 ? parseNodeStatus((endpoints[0] as { data?: unknown } | null)?.data) : undefined;
}
