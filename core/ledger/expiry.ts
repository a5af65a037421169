/**
 * Holds past their expiry, settled by what became of their business step. A terminal that
 * vanished (or could not reach the ledger) between the business step and the capture leaves its
 * hold open; by the hold's expiry the business step's deadline is long past, so its record is
 * final. A hold whose business step ran (the gate opened, the goods went out) is captured in full:
 * releasing it would hand the goods out for nothing. Any other hold is released (EXPIRED). A
 * payment whose record cannot be read now stays held until a later sweep can read it: funds held
 * a little longer cost nobody money, a wrong guess does.
 */
import { HoldState } from '../../proto/gen/biopay/v1/ledger.js';
import type { SqlClient } from '../db/index.js';
import { applyExpiry } from './operations.js';
import { inTransaction } from './retry.js';
import { listDuePaymentIds } from './store.js';
import { WorkingSet } from './working-set.js';

/**
 * What the business tier recorded for each payment asked about: true when its business step ran
 * and succeeded, false when it failed or never ran. A payment left out of the map could not be
 * looked up now; its hold is left for a later sweep.
 */
export type BusinessStepLookup = (paymentIds: readonly string[]) => Promise<ReadonlyMap<string, boolean>>;

/** What one sweep did. */
export interface ExpiredHoldsSettled {
  /** Holds captured in full because their business step ran. */
  captured: number;
  /** Holds released (EXPIRED). */
  expired: number;
  /** Due holds left held: their business step could not be looked up. */
  undecided: number;
}

/**
 * Settles up to `limit` due holds in one transaction, skipping holds another transaction is
 * using. Without `businessSteps` every due hold is released (a ledger used without a business
 * tier). The lookup runs before the transaction, so no row stays locked while it waits.
 */
export async function settleExpiredHolds(
  db: SqlClient, nowUnixMs: number, limit: number, businessSteps?: BusinessStepLookup,
): Promise<ExpiredHoldsSettled> {
  const ran = businessSteps ? await lookUpDue(db, nowUnixMs, limit, businessSteps) : undefined;
  if (ran !== undefined && ran.fates.size === 0) return { captured: 0, expired: 0, undecided: ran.undecided };
  return inTransaction(db, async (tx) => {
    const ws = new WorkingSet(tx, nowUnixMs);
    const due = await ws.loadDuePayments(limit);
    // Only what was looked up is decided: a hold that fell due since then waits for the next sweep.
    const decided = ran === undefined ? due : due.filter((payment) => ran.fates.has(payment.paymentId));
    const capture = (paymentId: string) => ran?.fates.get(paymentId) === true;
    const merchants = decided.filter((payment) => capture(payment.paymentId)).map((payment) => payment.merchantAccountId);
    await ws.loadAccounts([...decided.map((payment) => payment.accountId), ...merchants]);
    const settled: ExpiredHoldsSettled = { captured: 0, expired: 0, undecided: ran?.undecided ?? 0 };
    for (const payment of decided) {
      const state = applyExpiry(ws, payment, capture(payment.paymentId));
      if (state === HoldState.HOLD_STATE_CAPTURED) settled.captured++;
      else if (state === HoldState.HOLD_STATE_EXPIRED) settled.expired++;
    }
    await ws.flush();
    return settled;
  });
}

async function lookUpDue(
  db: SqlClient, nowUnixMs: number, limit: number, businessSteps: BusinessStepLookup,
): Promise<{ fates: ReadonlyMap<string, boolean>; undecided: number }> {
  const paymentIds = await listDuePaymentIds(db, nowUnixMs, limit);
  if (paymentIds.length === 0) return { fates: new Map(), undecided: 0 };
  const fates = await businessSteps(paymentIds);
  return { fates, undecided: paymentIds.filter((paymentId) => !fates.has(paymentId)).length };
}
