/**
 * Runs many money-moving requests in one transaction, in order, with a fixed number of statements
 * per batch: lock payments then accounts (sorted), read the idempotency records of the batch's keys,
 * apply every new request in memory, write everything back with the new records. A request that
 * fails changes nothing, records nothing (a retry is evaluated afresh) and fails alone.
 */
import { AccountKind, CaptureRequest, HoldState, PaymentState, type AuthorizeResponse } from '../../proto/gen/biopay/v1/ledger.js';
import { asBiopayError, BiopayError, ErrorCode, isBiopayError } from '../errors.js';
import { sqlState, type SqlClient } from '../db/index.js';
import { claimId, loadStoredResults, recordsInClaimOrder, replay, requestHash, type Claim, type StoredResult } from './idempotency.js';
import { applyAuthorize, applyCapture, applyDeposit, applyRefund, applyVoid, type OperationContext } from './operations.js';
import { claimOf, depositTransferKey, responseCodec, validateOp, type LedgerOp, type OpResult, type Outcome } from './requests.js';
import { fundingAccountId, paymentStateMessage } from './rows.js';
import { ensureFundingAccounts } from './store.js';
import { inTransaction } from './retry.js';
import { emptyReadPlan } from './batch-read.js';
import { WorkingSet } from './working-set.js';
import { encodeMessage } from '../protobuf.js';

export interface BatchContext extends OperationContext {
  nowUnixMs: () => number;
}

interface Prepared {
  index: number;
  op: LedgerOp;
  claim: Claim | undefined;
}

/** A batch finds every row it reads or writes by key (batch-read.ts, store.ts): index plans, planned once. */
const KEY_LOOKUPS = { planning: 'keyLookups' } as const;

/**
 * The batch in a transaction, retried on deadlock or serialization failure; on any other error a
 * batch of several falls back to one transaction per request, in order, so a bad one fails alone.
 */

