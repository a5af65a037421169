/**
 * Writes a planned population into a running network through its actors, as any client would:
 * merchants and customers opened and funded, fingers enrolled from the synthetic generator (owner
 * fingers first: an account's first credential must be unrestricted), terminals registered with
 * or without their community's narrowing hint. Keeps one probe impression of every finger: impression
 * 2, never one of those offered at enrollment (1, then 3, 4, ...).
 */
import type { EnrollRequest } from '../../proto/gen/biopay/v1/biometrics.js';
import { AccountKind, type SpendingPolicy } from '../../proto/gen/biopay/v1/ledger.js';
import type { ActorSystem } from '../actors/index.js';
import { writeIsoRecord } from '../biometrics/iso.js';
import { populationFinger, populationImpression } from '../biometrics/synthetic/index.js';
import { asBiopayError, BiopayError, ErrorCode, isBiopayError } from '../errors.js';
import { enroll, flowClients } from '../flows/index.js';
import { ActorKind, LedgerProtocol, TerminalProtocol } from '../protocols.js';
import { counted } from './counted.js';
import { mapLimit } from './concurrency.js';
import { communityHint, planPopulation, type PlannedFinger, type PlannedTerminal, type PopulationPlan, type PopulationSpec } from './population.js';

export interface SetupOptions extends PopulationSpec {
  readonly seed: number;
  readonly currency: string;
  /** The amount of every payment. */
  readonly amountMinor: bigint;
  /** Funds of every account that is not left poor. */
  readonly depositMinor: bigint;
  /** Terminals send their community's hint, narrowing the 1:N search to it. */
  readonly hint: boolean;
  /**
   * Impressions offered per enrollment, as a person touching the sensor that many times would:
   * the node keeps the most representative (template selection). 1 enrolls a single impression.
   */
  readonly enrollImpressions: number;
  readonly concurrency?: number;
  readonly enrollConcurrency?: number;
  readonly askTimeoutMs?: number;
  progress(line: string): void;
}

export interface LoadFinger {
  readonly fingerId: number;
  /** Empty for a finger nobody enrolled. */
  readonly accountId: string;
  readonly community: number;
  readonly probe: Uint8Array;
}

export interface LoadAccount {
  readonly accountId: string;
  readonly depositMinor: bigint;
}

export interface LoadTerminal extends PlannedTerminal {
  readonly merchantAccountId: string;
}

export interface Population {
  readonly plan: PopulationPlan;
  readonly currency: string;
  readonly amountMinor: bigint;
  readonly customers: readonly LoadAccount[];
  readonly merchants: readonly LoadAccount[];
  readonly terminals: readonly LoadTerminal[];
  /** Enrolled fingers by what paying with them should give. */
  readonly payers: { readonly approved: LoadFinger[]; readonly restricted: LoadFinger[]; readonly insufficient: LoadFinger[] };
  readonly unknown: readonly LoadFinger[];
  /** Enrollments the network refused (e.g. ALREADY_ENROLLED: a synthetic finger matched another), by code. */
  readonly enrollRefusals: Readonly<Record<string, number>>;
  readonly setupMs: number;
}

/**
 * Impressions per enrollment unless told otherwise: three touches, the usual enrollment. With the
 * most representative kept, a later touch is accepted ~89% of the time instead of ~78% (synthetic
 * fingers, a 1,000-finger search at FPIR 1e-3; core/biometrics/template-selection.ts).
 */
export const DEFAULT_ENROLL_IMPRESSIONS = 3;
/** Enrollment sessions a finger gets (the first, and one more after a refused touch). */
const ENROLL_SESSIONS_MAX = 2;
/** Share of the fingers asked for that may come back ALREADY_ENROLLED before the run stops. */
const ALREADY_ENROLLED_SHARE_MAX = 0.5;
/** The impression of every finger its payments are made with; enrollments use the others. */
const PROBE_IMPRESSION = 2;
/** Ledger setup calls in flight: many, so the ledger's group commit gets full batches. */
const SETUP_CONCURRENCY = 128;
/**
 * Enrollments in flight: enough to keep both matcher threads busy with the 1:N duplicate searches
 * (and the ledger's group commit fed), few enough that their search slices stay within the matcher
 * pool's queue (128 tasks, up to 4 slices a search). A full queue is retried with back-off.
 */
const ENROLL_CONCURRENCY = 16;
const SETUP_ASK_TIMEOUT_MS = 30_000;
const ENROLL_ATTEMPTS_MAX = 8;
const RETRY_BACKOFF_MS = 200;
/** Failures of a busy network, worth another attempt; refusals (ALREADY_ENROLLED, ...) are not. */
const RETRIABLE: ReadonlySet<string> = new Set([ErrorCode.Internal, ErrorCode.Unavailable, ErrorCode.Timeout, ErrorCode.MailboxFull]);

