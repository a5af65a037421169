/**
 * Every node process answers as a NATS micro service named `biopay` (the protocol `nats micro ls`,
 * `nats micro info biopay` and `nats micro stats biopay` speak): discovery and health come with it
 * (PING, INFO), and its STATS carry the node's status (node-status.ts) as the data of its one
 * endpoint, `status`, which also answers a plain request with the same JSON.
 */
import { Svcm, type Service, type ServiceMsg } from '@nats-io/services';
import type { NatsConnection } from '@nats-io/transport-node';
import { BiopayError, ErrorCode } from '../errors.js';
import { subjectToken } from '../transport/subject-token.js';
import type { NodeStatus, RoleStatuses } from './node-status.js';

export const STATUS_SERVICE_NAME = 'biopay';
/** The `status` endpoint of node `name` (a subject of its own: the endpoint asks one node). */
export function statusSubject(node: string): string {
  return `biopay.status.${subjectToken(node)}`;
}

export interface StatusServiceOptions {
  /** The node's name (its NATS connection's name). */
  readonly node: string;
  readonly roles: readonly string[];
  /** Semantic version of the running package (the micro protocol requires one). */
  readonly version: string;
  /** The roles' counters now; called for each status request, so it must be cheap. */
  readonly read: () => RoleStatuses;
}

export interface StatusService {
  /** The status as the service reports it now. */
  status(): NodeStatus;
  stop(): Promise<void>;
}

export async function startStatusService(nc: NatsConnection, options: StatusServiceOptions): Promise<StatusService> {
  const startedMs = Date.now();
  const startedAt = new Date(startedMs).toISOString();
  const status = (): NodeStatus => ({
    node: options.node, roles: [...options.roles], pid: process.pid, version: options.version, startedAt,
    uptimeMs: Date.now() - startedMs, ...options.read(),
  });
  let service: Service;
  try {
    // The services package is built on its own copy of nats-core's types; the connection is the same protocol.
    service = await new Svcm(nc as unknown as ConstructorParameters<typeof Svcm>[0]).add({
      name: STATUS_SERVICE_NAME, version: options.version,
      description: 'biopay node: its roles and their counters',
      metadata: { node: options.node, roles: options.roles.join(','), pid: String(process.pid) },
      statsHandler: async () => status(),
    });
  } catch (error) {
    throw new BiopayError(ErrorCode.InvalidState, `status service of node ${options.node} could not start`, { cause: error });
  }
  service.addEndpoint('status', {
    subject: statusSubject(options.node),
    handler: (error: Error | null, msg: ServiceMsg) => {
      if (!error) msg.respond(JSON.stringify(status()));
    },
  });
  return {
    status,
    async stop() {
      await service.stop().catch(() => undefined);
    },
  };
}
