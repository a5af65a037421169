/**
 * What a running node tells about itself (`biopay status`, `biopay load --nats`): who it is, which
 * roles it runs and the counters of those roles. Counters only grow while the node runs, so two
 * readings tell what happened between them (a load test's phase, a minute of traffic). Nothing
 * here names an account, a payment or a template: a status is safe to print and to log.
 */

export interface AssociationStatus {
  /** Fingerprint templates in this node's gallery partition. */
  readonly templates: number;
  readonly galleryBytes: number;
  /** `p/P`: the partition this node keeps. */
  readonly partition: string;
  readonly matcherThreads: number;
  readonly brownout: boolean;
  /** Identifies that compared fewer candidates than configured while the matcher queue stood. */
  readonly identifiesBrownedOut: number;
}

export interface AccountStatus {
  /** Ledger transactions committed (group commit: each holds many requests) and the requests they held. */
  readonly ledgerTransactions: number;
  readonly ledgerOperations: number;
}

export interface TerminalStatus {
  readonly paymentsInFlight: number;
  readonly identifiesRunning: number;
  readonly identifiesWaiting: number;
  /** Identifies allowed at once now (lower while the association tier reports overload). */
  readonly identifyLimit: number;
}

export interface NodeStatus {
  /** The node's name, also its NATS connection's name. */
  readonly node: string;
  readonly roles: readonly string[];
  readonly pid: number;
  readonly version: string;
  readonly startedAt: string;
  readonly uptimeMs: number;
  readonly association?: AssociationStatus;
  readonly account?: AccountStatus;
  readonly terminal?: TerminalStatus;
}

/** What a node's roles report; the identity fields are the service's. */
export type RoleStatuses = Pick<NodeStatus, 'association' | 'account' | 'terminal'>;

/** What counters of a network's nodes grew by between two readings (countersBetween). */
export interface NetworkCounters {
  readonly ledger?: { readonly transactions: number; readonly operations: number };
  readonly identifiesBrownedOut?: number;
}

/** Longest text field accepted from a reply: a hostile or broken reply cannot make us hold much. */
const TEXT_LENGTH_MAX = 256;
const ROLES_MAX = 16;

/**
 * A status from a reply's JSON, or undefined when it is not one (another program's service under
 * the same name, an older node, a broken reply): such replies are skipped, never trusted.
 */
export function parseNodeStatus(value: unknown): NodeStatus | undefined {
  if (!isRecord(value)) return undefined;
  const { node, roles, pid, version, startedAt, uptimeMs } = value;
  if (!isText(node) || !isText(version) || !isText(startedAt) || !isCount(pid) || !isCount(uptimeMs)) return undefined;
  if (!Array.isArray(roles) || roles.length > ROLES_MAX || !roles.every(isText)) return undefined;
  const association = optional(value.association, parseAssociation);
  const account = optional(value.account, parseAccount);
  const terminal = optional(value.terminal, parseTerminal);
  if (association === null || account === null || terminal === null) return undefined;
  return {
    node, roles: roles as string[], pid, version, startedAt, uptimeMs,
    ...(association ? { association } : {}), ...(account ? { account } : {}), ...(terminal ? { terminal } : {}),
  };
}

/**
 * What the network's counters grew by between two readings: summed over the nodes present in both
 * (the same name and start time). A node that restarted in between (its counters began again) or
 * joined or left is left out rather than read as a negative or a jump. A role nobody ran in both
 * readings is absent.
 */
export function countersBetween(before: readonly NodeStatus[], after: readonly NodeStatus[]): NetworkCounters {
  const earlier = new Map(before.map((status) => [`${status.node}@${status.startedAt}`, status]));
  let transactions = 0;
  let operations = 0;
  let brownedOut = 0;
  let accounts = 0;
  let associations = 0;
  for (const now of after) {
    const then = earlier.get(`${now.node}@${now.startedAt}`);
    if (!then) continue;
    if (now.account && then.account) {
      accounts++;
      transactions += Math.max(0, now.account.ledgerTransactions - then.account.ledgerTransactions);
      operations += Math.max(0, now.account.ledgerOperations - then.account.ledgerOperations);
    }
    if (now.association && then.association) {
      associations++;
      brownedOut += Math.max(0, now.association.identifiesBrownedOut - then.association.identifiesBrownedOut);
    }
  }
  return {
    ...(accounts > 0 ? { ledger: { transactions, operations } } : {}),
    ...(associations > 0 ? { identifiesBrownedOut: brownedOut } : {}),
  };
}

function parseAssociation(value: Record<string, unknown>): AssociationStatus | null {
  const { templates, galleryBytes, partition, matcherThreads, brownout, identifiesBrownedOut } = value;
  if (!isCount(templates) || !isCount(galleryBytes) || !isText(partition) || !isCount(matcherThreads)) return null;
  if (typeof brownout !== 'boolean' || !isCount(identifiesBrownedOut)) return null;
  return { templates, galleryBytes, partition, matcherThreads, brownout, identifiesBrownedOut };
}

function parseAccount(value: Record<string, unknown>): AccountStatus | null {
  const { ledgerTransactions, ledgerOperations } = value;
  return isCount(ledgerTransactions) && isCount(ledgerOperations) ? { ledgerTransactions, ledgerOperations } : null;
}

function parseTerminal(value: Record<string, unknown>): TerminalStatus | null {
  const { paymentsInFlight, identifiesRunning, identifiesWaiting, identifyLimit } = value;
  if (!isCount(paymentsInFlight) || !isCount(identifiesRunning) || !isCount(identifiesWaiting) || !isCount(identifyLimit)) return null;
  return { paymentsInFlight, identifiesRunning, identifiesWaiting, identifyLimit };
}

/** undefined when absent, null when present but not valid. */
function optional<T>(value: unknown, parse: (value: Record<string, unknown>) => T | null): T | undefined | null {
  if (value === undefined) return undefined;
  return isRecord(value) ? parse(value) : null;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isText(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= TEXT_LENGTH_MAX;
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/** Who a network's nodes are, without their counters: what a load report says it drove. */
export interface NodeSummary {
  readonly node: string;
  readonly roles: readonly string[];
  readonly version: string;
  readonly association?: Pick<AssociationStatus, 'partition' | 'matcherThreads' | 'brownout'>;
}

export function summarizeNodes(statuses: readonly NodeStatus[]): NodeSummary[] {
  return statuses.map(({ node, roles, version, association }) => ({
    node, roles, version,
    ...(association ? { association: { partition: association.partition, matcherThreads: association.matcherThreads, brownout: association.brownout } } : {}),
  }));
}

/** One line for people: "4 nodes, version 0.1.0: account; association (partition 0/1, 2 matcher threads); ...". */
export function describeNodes(nodes: readonly NodeSummary[]): string {
  if (nodes.length === 0) return 'no node answered the status service (a release before it, or none running)';
  const versions = [...new Set(nodes.map((node) => node.version))].sort();
  const each = nodes.map((node) => {
    const a = node.association;
    return a ? `${node.roles.join('+')} (partition ${a.partition}, ${a.matcherThreads} matcher thread${a.matcherThreads === 1 ? '' : 's'}${a.brownout ? ', brownout' : ''})` : node.roles.join('+');
  });
  return `${nodes.length} node${nodes.length === 1 ? '' : 's'}, version ${versions.join(' and ')}: ${each.join('; ')}`;
}