export async function setupPopulation(system: ActorSystem, rawOptions: SetupOptions): Promise<Population> {
  const startedMs = performance.now();
  // Every setup line says when it happened: where setup time goes is part of what a run reports.
  const options: SetupOptions = {
    ...rawOptions, progress: (line) => rawOptions.progress(`${line} [${((performance.now() - startedMs) / 1000).toFixed(1)} s]`),
  };
  const plan = planPopulation(options);
  const ledger = system.client(ActorKind.Ledger, LedgerProtocol);
  const ask = { timeoutMs: options.askTimeoutMs ?? SETUP_ASK_TIMEOUT_MS };
  const concurrency = options.concurrency ?? SETUP_CONCURRENCY;
  const open = async (owner: string, kind: AccountKind, depositMinor: bigint): Promise<LoadAccount> => {
    const account = await ledger.ask(owner, 'openAccount', {
      owner, currency: options.currency, kind, timeZone: 'UTC', idempotencyKey: `${owner}-open`,
    }, ask);
    if (depositMinor > 0n) {
      await ledger.ask(account.accountId, 'deposit', { accountId: account.accountId, amountMinor: depositMinor, idempotencyKey: `${owner}-deposit` }, ask);
    }
    return { accountId: account.accountId, depositMinor };
  };
  options.progress(`setup: opening ${counted(plan.communities, 'merchant')} and ${options.accounts} customer accounts...`);
  const merchants = await mapLimit(Array.from({ length: plan.communities }, (_, c) => c), concurrency,
    (community) => open(`ld-${options.runId}-m${community + 1}`, AccountKind.ACCOUNT_KIND_MERCHANT, 0n));
  const customers = await mapLimit(Array.from({ length: options.accounts }, (_, a) => a), concurrency,
    (account) => open(`ld-${options.runId}-a${account + 1}`, AccountKind.ACCOUNT_KIND_CUSTOMER,
      plan.poorAccounts.has(account) ? 0n : options.depositMinor));

  const terminals = await registerTerminals(system, plan, merchants, options, concurrency);
  const enrolled = await enrollFingers(system, plan, customers, options);
  assertFreshFingers(enrolled.refusals, options.enrolled, options.seed);
  const unknown = plan.unknownFingerIds.map((fingerId, index): LoadFinger => ({
    fingerId, accountId: '', community: index % plan.communities,
    probe: writeIsoRecord(populationImpression(options.seed, populationFinger(options.seed, fingerId), fingerId, 1)),
  }));
  return {
    plan, currency: options.currency, amountMinor: options.amountMinor, customers, merchants, terminals,
    payers: enrolled.payers, unknown, enrollRefusals: enrolled.refusals, setupMs: performance.now() - startedMs,
  };
}

async function registerTerminals(
  system: ActorSystem, plan: PopulationPlan, merchants: readonly LoadAccount[], options: SetupOptions, concurrency: number,
): Promise<LoadTerminal[]> {
  const client = system.client(ActorKind.Terminal, TerminalProtocol);
  options.progress(`setup: registering ${plan.terminals.length} terminals (hint ${options.hint ? 'on' : 'off'})...`);
  return mapLimit(plan.terminals, concurrency, async (terminal): Promise<LoadTerminal> => {
    const merchantAccountId = merchants[terminal.community]!.accountId;
    await client.ask(terminal.terminalId, 'registerTerminal', {
      terminal: {
        terminalId: terminal.terminalId, merchantAccountId, location: undefined,
        action: terminal.jammed ? 'dispense' : 'open-gate', item: terminal.jammed ? 'jammed' : '',
        hint: options.hint ? communityHint(options.runId, terminal.community) : '',
      },
    }, { timeoutMs: options.askTimeoutMs ?? SETUP_ASK_TIMEOUT_MS });
    return { ...terminal, merchantAccountId };
  });
}

