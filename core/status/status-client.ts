/**
 * Asks every biopay node on a NATS network for its status (status-service.ts): one STATS request
 * to the `biopay` micro service, answers collected until none has come for `stallMs` or
 * `timeoutMs` has passed. Replies that are not a biopay status are counted and skipped.
 */
import { Svcm, type ServiceStats } from '@nats-io/services';
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

export async function collectNodeStatuses(nc: NatsConnection, options: CollectOptions = {}): Promise<CollectedStatuses> {
  const client = new Svcm(nc as unknown as ConstructorParameters<typeof Svcm>[0]).client({
    strategy: 'stall', maxWait: options.timeoutMs ?? COLLECT_TIMEOUT_MS_DEFAULT, stall: options.stallMs ?? COLLECT_STALL_MS_DEFAULT,
    maxMessages: COLLECTED_NODES_MAX,
  });
  const nodes: NodeStatus[] = [];
  let skipped = 0;
  try {
    for await (const answer of await client.stats(STATUS_SERVICE_NAME)) {
      const status = statusOf(answer);
      if (status) nodes.push(status);
      else skipped++;
    }
  } catch (error) {
    // No node at all: the server answers "no responders" at once.
    if (isNoResponders(error)) return { nodes, skipped };
    throw new BiopayError(ErrorCode.Unavailable, 'could not ask the network for its nodes\' status', { cause: error });
  }
  nodes.sort((a, b) => a.node.localeCompare(b.node));
  return { nodes, skipped };
}

function statusOf(answer: ServiceStats): NodeStatus | undefined {
  const endpoints = Array.isArray(answer?.endpoints) ? answer.endpoints : [];
  return endpoints.length === 1 ? parseNodeStatus(endpoints[0]!.data) : undefined;
}
