/**
 * Composes node roles into one process: one role (`biopay node <role>`) or all of them (the
 * embedded network of `biopay demo` / `biopay dev`). Each process has one NATS connection and one
 * actor system; kinds registered here are served to the other processes over NATS.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { ActorSystem } from '../core/actors/index.js';
import type { PartitionSpec } from '../core/association/partition.js';
import type { EmbeddingModality } from '../core/association/partition-gallery.js';
import { TemplateSealer } from '../core/association/template-crypto.js';
import { SimulatedDevice } from '../core/business/device.js';
import { businessStepsFromRecords } from '../core/business/step-lookup.js';
import { openDatabase, type SqlClient } from '../core/db/index.js';
import { Ledger } from '../core/ledger/index.js';
import type { LogFields, Logger } from '../core/log.js';
import type { NodeStatus, RoleStatuses } from '../core/status/node-status.js';
import { startStatusService, type StatusService } from '../core/status/status-service.js';
import { connectNats } from '../core/transport/nats.js';
import { startAccountNode } from './account/node.js';
import { startAssociationNode, type AssociationNode } from './association/node.js';
import { startBusinessNode } from './business/node.js';
import { startGateway } from './gateway/index.js';
import { startTerminalNode, type TerminalNode } from './terminal/node.js';

export const ROLES = ['terminal', 'association', 'account', 'business', 'gateway'] as const;
export type Role = (typeof ROLES)[number];

export function isRole(text: string): text is Role {
  return (ROLES as readonly string[]).includes(text);
}

export interface NetworkOptions {
  readonly roles: readonly Role[];
  readonly natsUrl: string | string[];
  readonly log: Logger;
  /** postgres://... for PostgreSQL; otherwise PGlite in `dataDir` (or in memory). Account role only. */
  readonly databaseUrl?: string;
  /** PostgreSQL schema of the ledger's tables (several networks can share one database). */
  readonly databaseSchema?: string;
  readonly dataDir?: string;
  /** Gateway role: port (0 = a free one) and host. */
  readonly grpcPort?: number;
  readonly grpcHost?: string;
  /** Association role: the template sealing key; from the environment when omitted. */
  readonly sealer?: TemplateSealer;
  readonly matchWorkers?: number;
  /** Association role: the gallery partition kept, and embedding dimensions per modality. */
  readonly associationPartition?: PartitionSpec;
  readonly associationTargetFmr?: number;
  readonly associationTargetFpir?: number;
  /** Association role: fingerprint templates compared in full per identify, and per hinted one (candidate index). */
  readonly associationCandidates?: number;
  readonly associationHintedCandidates?: number;
  /** Association nodes compare fewer candidates while identifies queue (default false). */
  readonly associationBrownout?: boolean;
  readonly embeddingDimensions?: Partial<Record<EmbeddingModality, number>>;
  /** Account role: while busy, the ledger starts a transaction at most this often (group commit cadence). */
  readonly ledgerCommitIntervalMs?: number;
  /** Business role: make every business step fail (the simulated device is out of order). */
  readonly businessFailAll?: boolean;
  /** Terminal role: the terminals whose sensor events this node takes (all when empty). */
  readonly sensorTerminalIds?: readonly string[];
  /** Terminal role: the wait a standing identify queue serves its touches within (default DEFAULT_IDENTIFY_WAIT_TARGET_MS). */
  readonly terminalIdentifyWaitTargetMs?: number;
  readonly nodeName?: string;
  /** The package's version, which the node's status service reports (default 0.0.0). */
  readonly version?: string;
}

export interface Network {
  readonly nc: NatsConnection;
  readonly system: ActorSystem;
  readonly grpcPort: number | undefined;
  readonly ledger: Ledger | undefined;
  /** What this process's status service answers (`biopay status`). */
  status(): NodeStatus;
  stop(): Promise<void>;
}

