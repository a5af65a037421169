/**
 * Runs many money-moving requests in one transaction, in order, with a fixed number of statements
 * per batch: lock payments then accounts (sorted), read the idempotency records of the batch's keys,
 * apply every new request in memory, write everything back with the new records. A request that
 * fails changes nothing, records nothing (a retry is evaluated afresh) and fails alone.
 */
import { AccountKind } from '../../proto/gen/biopay/v1/ledger.js';
import { asBiopayError, BiopayError, ErrorCode, isBiopayError } from '../errors.js';
import { sqlState, type SqlClient } from '../db/index.js';
import { claimId, loadStoredResults, recordResults, replay, type Claim, type StoredResult } from './idempotency.js';
import { applyAuthorize, applyCapture, applyDeposit, applyExpire, applyRefund, applyVoid, type OperationContext } from './operations.js';
import { claimOf, depositTransferKey, responseCodec, validateOp, type LedgerOp, type OpResult, type Outcome } from './requests.js';
import { fundingAccountId } from './rows.js';
import { ensureFundingAccounts } from './store.js';
import { inTransaction } from './retry.js';
import { WorkingSet } from './working-set.js';

export interface BatchContext extends OperationContext {
  nowUnixMs: () => number;
}

interface Prepared {
  index: number;
  op: LedgerOp;
  claim: Claim | undefined;
}

/**
 * The batch in a transaction, retried on deadlock or serialization failure; on any other error a
 * batch of several falls back to one transaction per request, in order, so a bad one fails alone.
 */
export async function runBatch(db: SqlClient, ops: LedgerOp[], context: BatchContext): Promise<Outcome[]> {
  try {
    return await inTransaction(db, (tx) => executeBatch(tx, ops, context));
  } catch (error) {
    if (ops.length > 1) return runOneByOne(db, ops, context);
    return [{ ok: false, error: databaseError(error) }];
  }
}

async function runOneByOne(db: SqlClient, ops: LedgerOp[], context: BatchContext): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  for (const op of ops) outcomes.push(...(await runBatch(db, [op], context)));
  return outcomes;
}

export async function executeBatch(tx: SqlClient, ops: LedgerOp[], context: BatchContext): Promise<Outcome[]> {
  const outcomes: (Outcome | undefined)[] = new Array(ops.length);
  const { primaries, followers } = prepare(ops, outcomes);
  const ws = new WorkingSet(tx, context.nowUnixMs());
  await loadFor(ws, primaries);
  // Read after locking: whoever recorded one of these keys held the same locks until it committed.
  const stored = await loadStoredResults(tx, primaries.flatMap((item) => (item.claim ? [item.claim] : [])));
  const recorded: { claim: Claim; response: Uint8Array }[] = [];
  for (const item of primaries) {
    const previous = item.claim && stored.get(claimId(item.claim.scope, item.claim.key));
    if (previous) {
      outcomes[item.index] = settle(() => replay(responseCodec(item.op.kind), item.claim!, previous));
      continue;
    }
    const outcome = await applyOne(ws, item.op, context);
    outcomes[item.index] = outcome;
    if (item.claim && outcome.ok) recorded.push({ claim: item.claim, response: responseCodec(item.op.kind).encode(outcome.value).finish() });
  }
  await ws.flush();
  // A key recorded meanwhile by a transaction holding other locks (same key, different body) fails
  // this insert with a unique violation: the batch is retried and then answers from the record.
  await recordResults(tx, recorded, ws.nowUnixMs);
  resolveFollowers(followers, primaries, stored, outcomes);
  return outcomes as Outcome[];
}

/** Static checks, and one primary per idempotency key: later duplicates in the batch follow it. */
function prepare(ops: LedgerOp[], outcomes: (Outcome | undefined)[]): { primaries: Prepared[]; followers: Prepared[] } {
  const primaries: Prepared[] = [];
  const followers: Prepared[] = [];
  const seen = new Set<string>();
  ops.forEach((op, index) => {
    try {
      validateOp(op);
      const claim = claimOf(op);
      const id = claim && claimId(claim.scope, claim.key);
      if (id !== undefined && seen.has(id)) {
        followers.push({ index, op, claim });
        return;
      }
      if (id !== undefined) seen.add(id);
      primaries.push({ index, op, claim });
    } catch (error) {
      outcomes[index] = { ok: false, error: asBiopayError(error) };
    }
  });
  return { primaries, followers };
}