export async function runBatch(db: SqlClient, ops: LedgerOp[], context: BatchContext): Promise<Outcome[]> {
  try {
    return await inTransaction(db, (tx) => executeBatch(tx, ops, context), KEY_LOOKUPS);
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
  const items = prepare(ops, outcomes);
  const ws = new WorkingSet(tx, context.nowUnixMs());
  await loadFor(ws, items);
  // Read after locking: whoever recorded one of these keys held the same locks until it committed.
  const stored = await loadStoredResults(tx, items.flatMap((item) => (item.claim && !isPaymentBacked(item.op) ? [item.claim] : [])));
  for (const item of items) storedInPayment(ws, item, stored);
  const recorded: { claim: Claim; response: Uint8Array }[] = [];
  // First successes of this batch by key: a later request with that key answers like a retry, one
  // after a failure is applied afresh, exactly as if the requests had come one at a time.
  const firsts = new Map<string, { claim: Claim; value: OpResult }>();
  for (const item of items) {
    const id = item.claim && claimId(item.claim.scope, item.claim.key);
    const previous = id !== undefined ? stored.get(id) : undefined;
    const first = id !== undefined ? firsts.get(id) : undefined;
    if (previous) {
      outcomes[item.index] = settle(() => replayed(item.op, replay(responseCodec(item.op.kind), item.claim!, previous)));
    } else if (first) {
      outcomes[item.index] = first.claim.requestHash === item.claim!.requestHash
        ? { ok: true, value: replayed(item.op, first.value) }
        : { ok: false, error: conflict(item.claim!) };
    } else {
      const outcome = await applyOne(ws, item.op, context);
      outcomes[item.index] = outcome;
      if (id !== undefined && outcome.ok) {
        record(ws, item, outcome.value, recorded);
        firsts.set(id, { claim: item.claim!, value: outcome.value });
      }
    }
  }
  // Written by the batch's last statement (a key recorded meanwhile fails it: see store.writeBatch).
  await ws.flush(recordsInClaimOrder(recorded));
  return outcomes as Outcome[];
}

/**
 * A first result answered again. An authorize says so (AuthorizeResponse.firstAnswer false): its
 * caller learns that the hold is not its own doing, and a terminal then makes its business node
 * look for an earlier execution. A copy: the first answer (a batch neighbour's) stays as it was.
 */
function replayed(op: LedgerOp, value: OpResult): OpResult {
  return op.kind === 'authorize' ? { ...(value as AuthorizeResponse), firstAnswer: false } : value;
}

/** Authorize and capture keep their idempotency record in the payment row (see schema.ts). */
function isPaymentBacked(op: LedgerOp): op is Extract<LedgerOp, { kind: 'authorize' | 'capture' }> {
  return op.kind === 'authorize' || op.kind === 'capture';
}

/** The first result of an authorize or capture, read from its locked payment row. */
function storedInPayment(ws: WorkingSet, item: Prepared, stored: Map<string, StoredResult>): void {
  const { op, claim } = item;
  if (!claim || !isPaymentBacked(op)) return;
  const payment = ws.payment(op.request.paymentId);
  if (op.kind === 'authorize' && payment?.authorizeRecord) {
    stored.set(claimId(claim.scope, claim.key), payment.authorizeRecord);
  } else if (op.kind === 'capture' && payment?.captureRequestMinor !== undefined) {
    // The answer of a capture is the row as it was captured: nothing refunded yet.
    const answer = paymentStateMessage({ ...payment, state: HoldState.HOLD_STATE_CAPTURED, refundedMinor: 0n });
    stored.set(claimId(claim.scope, claim.key), {
      requestHash: requestHash(CaptureRequest, { paymentId: payment.paymentId, amountMinor: payment.captureRequestMinor }),
      response: encodeMessage(PaymentState, answer),
    });
  }
}

/** A first result: into the payment row for authorize (capture's needs nothing more), else a record. */
function record(ws: WorkingSet, item: Prepared, value: OpResult, recorded: { claim: Claim; response: Uint8Array }[]): void {
  const claim = item.claim!;
  if (item.op.kind === 'authorize') {
    const payment = ws.payment(item.op.request.paymentId)!;
    payment.authorizeRecord = { requestHash: claim.requestHash, response: encodeMessage(responseCodec('authorize'), value) };
  } else if (item.op.kind !== 'capture') {
    recorded.push({ claim, response: encodeMessage(responseCodec(item.op.kind), value) });
  }
}

/** Static checks: a request no database state could make valid fails here, alone. */
function prepare(ops: LedgerOp[], outcomes: (Outcome | undefined)[]): Prepared[] {
  const items: Prepared[] = [];
  ops.forEach((op, index) => {
    try {
      validateOp(op);
      items.push({ index, op, claim: claimOf(op) });
    } catch (error) {
      outcomes[index] = { ok: false, error: asBiopayError(error) };
    }
  });
  return items;
}

/**
 * Payments first, then accounts, each sorted: the lock order every ledger transaction follows. A
 * capture's merchant is only credited, so it is locked at write time (see WorkingSet.flush).
 */
async function loadFor(ws: WorkingSet, active: Prepared[]): Promise<void> {
  const plan = emptyReadPlan();
  const depositIds: string[] = [];
  for (const { op } of active) {
    if (op.kind === 'deposit') {
      depositIds.push(op.request.accountId);
      continue;
    }
    plan.paymentIds.push(op.request.paymentId);
    if (op.kind === 'authorize') {
      // An authorize's own row, if it exists, is its first result.
      plan.replayIds.add(op.request.paymentId);
      plan.lockIds.push(op.request.accountId);
      plan.readIds.push(op.request.merchantAccountId);
      plan.credentialIds.push(op.request.credentialId);
    } else {
      plan.lockPayerOf.push(op.request.paymentId);
      if (op.kind === 'refund') plan.lockMerchantOf.push(op.request.paymentId);
      if (op.kind === 'capture') plan.readMerchantOf.push(op.request.paymentId);
    }
  }
  // Before any lock: only a currency's first deposit writes here (its funding account), and a
  // deadlock that might cause is retried like any other.
  plan.lockIds.push(...depositIds, ...(await fundingAccountsFor(ws, depositIds)));
  await ws.loadBatch(plan);
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

