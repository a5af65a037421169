/**
 * After a run: did the ledger do exactly what the results said? Every approved payment captured
 * once for its amount, every voided one voided, no hold left open once settlement had time, the
 * ledger's own invariants clean, every account the run created holding exactly its deposit minus
 * what it paid (merchants: what they were paid), and, when the business records can be read, a
 * payment captured exactly when its business step ran (goods out without a capture are money
 * lost). Any miss is a problem; a run with a problem has lost or made money and fails.
 */
import { HoldState, type PaymentState } from '../../proto/gen/biopay/v1/ledger.js';
import type { ActorClient } from '../actors/index.js';
import { asBiopayError, ErrorCode } from '../errors.js';
import type { BusinessStepLookup } from '../ledger/index.js';
import type { LedgerProtocol } from '../protocols.js';
import { mapLimit } from './concurrency.js';
import type { LedgerLogEntry } from './driver.js';
import type { LoadAccount } from './setup.js';

export interface LedgerCheckInput {
  readonly ledger: ActorClient<typeof LedgerProtocol>;
  readonly payments: readonly LedgerLogEntry[];
  readonly amountMinor: bigint;
  readonly customers: readonly LoadAccount[];
  readonly merchants: readonly LoadAccount[];
  /** How long to wait for open holds to be settled (captured, voided or expired). */
  readonly settleWaitMs: number;
  readonly concurrency?: number;
  readonly askTimeoutMs?: number;
  /** The business records of the payments (did each one's business step run?), to reconcile with the captures. */
  readonly businessSteps?: BusinessStepLookup;
}

export interface LedgerCheckReport {
  readonly passed: boolean;
  readonly approvedChecked: number;
  readonly capturedOnce: number;
  readonly voidedChecked: number;
  /** Payments with no result whose fate the ledger decided. */
  readonly unresolvedChecked: number;
  readonly accountsChecked: number;
  /** Payments whose capture was checked against their business record (0: records not read). */
  readonly businessStepsChecked: number;
  readonly openHolds: number;
  readonly ledgerProblems: readonly string[];
  readonly totals: ReadonlyArray<{ currency: string; sumMinor: string }>;
  /** The first PROBLEMS_MAX problems found here. */
  readonly problems: readonly string[];
  readonly problemCount: number;
  readonly durationMs: number;
}

const PROBLEMS_MAX = 50;
const CHECK_CONCURRENCY = 64;
const CHECK_ASK_TIMEOUT_MS = 30_000;
const SETTLE_POLL_MS = 250;

export async function checkLedger(input: LedgerCheckInput): Promise<LedgerCheckReport> {
  const startedMs = performance.now();
  const problems: string[] = [];
  let problemCount = 0;
  const problem = (text: string) => {
    problemCount++;
    if (problems.length < PROBLEMS_MAX) problems.push(text);
  };
  const ask = { timeoutMs: input.askTimeoutMs ?? CHECK_ASK_TIMEOUT_MS };
  const check = await waitForSettlement(input, ask.timeoutMs, problem);

  const paidByAccount = new Map<string, bigint>();
  const add = (accountId: string, minor: bigint) => paidByAccount.set(accountId, (paidByAccount.get(accountId) ?? 0n) + minor);
  let capturedOnce = 0;
  const counts = { approved: 0, voided: 0, none: 0 };
  // One problem per reason, not per payment: a ledger that cannot answer would flood the report.
  const unanswered = new Map<string, number>();
  /** Per payment that reached the ledger: was it captured? */
  const capturedByPayment = new Map<string, boolean>();
  await mapLimit(input.payments, input.concurrency ?? CHECK_CONCURRENCY, async (entry) => {
    counts[entry.ending]++;
    const state = await getPayment(input.ledger, entry, ask.timeoutMs);
    if (state instanceof Error) {
      unanswered.set(state.message, (unanswered.get(state.message) ?? 0) + 1);
      // The balances are still reconciled against what the result said.
      if (entry.ending === 'approved') {
        add(entry.accountId, -input.amountMinor);
        add(entry.merchantAccountId, input.amountMinor);
      }
      return;
    }
    const captured = state.capturedMinor;
    if (state.state !== HoldState.HOLD_STATE_UNSPECIFIED) capturedByPayment.set(entry.paymentId, state.state === HoldState.HOLD_STATE_CAPTURED);
    if (entry.ending === 'approved') {
      if (state.state === HoldState.HOLD_STATE_CAPTURED && captured === input.amountMinor && state.authorizedMinor === input.amountMinor) capturedOnce++;
      else problem(`${entry.paymentId} was approved but the ledger holds ${describe(state)}`);
    } else if (entry.ending === 'voided' && (state.state !== HoldState.HOLD_STATE_VOIDED || captured !== 0n)) {
      problem(`${entry.paymentId} was voided but the ledger holds ${describe(state)}`);
    } else if (state.state === HoldState.HOLD_STATE_AUTHORIZED) {
      problem(`${entry.paymentId} (no result) is still an open hold`);
    }
    if (captured > 0n) {
      add(entry.accountId, -captured);
      add(entry.merchantAccountId, captured);
    }
  });
  for (const [reason, count] of unanswered) problem(`${count} payment(s) the ledger could not report: ${reason}`);
  const accountsChecked = await checkBalances(input, paidByAccount, ask.timeoutMs, problem);
  const businessStepsChecked = input.businessSteps ? await checkBusinessSteps(input.businessSteps, capturedByPayment, problem) : 0;
  return {
    passed: problemCount === 0,
    approvedChecked: counts.approved,
    capturedOnce,
    voidedChecked: counts.voided,
    unresolvedChecked: counts.none,
    accountsChecked,
    businessStepsChecked,
    openHolds: check?.openHolds ?? -1,
    ledgerProblems: check?.problems ?? [],
    totals: (check?.totals ?? []).map((total) => ({ currency: total.currency, sumMinor: total.sumMinor.toString() })),
    problems,
    problemCount,
    durationMs: Math.round(performance.now() - startedMs),
  };
}