/** Payments first, then accounts, each sorted: the lock order every ledger transaction follows. */
async function loadFor(ws: WorkingSet, active: Prepared[]): Promise<void> {
  const paymentIds: string[] = [];
  for (const { op } of active) if (op.kind !== 'authorize' && op.kind !== 'deposit') paymentIds.push(op.request.paymentId);
  await ws.loadPayments(paymentIds);
  const lockIds = new Set<string>();
  const readIds = new Set<string>();
  const credentialIds = new Set<string>();
  const depositIds: string[] = [];
  for (const { op } of active) {
    if (op.kind === 'authorize') {
      lockIds.add(op.request.accountId);
      readIds.add(op.request.merchantAccountId);
      credentialIds.add(op.request.credentialId);
    } else if (op.kind === 'deposit') {
      depositIds.push(op.request.accountId);
    } else {
      const payment = ws.payment(op.request.paymentId);
      if (payment) lockIds.add(payment.accountId);
      if (payment && op.kind !== 'void') lockIds.add(payment.merchantAccountId);
    }
  }
  for (const id of await fundingAccountsFor(ws, depositIds)) lockIds.add(id);
  for (const id of depositIds) lockIds.add(id);
  await ws.loadAccounts(lockIds, readIds);
  await ws.loadCredentials(credentialIds);
}

/** Deposits need their currency's funding account, which is created on first use. */
async function fundingAccountsFor(ws: WorkingSet, depositIds: string[]): Promise<string[]> {
  if (depositIds.length === 0) return [];
  const reader = new WorkingSet(ws.tx, ws.nowUnixMs);
  await reader.loadAccounts([], depositIds);
  const currencies = new Set<string>();
  for (const id of depositIds) {
    const account = reader.account(id);
    if (account && account.kind !== AccountKind.ACCOUNT_KIND_FUNDING) currencies.add(account.currency);
  }
  await ensureFundingAccounts(ws.tx, currencies, ws.nowUnixMs);
  return [...currencies].map(fundingAccountId);
}

async function applyOne(ws: WorkingSet, op: LedgerOp, context: OperationContext): Promise<Outcome> {
  try {
    return { ok: true, value: await dispatch(ws, op, context) };
  } catch (error) {
    // An INTERNAL error may have left the working set half changed: the whole batch must abort.
    if (!isBiopayError(error) || error.code === ErrorCode.Internal) throw error;
    return { ok: false, error };
  }
}

function dispatch(ws: WorkingSet, op: LedgerOp, context: OperationContext): Promise<OpResult> | OpResult {
  switch (op.kind) {
    case 'authorize': return applyAuthorize(ws, op.request, context);
    case 'capture': return applyCapture(ws, op.request);
    case 'void': return applyVoid(ws, op.request);
    case 'refund': return applyRefund(ws, op.request);
    case 'deposit': return applyDeposit(ws, op.request, depositTransferKey(op.request));
  }
}

function resolveFollowers(
  followers: Prepared[],
  primaries: Prepared[],
  stored: Map<string, StoredResult>,
  outcomes: (Outcome | undefined)[],
): void {
  const primaryById = new Map(primaries.map((item) => [claimId(item.claim?.scope ?? '', item.claim?.key ?? ''), item]));
  for (const follower of followers) {
    const id = claimId(follower.claim!.scope, follower.claim!.key);
    const primary = primaryById.get(id)!;
    const previous = stored.get(id);
    if (previous) {
      outcomes[follower.index] = settle(() => replay(responseCodec(follower.op.kind), follower.claim!, previous));
    } else {
      outcomes[follower.index] = primary.claim!.requestHash === follower.claim!.requestHash
        ? outcomes[primary.index]
        : { ok: false, error: conflict(follower.claim!) };
    }
  }
}

function conflict(claim: Claim): BiopayError {
  return new BiopayError(ErrorCode.IdempotencyConflict, `${claim.scope} "${claim.key}" was already used with a different request`);
}

function settle(fn: () => OpResult): Outcome {
  try {
    return { ok: true, value: fn() };
  } catch (error) {
    return { ok: false, error: asBiopayError(error) };
  }
}

/** Connection trouble is UNAVAILABLE (retry later); anything else the database refused is a bug. */
function databaseError(error: unknown): BiopayError {
  if (error instanceof BiopayError) return error;
  const state = sqlState(error);
  const code = state === undefined || state.startsWith('08') ? ErrorCode.Unavailable : ErrorCode.Internal;
  return new BiopayError(code, 'ledger database error', { cause: error });
}

/** Expires due holds (void semantics) in one transaction; skips holds another transaction is using. */
export async function expireDueHolds(db: SqlClient, nowUnixMs: number, limit: number): Promise<number> {
  return inTransaction(db, async (tx) => {
    const ws = new WorkingSet(tx, nowUnixMs);
    const due = await ws.loadDuePayments(limit);
    await ws.loadAccounts(due.map((payment) => payment.accountId));
    for (const payment of due) applyExpire(ws, payment);
    await ws.flush();
    return due.length;
  });
}

