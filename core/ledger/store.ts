/**
 * Set-based reads and writes of the ledger tables. Every function handles many rows in one
 * statement (unnest of arrays), so a batch of payments costs a fixed number of round trips.
 * Lock order, everywhere: idempotency keys, then payments, then accounts, each sorted by id.
 */
import { AccountKind } from '../../proto/gen/biopay/v1/ledger.js';
import type { SqlClient } from '../db/index.js';
import {
  ACCOUNT_COLUMNS,
  PAYMENT_COLUMNS,
  accountFromRecord,
  credentialFromRecord,
  fundingAccountId,
  paymentFromRecord,
  type AccountRecord,
  type AccountRow,
  type CredentialRecord,
  type CredentialRow,
  type EntryRow,
  type PaymentRecord,
  type PaymentRow,
} from './rows.js';

export async function loadAccounts(tx: SqlClient, ids: Iterable<string>, lock: boolean): Promise<AccountRow[]> {
  const sorted = [...new Set(ids)].sort();
  if (sorted.length === 0) return [];
  const { rows } = await tx.query<AccountRecord>(
    `SELECT ${ACCOUNT_COLUMNS} FROM ledger_accounts WHERE account_id = ANY($1::text[]) ORDER BY account_id${lock ? ' FOR UPDATE' : ''}`,
    [sorted],
  );
  return rows.map(accountFromRecord);
}

export async function loadPayments(tx: SqlClient, ids: Iterable<string>): Promise<PaymentRow[]> {
  const sorted = [...new Set(ids)].sort();
  if (sorted.length === 0) return [];
  const { rows } = await tx.query<PaymentRecord>(
    `SELECT ${PAYMENT_COLUMNS} FROM ledger_payments WHERE payment_id = ANY($1::text[]) ORDER BY payment_id FOR UPDATE`,
    [sorted],
  );
  return rows.map(paymentFromRecord);
}

/** Authorized holds due at `nowUnixMs`; rows another transaction holds are skipped, not waited on. */
export async function loadDuePayments(tx: SqlClient, nowUnixMs: number, limit: number): Promise<PaymentRow[]> {
  const { rows } = await tx.query<PaymentRecord>(
    `SELECT ${PAYMENT_COLUMNS} FROM ledger_payments WHERE state = 1 AND expires_unix_ms <= $1
     ORDER BY payment_id LIMIT $2 FOR UPDATE SKIP LOCKED`,
    [nowUnixMs, limit],
  );
  return rows.map(paymentFromRecord);
}

export async function loadCredentials(tx: SqlClient, ids: Iterable<string>): Promise<CredentialRow[]> {
  const unique = [...new Set(ids)];
  if (unique.length === 0) return [];
  const { rows } = await tx.query<CredentialRecord>(
    'SELECT credential_id, account_id, policy FROM ledger_credentials WHERE credential_id = ANY($1::text[])',
    [unique],
  );
  return rows.map(credentialFromRecord);
}

/** Committed usage of a credential since `sinceUnixMs`: held + captured net of refunds, and count. */
export async function loadUsage(
  tx: SqlClient,
  credentialId: string,
  sinceUnixMs: number,
): Promise<{ amountMinor: bigint; count: number }> {
  const { rows } = await tx.query<{ amount: string; count: bigint }>(
    `SELECT coalesce(sum(CASE WHEN state = 1 THEN authorized_minor ELSE captured_minor - refunded_minor END), 0)::text AS amount,
            count(*) FILTER (WHERE state = 1 OR captured_minor > refunded_minor) AS count
     FROM ledger_payments WHERE credential_id = $1 AND at_unix_ms >= $2 AND state IN (1, 2)`,
    [credentialId, sinceUnixMs],
  );
  const row = rows[0];
  return { amountMinor: BigInt(row?.amount ?? '0'), count: Number(row?.count ?? 0) };
}

/** One funding account per currency, created on first use by whoever needs it first. */
export async function ensureFundingAccounts(tx: SqlClient, currencies: Iterable<string>, nowUnixMs: number): Promise<void> {
  const sorted = [...new Set(currencies)].sort();
  if (sorted.length === 0) return;
  await tx.query(
    `INSERT INTO ledger_accounts (account_id, owner, currency, kind, time_zone, created_unix_ms)
     SELECT u.account_id, 'funding', u.currency, $3, '', $4::int8 FROM unnest($1::text[], $2::text[]) AS u(account_id, currency)
     ON CONFLICT DO NOTHING`,
    [sorted.map(fundingAccountId), sorted, AccountKind.ACCOUNT_KIND_FUNDING, nowUnixMs],
  );
}

