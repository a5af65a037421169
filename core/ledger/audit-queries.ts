/**
 * Read-only questions an operator or a load test asks after the fact: one payment's state, and
 * the whole ledger's soundness with the holds still open.
 */
import type { CheckLedgerResponse, PaymentState } from '../../proto/gen/biopay/v1/ledger.js';
import { HoldState } from '../../proto/gen/biopay/v1/ledger.js';
import type { SqlClient } from '../db/index.js';
import { BiopayError, ErrorCode } from '../errors.js';
import { checkInvariants } from './invariants.js';
import { PAYMENT_COLUMNS, paymentFromRecord, paymentStateMessage, type PaymentRecord } from './rows.js';

export async function readPayment(db: SqlClient, paymentId: string): Promise<PaymentState> {
  const { rows } = await db.query<PaymentRecord>(`SELECT ${PAYMENT_COLUMNS} FROM ledger_payments WHERE payment_id = $1`, [paymentId]);
  const row = rows[0];
  if (!row) throw new BiopayError(ErrorCode.UnknownPayment, `unknown payment ${paymentId}`);
  return paymentStateMessage(paymentFromRecord(row));
}

export async function checkLedger(db: SqlClient): Promise<CheckLedgerResponse> {
  const report = await checkInvariants(db);
  const { rows } = await db.query<{ open: bigint | string | number }>(
    'SELECT count(*) AS open FROM ledger_payments WHERE state = $1', [HoldState.HOLD_STATE_AUTHORIZED],
  );
  const totals = [...report.sumByCurrency].map(([currency, sumMinor]) => ({ currency, sumMinor }));
  return { totals, problems: report.problems, openHolds: Number(rows[0]?.open ?? 0) };
}