/** Polls checkLedger until no hold is open or the wait is over; reports what is left. */
async function waitForSettlement(input: LedgerCheckInput, timeoutMs: number, problem: (text: string) => void) {
  const deadlineMs = performance.now() + input.settleWaitMs;
  for (;;) {
    let check;
    try {
      check = await input.ledger.ask('load-check', 'checkLedger', {}, { timeoutMs });
    } catch (error) {
      problem(`checkLedger failed: ${asBiopayError(error).code}: ${asBiopayError(error).message}`);
      return undefined;
    }
    if (check.openHolds === 0 || performance.now() >= deadlineMs) {
      if (check.openHolds > 0) problem(`${check.openHolds} holds still open ${Math.round(input.settleWaitMs / 1000)} s after the run`);
      for (const text of check.problems) problem(`ledger invariant: ${text}`);
      return check;
    }
    await new Promise((resolve) => setTimeout(resolve, SETTLE_POLL_MS));
  }
}

async function getPayment(ledger: LedgerCheckInput['ledger'], entry: LedgerLogEntry, timeoutMs: number): Promise<PaymentState | Error> {
  try {
    return await ledger.ask(entry.accountId, 'getPayment', { paymentId: entry.paymentId }, { timeoutMs });
  } catch (error) {
    const reason = asBiopayError(error);
    // A payment refused before its hold, or never seen: nothing moved.
    if (reason.code === ErrorCode.UnknownPayment && entry.ending === 'none') {
      return { paymentId: entry.paymentId, state: HoldState.HOLD_STATE_UNSPECIFIED, authorizedMinor: 0n, capturedMinor: 0n, refundedMinor: 0n, currency: '' };
    }
    return new Error(`${reason.code}: ${reason.message}`);
  }
}

/** Every account the run created must hold its deposit plus what the ledger says it received. */
async function checkBalances(
  input: LedgerCheckInput, paidByAccount: ReadonlyMap<string, bigint>, timeoutMs: number, problem: (text: string) => void,
): Promise<number> {
  const accounts = [...input.customers, ...input.merchants];
  await mapLimit(accounts, input.concurrency ?? CHECK_CONCURRENCY, async (account) => {
    try {
      const state = await input.ledger.ask(account.accountId, 'getAccount', { accountId: account.accountId }, { timeoutMs });
      const expected = account.depositMinor + (paidByAccount.get(account.accountId) ?? 0n);
      if (state.balanceMinor !== expected) problem(`account ${account.accountId}: balance ${state.balanceMinor}, expected ${expected}`);
      if (state.heldMinor !== 0n) problem(`account ${account.accountId}: ${state.heldMinor} still held`);
    } catch (error) {
      problem(`account ${account.accountId}: ${asBiopayError(error).message}`);
    }
  });
  return accounts.length;
}

/**
 * A payment is captured exactly when its business step ran: a step that ran for a payment left
 * uncaptured handed goods out for nothing, a capture without one took money for nothing.
 */
async function checkBusinessSteps(
  businessSteps: BusinessStepLookup, capturedByPayment: ReadonlyMap<string, boolean>, problem: (text: string) => void,
): Promise<number> {
  const ran = await businessSteps([...capturedByPayment.keys()]);
  let unread = 0;
  for (const [paymentId, captured] of capturedByPayment) {
    const stepRan = ran.get(paymentId);
    if (stepRan === undefined) unread++;
    else if (stepRan && !captured) problem(`${paymentId}: its business step ran but the payment was not captured`);
    else if (!stepRan && captured) problem(`${paymentId} was captured but its business step did not run`);
  }
  if (unread > 0) problem(`${unread} payment(s) whose business record could not be read`);
  return capturedByPayment.size - unread;
}

function describe(state: PaymentState): string {
  return `${HoldState[state.state] ?? state.state}, authorized ${state.authorizedMinor}, captured ${state.capturedMinor}`;
}