export async function startNetwork(options: NetworkOptions): Promise<Network> {
  const name = options.nodeName ?? `biopay-${options.roles.join('+')}-${process.pid}`;
  const nc = await connectNats({ servers: options.natsUrl, name });
  const actorLog = options.log.child({ component: 'actors' });
  const system = new ActorSystem({
    nodeId: name, nats: nc,
    logger: (level, event, fields) => actorLog[level](event, fields as LogFields),
  });
  const stops: Array<() => Promise<void>> = [];
  let stopGateway: () => Promise<void> = async () => undefined;
  const has = (role: Role) => options.roles.includes(role);
  let ledger: Ledger | undefined;
  let association: AssociationNode | undefined;
  let terminal: TerminalNode | undefined;
  let statusService: StatusService | undefined;
  let database: SqlClient | undefined;
  let grpcPort: number | undefined;
  try {
    if (has('account')) {
      database = await openDatabase({ url: options.databaseUrl || undefined, dataDir: options.dataDir, schema: options.databaseSchema });
      // Group commit: many payments per transaction, each account's operations still in order;
      // what the options leave out takes GROUP_COMMIT_DEFAULTS.
      ledger = await Ledger.open(database, { groupCommit: { batchIntervalMs: options.ledgerCommitIntervalMs } });
      const accountLog = options.log.child({ role: 'account' });
      const businessSteps = businessStepsFromRecords(nc, (what, error) =>
        accountLog.warn('business step lookup failed', { what, error: String(error) }));
      stops.push((await startAccountNode({ system, ledger, database, log: accountLog, businessSteps })).stop);
    }
    if (has('association')) {
      const sealer = options.sealer ?? TemplateSealer.fromEnvironment();
      const node = await startAssociationNode({
        nc, system, sealer, log: options.log.child({ role: 'association' }), workers: options.matchWorkers,
        partition: options.associationPartition, embeddingDimensions: options.embeddingDimensions,
        defaultTargetFmr: options.associationTargetFmr, targetFpir: options.associationTargetFpir,
        candidatesPerIdentify: options.associationCandidates, hintedCandidatesPerIdentify: options.associationHintedCandidates,
        brownout: options.associationBrownout,
      });
      association = node;
      stops.push(node.stop);
    }
    if (has('business')) {
      const device = new SimulatedDevice({ failAll: options.businessFailAll });
      stops.push((await startBusinessNode({ nc, system, device, log: options.log.child({ role: 'business' }) })).stop);
    }
    if (has('terminal')) {
      terminal = await startTerminalNode({
        nc, system, log: options.log.child({ role: 'terminal' }), sensorTerminalIds: options.sensorTerminalIds,
        identifyWaitTargetMs: options.terminalIdentifyWaitTargetMs,
      });
      stops.push(terminal.stop);
    }
    if (has('gateway')) {
      const gateway = await startGateway({
        system, host: options.grpcHost, port: options.grpcPort ?? 50051, log: options.log.child({ role: 'gateway' }),
      });
      grpcPort = gateway.port;
      stopGateway = gateway.stop;
    }
    const roles = { association, ledger, terminal };
    statusService = await startStatusService(nc, { node: name, roles: options.roles, version: options.version ?? '0.0.0', read: () => roleStatuses(roles) });
    // Pushed last, so stopped first of the roles: a draining node no longer says it serves.
    stops.push(statusService.stop);
  } catch (error) {
    await stopAll(stopGateway, stops, system, nc, database, ledger);
    throw error;
  }
  let stopped: Promise<void> | undefined;
  const service = statusService;
  return {
    nc, system, grpcPort, ledger,
    status: () => service.status(),
    stop: () => (stopped ??= stopAll(stopGateway, stops, system, nc, database, ledger)),
  };
}

/** The counters of the roles this process runs (status-service.ts reads them per request). */
function roleStatuses(roles: { association?: AssociationNode; ledger?: Ledger; terminal?: TerminalNode }): RoleStatuses {
  const commits = roles.ledger?.commitCounts;
  return {
    ...(roles.association ? { association: roles.association.status() } : {}),
    ...(roles.ledger ? { account: { ledgerTransactions: commits?.transactions ?? 0, ledgerOperations: commits?.operations ?? 0 } } : {}),
    ...(roles.terminal ? { terminal: roles.terminal.status() } : {}),
  };
}

/** Gateway first (no new work), then the actors drain, then the roles, then connections. */
async function stopAll(
  stopGateway: () => Promise<void>, stops: Array<() => Promise<void>>, system: ActorSystem, nc: NatsConnection,
  database: SqlClient | undefined, ledger: Ledger | undefined,
): Promise<void> {
  await stopGateway().catch(() => undefined);
  await system.drain().catch(() => undefined);
  for (const stop of [...stops].reverse()) await stop().catch(() => undefined);
  await nc.drain().catch(() => undefined);
  // Commits what the group committer still holds before the database closes.
  await ledger?.close().catch(() => undefined);
  await database?.close().catch(() => undefined);
}
