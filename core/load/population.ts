/**
 * The shape of a load test's population, decided before anything is written: which synthetic
 * finger belongs to which account, which credentials are restricted, which accounts are left
 * without funds, how people are grouped into merchant communities (the narrowing hint) and which
 * terminals serve each community. Pure: the same spec always gives the same plan.
 */
import { BiopayError, ErrorCode } from '../errors.js';
import type { Mix } from './mix.js';

export interface PopulationSpec {
  /** Short id of the run: every id and idempotency key the run creates carries it. */
  readonly runId: string;
  readonly accounts: number;
  readonly enrolled: number;
  readonly terminals: number;
  /** People per merchant community at most (what a terminal's hint narrows the search to). */
  readonly communitySize: number;
  readonly mix: Mix;
}

export type FingerRole = 'owner' | 'extra' | 'restricted';

export interface PlannedFinger {
  /** Synthetic finger id (from 1) in the run's population seed. */
  readonly fingerId: number;
  readonly account: number;
  readonly role: FingerRole;
}

export interface PlannedTerminal {
  readonly terminalId: string;
  readonly community: number;
  /** Its dispenser is jammed: every business step fails and the payment is voided. */
  readonly jammed: boolean;
}

export interface PopulationPlan {
  readonly communities: number;
  /** Community of each account (by account index). */
  readonly accountCommunity: readonly number[];
  /** Accounts left without funds (insufficient-funds payments use their fingers). */
  readonly poorAccounts: ReadonlySet<number>;
  readonly fingers: readonly PlannedFinger[];
  /** Synthetic fingers never enrolled: the unknown-finger payments. */
  readonly unknownFingerIds: readonly number[];
  readonly terminals: readonly PlannedTerminal[];
}

export const POPULATION_LIMITS = { accountsMax: 1_000_000, enrolledMax: 1_000_000, terminalsMax: 10_000, unknownFingersMax: 1_000 } as const;
/** Share of the enrolled fingers given a restricted credential (when the mix asks for any). */
const RESTRICTED_SHARE = 0.1;
/** Share of the accounts left without funds (when the mix asks for insufficient funds). */
const POOR_SHARE = 0.02;

export function planPopulation(spec: PopulationSpec): PopulationPlan {
  checkSpec(spec);
  const communities = Math.max(1, Math.ceil(spec.enrolled / spec.communitySize));
  if (spec.terminals < communities) {
    throw new BiopayError(ErrorCode.BadRequest,
      `${communities} communities of at most ${spec.communitySize} people need at least ${communities} terminals, got ${spec.terminals}`);
  }
  const accountCommunity = Array.from({ length: spec.accounts }, (_, account) => account % communities);
  const poorCount = spec.mix.insufficient > 0 ? Math.max(1, Math.round(spec.accounts * POOR_SHARE)) : 0;
  // The last accounts are the poor ones: their fingers stay out of the restricted choice below.
  const poorAccounts = new Set(Array.from({ length: poorCount }, (_, index) => spec.accounts - 1 - index));
  const fingers = planFingers(spec, poorAccounts);
  const unknownCount = spec.mix.unknown > 0 ? Math.min(POPULATION_LIMITS.unknownFingersMax, Math.max(10, Math.ceil(spec.enrolled / 10))) : 0;
  const unknownFingerIds = Array.from({ length: unknownCount }, (_, index) => spec.enrolled + 1 + index);
  return { communities, accountCommunity, poorAccounts, fingers, unknownFingerIds, terminals: planTerminals(spec, communities) };
}

/**
 * Finger f (from 0) belongs to account f % accounts: the first finger of each account is its
 * owner credential (an account's first credential must be unrestricted); among the others every
 * k-th is restricted, until RESTRICTED_SHARE of all fingers are.
 */
function planFingers(spec: PopulationSpec, poorAccounts: ReadonlySet<number>): PlannedFinger[] {
  const wanted = spec.mix.restricted > 0 ? Math.max(1, Math.round(spec.enrolled * RESTRICTED_SHARE)) : 0;
  const extras = spec.enrolled - spec.accounts;
  if (wanted > 0 && extras < wanted) {
    throw new BiopayError(ErrorCode.BadRequest,
      `restricted credentials need fingers beyond each account's owner finger: with ${spec.enrolled} enrolled, use at most ${spec.enrolled - wanted} accounts (got ${spec.accounts})`);
  }
  // Spread evenly over the extra fingers of accounts with funds.
  const eligible: number[] = [];
  for (let f = spec.accounts; f < spec.enrolled; f++) if (!poorAccounts.has(f % spec.accounts)) eligible.push(f);
  if (eligible.length < wanted) {
    throw new BiopayError(ErrorCode.BadRequest, `only ${eligible.length} fingers can take the ${wanted} restricted credentials: enroll more fingers per account`);
  }
  const every = wanted > 0 ? eligible.length / wanted : 0;
  const restricted = new Set(Array.from({ length: wanted }, (_, index) => eligible[Math.floor(index * every)]!));
  return Array.from({ length: spec.enrolled }, (_, f): PlannedFinger => ({
    fingerId: f + 1,
    account: f % spec.accounts,
    role: f < spec.accounts ? 'owner' : restricted.has(f) ? 'restricted' : 'extra',
  }));
}

/** Terminal t serves community t % communities; each community also has one jammed dispenser. */
function planTerminals(spec: PopulationSpec, communities: number): PlannedTerminal[] {
  const terminals: PlannedTerminal[] = Array.from({ length: spec.terminals }, (_, t) => ({
    terminalId: `ld-${spec.runId}-t${t + 1}`, community: t % communities, jammed: false,
  }));
  if (spec.mix.jammed > 0) {
    for (let community = 0; community < communities; community++) {
      terminals.push({ terminalId: `ld-${spec.runId}-j${community + 1}`, community, jammed: true });
    }
  }
  return terminals;
}

function checkSpec(spec: PopulationSpec): void {
  const checks: Array<[number, number, number, string]> = [
    [spec.accounts, 1, POPULATION_LIMITS.accountsMax, 'accounts'],
    [spec.enrolled, 1, POPULATION_LIMITS.enrolledMax, 'enrolled'],
    [spec.terminals, 1, POPULATION_LIMITS.terminalsMax, 'terminals'],
    [spec.communitySize, 1, POPULATION_LIMITS.enrolledMax, 'community size'],
  ];
  for (const [value, low, high, what] of checks) {
    if (!Number.isInteger(value) || value < low || value > high) {
      throw new BiopayError(ErrorCode.BadRequest, `${what} must be an integer in [${low}, ${high}], got ${value}`);
    }
  }
  if (spec.accounts > spec.enrolled) {
    throw new BiopayError(ErrorCode.BadRequest, `every account needs a finger: accounts (${spec.accounts}) must not exceed enrolled (${spec.enrolled})`);
  }
  if (!/^[A-Za-z0-9]{1,16}$/.test(spec.runId)) throw new BiopayError(ErrorCode.BadRequest, 'run id must be 1-16 letters or digits');
}

export function communityHint(runId: string, community: number): string {
  return `ld-${runId}-c${community + 1}`;
}