async function enrollFingers(
  system: ActorSystem, plan: PopulationPlan, customers: readonly LoadAccount[], options: SetupOptions,
): Promise<{ payers: Population['payers']; refusals: Record<string, number> }> {
  const clients = flowClients(system);
  const payers: Population['payers'] = { approved: [], restricted: [], insufficient: [] };
  const refusals: Record<string, number> = {};
  const restrictedPolicy: SpendingPolicy = {
    restricted: true, maxPerPaymentMinor: options.amountMinor / 2n, quotas: [], counts: [], places: [],
    terminalIds: [], merchantIds: [], windows: [], timeZone: '',
  };
  let done = 0;
  const enrollOne = async (finger: PlannedFinger): Promise<void> => {
    const master = populationFinger(options.seed, finger.fingerId);
    const community = plan.accountCommunity[finger.account]!;
    const accountId = customers[finger.account]!.accountId;
    const request = (session: number): EnrollRequest => {
      const [first, ...extras] = sessionImpressions(options.enrollImpressions, session)
        .map((impression) => Buffer.from(writeIsoRecord(populationImpression(options.seed, master, finger.fingerId, impression))));
      return {
        accountId, credentialId: `ld-${options.runId}-cred${finger.fingerId}`, modality: 0, embedding: undefined,
        isoTemplate: first!, extraImpressions: extras, policy: finger.role === 'restricted' ? restrictedPolicy : undefined,
        idempotencyKey: `ld-${options.runId}-f${finger.fingerId}-s${session}`, hint: communityHint(options.runId, community),
      };
    };
    try {
      await enrollTouchingAgain((session) => withRetries(() => enroll(clients, request(session), { timeoutMs: options.askTimeoutMs ?? SETUP_ASK_TIMEOUT_MS })));
      const probe = writeIsoRecord(populationImpression(options.seed, master, finger.fingerId, PROBE_IMPRESSION));
      const payer: LoadFinger = { fingerId: finger.fingerId, accountId, community, probe };
      if (finger.role === 'restricted') payers.restricted.push(payer);
      else if (plan.poorAccounts.has(finger.account)) payers.insufficient.push(payer);
      else payers.approved.push(payer);
    } catch (error) {
      const code = asBiopayError(error).code;
      refusals[code] = (refusals[code] ?? 0) + 1;
    }
    if (++done % 500 === 0) options.progress(`setup: ${done}/${plan.fingers.length} fingers enrolled`);
  };
  const limit = options.enrollConcurrency ?? ENROLL_CONCURRENCY;
  options.progress(`setup: enrolling ${plan.fingers.length} synthetic fingers (${limit} at a time)...`);
  // Owners first: a restricted credential is refused on an account that has no unrestricted one yet.
  await mapLimit(plan.fingers.filter((finger) => finger.role === 'owner'), limit, enrollOne);
  await mapLimit(plan.fingers.filter((finger) => finger.role !== 'owner'), limit, enrollOne);
  // Enrollments finish in any order; sorted, the same seed picks the same payers.
  for (const list of Object.values(payers)) list.sort((a, b) => a.fingerId - b.fingerId);
  return { payers, refusals };
}

/**
 * The impressions enrollment session `session` (from 0) offers: the finger's impressions in order,
 * `perSession` at a time, without the probe impression (1, 3, 4, then 5, 6, 7, ...).
 */
/**
 * Stops a run whose fingers the network already holds (an earlier run with the same seed, on a
 * network that keeps its enrollments): those fingers pay from the earlier run's accounts, so the
 * workload would measure refusals, not payments. A few collisions of synthetic fingers are normal.
 */
export function assertFreshFingers(refusals: Readonly<Record<string, number>>, enrolledAsked: number, seed: number): void {
  const already = refusals[ErrorCode.AlreadyEnrolled] ?? 0;
  if (already > enrolledAsked * ALREADY_ENROLLED_SHARE_MAX) {
    throw new BiopayError(ErrorCode.InvalidState,
      `${already} of ${enrolledAsked} fingers were already enrolled on this network (an earlier run with --seed ${seed}?): `
      + 'use another --seed, or a network without that run\'s enrollments');
  }
}

export function sessionImpressions(perSession: number, session: number): number[] {
  return Array.from({ length: perSession }, (_, index) => {
    const nth = session * perSession + index;
    return nth < PROBE_IMPRESSION - 1 ? nth + 1 : nth + 2;
  });
}

/**
 * A refused touch (INVALID_TEMPLATE: too few minutiae, or impressions that do not agree) is what
 * an enrolling person is asked to touch again for: fresh impressions, up to ENROLL_SESSIONS_MAX.
 */
async function enrollTouchingAgain<T>(enrollSession: (session: number) => Promise<T>): Promise<T> {
  for (let session = 0; ; session++) {
    try {
      return await enrollSession(session);
    } catch (error) {
      if (session + 1 >= ENROLL_SESSIONS_MAX || !isBiopayError(error, ErrorCode.InvalidTemplate)) throw error;
    }
  }
}

/** Enrollment with its own credential id is idempotent: a retry after a lost answer is safe. */
async function withRetries<T>(attempt: () => Promise<T>): Promise<T> {
  for (let tries = 1; ; tries++) {
    try {
      return await attempt();
    } catch (error) {
      if (tries >= ENROLL_ATTEMPTS_MAX || !RETRIABLE.has(asBiopayError(error).code)) throw error;
      await new Promise((resolve) => setTimeout(resolve, RETRY_BACKOFF_MS * tries));
    }
  }
}