export async function insertAccount(tx: SqlClient, row: AccountRow, nowUnixMs: number): Promise<void> {
  await tx.query(
    `INSERT INTO ledger_accounts (account_id, owner, currency, kind, time_zone, created_unix_ms) VALUES ($1, $2, $3, $4, $5, $6)`,
    [row.accountId, row.owner, row.currency, row.kind, row.timeZone, nowUnixMs],
  );
}

export async function updateAccounts(tx: SqlClient, rows: AccountRow[]): Promise<void> {
  if (rows.length === 0) return;
  await tx.query(
    `UPDATE ledger_accounts a SET balance_minor = u.balance, held_minor = u.held, last_sequence = u.seq
     FROM unnest($1::text[], $2::int8[], $3::int8[], $4::int8[]) AS u(account_id, balance, held, seq)
     WHERE a.account_id = u.account_id`,
    [rows.map((r) => r.accountId), rows.map((r) => r.balanceMinor), rows.map((r) => r.heldMinor), rows.map((r) => r.lastSequence)],
  );
}

export async function insertEntries(tx: SqlClient, rows: EntryRow[]): Promise<void> {
  if (rows.length === 0) return;
  await tx.query(
    `INSERT INTO ledger_entries (account_id, sequence, transfer_id, at_unix_ms, kind, reference, amount_minor, balance_after_minor)
     SELECT * FROM unnest($1::text[], $2::int8[], $3::text[], $4::int8[], $5::text[], $6::text[], $7::int8[], $8::int8[])`,
    [
      rows.map((r) => r.accountId), rows.map((r) => r.sequence), rows.map((r) => r.transferId), rows.map((r) => r.atUnixMs),
      rows.map((r) => r.kind), rows.map((r) => r.reference), rows.map((r) => r.amountMinor), rows.map((r) => r.balanceAfterMinor),
    ],
  );
}

export async function insertPayments(tx: SqlClient, rows: PaymentRow[]): Promise<void> {
  if (rows.length === 0) return;
  await tx.query(
    `INSERT INTO ledger_payments (${PAYMENT_COLUMNS})
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int2[], $7::int8[], $8::int8[],
                          $9::int8[], $10::int8[], $11::int8[], $12::int8[])`,
    [
      rows.map((r) => r.paymentId), rows.map((r) => r.accountId), rows.map((r) => r.credentialId),
      rows.map((r) => r.merchantAccountId), rows.map((r) => r.currency), rows.map((r) => r.state),
      rows.map((r) => r.authorizedMinor), rows.map((r) => r.capturedMinor), rows.map((r) => r.refundedMinor),
      rows.map((r) => r.atUnixMs), rows.map((r) => r.createdUnixMs), rows.map((r) => r.expiresUnixMs),
    ],
  );
}

export async function updatePayments(tx: SqlClient, rows: PaymentRow[]): Promise<void> {
  if (rows.length === 0) return;
  await tx.query(
    `UPDATE ledger_payments p SET state = u.state, captured_minor = u.captured, refunded_minor = u.refunded
     FROM unnest($1::text[], $2::int2[], $3::int8[], $4::int8[]) AS u(payment_id, state, captured, refunded)
     WHERE p.payment_id = u.payment_id`,
    [rows.map((r) => r.paymentId), rows.map((r) => r.state), rows.map((r) => r.capturedMinor), rows.map((r) => r.refundedMinor)],
  );
}

export async function insertRefunds(
  tx: SqlClient,
  rows: { refundId: string; paymentId: string; amountMinor: bigint; atUnixMs: number }[],
): Promise<void> {
  if (rows.length === 0) return;
  await tx.query(
    `INSERT INTO ledger_refunds (refund_id, payment_id, amount_minor, at_unix_ms)
     SELECT * FROM unnest($1::text[], $2::text[], $3::int8[], $4::int8[])`,
    [rows.map((r) => r.refundId), rows.map((r) => r.paymentId), rows.map((r) => r.amountMinor), rows.map((r) => r.atUnixMs)],
  );
}
