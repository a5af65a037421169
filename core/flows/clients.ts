/**
 * The actor clients a flow talks to, and the deadline one flow shares among its steps. Keys: the
 * `ledger` kind is keyed by account id whenever the account is known (so one account's operations
 * queue in one mailbox); requests that name only a credential or a payment are keyed by that id and
 * the ledger finds the account itself. The `association` kind is keyed by capture id for identify,
 * by account id for enroll and by credential id for deleteEnrollment.
 */
import type { ActorClient, ActorSystem } from '../actors/index.js';
import { BiopayError, ErrorCode } from '../errors.js';
import { ActorKind, AssociationProtocol, LedgerProtocol } from '../protocols.js';

export interface FlowClients {
  readonly ledger: ActorClient<typeof LedgerProtocol>;
  readonly association: ActorClient<typeof AssociationProtocol>;
}

export interface FlowOptions {
  /** Time the whole flow may take (every step shares it); each ask's default when omitted. */
  readonly timeoutMs?: number;
}

export function flowClients(system: ActorSystem): FlowClients {
  return {
    ledger: system.client(ActorKind.Ledger, LedgerProtocol),
    association: system.client(ActorKind.Association, AssociationProtocol),
  };
}

/** The time left for the next step of a flow, as ask options. */
export class FlowDeadline {
  private readonly deadlineMs: number | undefined;

  constructor(options: FlowOptions = {}) {
    this.deadlineMs = options.timeoutMs === undefined ? undefined : Date.now() + options.timeoutMs;
  }

  next(step: string): { timeoutMs?: number } {
    if (this.deadlineMs === undefined) return {};
    const timeoutMs = Math.ceil(this.deadlineMs - Date.now());
    if (timeoutMs < 1) throw new BiopayError(ErrorCode.Timeout, `deadline passed before ${step}`);
    return { timeoutMs };
  }
}

const ID_LENGTH_MAX = 128;

/** Refuses an empty or oversized id with a BAD_REQUEST naming the field. */
export function requireId(value: string, field: string): string {
  if (value === '') throw new BiopayError(ErrorCode.BadRequest, `${field} is required`);
  if (value.length > ID_LENGTH_MAX) throw new BiopayError(ErrorCode.BadRequest, `${field} is longer than ${ID_LENGTH_MAX} characters`);
  return value;
}
