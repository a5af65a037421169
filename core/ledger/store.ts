/**
 * Set-based reads and writes of the ledger tables. Every function handles many rows in one
 * statement (unnest of arrays), so a batch of payments costs a fixed number of round trips.
 * Lock order, everywhere: idempotency keys, then payments, then accounts, each sorted by id; accounts
 * a batch only credits (merchants of captures) are locked last, when the batch writes. Two batches
 * that still end in a deadlock (one debits a merchant the other credits) are retried.
 */
import { AccountKind } from '../../proto/gen/biopay/v1/ledger.js';
import type { SqlClient } from '../db/index.js';
import {
  ACCOUNT_COLUMNS,
  PAYMENT_COLUMNS,
  PAYMENT_REPLAY_COLUMNS,
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

/**
 * Locks `lockIds` (sorted) and reads `readIds` without a lock, in one statement (one round trip).
 * An id in both is locked.
 */
export async function loadLockedAndRead(tx: SqlClient, lockIds: Iterable<string>, readIds: Iterable<string>): Promise<{ locked: AccountRow[]; read: AccountRow[] }> {
  const lockSet = new Set(lockIds);
  const locking = [...lockSet].sort();
  const reading = [...new Set(readIds)].filter((id) => !lockSet.has(id)).sort();
  if (reading.length === 0) return { locked: await loadAccounts(tx, locking, true), read: [] };
  if (locking.length === 0) return { locked: [], read: await loadAccounts(tx, reading, false) };
  const { rows } = await tx.query<AccountRecord & { locked: boolean }>(
    `WITH locked AS (SELECT ${ACCOUNT_COLUMNS} FROM ledger_accounts WHERE account_id = ANY($1::text[]) ORDER BY account_id FOR UPDATE)
     SELECT true AS locked, * FROM locked
     UNION ALL
     SELECT false AS locked, ${ACCOUNT_COLUMNS} FROM ledger_accounts WHERE account_id = ANY($2::text[])`,
    [locking, reading],
  );
  const locked: AccountRow[] = [];
  const read: AccountRow[] = [];
  for (const row of rows) (row.locked ? locked : read).push(accountFromRecord(row));
  return { locked, read };
}

/** The ids of due holds (the order and limit of loadDuePayments), read without locking. */
export async function listDuePaymentIds(db: SqlClient, nowUnixMs: number, limit: number): Promise<string[]> {
  const { rows } = await db.query<{ payment_id: string }>(
    'SELECT payment_id FROM ledger_payments WHERE state = 1 AND expires_unix_ms <= $1 ORDER BY payment_id LIMIT $2',
    [nowUnixMs, limit],
  );
  return rows.map((row) => row.payment_id);
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

/** One part of a batch's write: SQL numbering its own parameters from $1, and their values. */
interface WritePart {
  sql: string;
  params: unknown[];
}

/** A request's first result under its idempotency key (idempotency.ts). */
export interface IdempotencyRecord {
  scope: string;
  key: string;
  requestHash: string;
  response: Uint8Array;
}

/** The rows a batch writes back (see writeBatch). */
export interface BatchWrites {
  nowUnixMs: number;
  /** New idempotency records, in claim order (sorted: concurrent inserts of one key meet in one order). */
  idempotencyRecords: IdempotencyRecord[];
  insertedPayments: PaymentRow[];
  updatedPayments: PaymentRow[];
  refunds: { refundId: string; paymentId: string; amountMinor: bigint; atUnixMs: number }[];
  accounts: AccountRow[];
  entries: EntryRow[];
}

/**
 * Every change of a batch in one statement, the transaction's last (its COMMIT travels with it):
 * each part a data-modifying CTE of the last. They share one snapshot, which is right here: the
 * parts touch disjoint rows (a payment is inserted or updated, never both; entries and refunds are
 * new rows). With nothing to write it sends nothing and the transaction commits on its own.
 *
 * The idempotency records travel in the same statement: a record of the same key inserted meanwhile
 * by a transaction holding other locks (same key, different body) fails it with a unique violation,
 * the transaction rolls back, and the batch is retried (retry.ts) and then answers from the record.
 */
export async function writeBatch(tx: SqlClient, writes: BatchWrites): Promise<void> {
  const parts: WritePart[] = [];
  if (writes.idempotencyRecords.length > 0) parts.push(idempotencyPart(writes.idempotencyRecords, writes.nowUnixMs));
  if (writes.insertedPayments.length > 0) parts.push({ sql: INSERT_PAYMENTS, params: insertParameters(writes.insertedPayments) });
  if (writes.updatedPayments.length > 0) parts.push({ sql: UPDATE_PAYMENTS, params: updateParameters(writes.updatedPayments) });
  if (writes.refunds.length > 0) parts.push(refundsPart(writes.refunds));
  if (writes.accounts.length > 0) parts.push(balancesPart(writes.accounts));
  if (writes.entries.length > 0) parts.push(entriesPart(writes.entries));
  if (parts.length === 0) return;
  const { sql, params } = combineParts(parts);
  await tx.queryAndCommit(sql, params);
}

function combineParts(parts: WritePart[]): WritePart {
  const params: unknown[] = [];
  const numbered = parts.map((part) => {
    const offset = params.length;
    params.push(...part.params);
    return offset === 0 ? part.sql : part.sql.replace(/\$(\d+)/g, (_, index: string) => `$${Number(index) + offset}`);
  });
  const last = numbered.pop()!;
  if (numbered.length === 0) return { sql: last, params };
  return { sql: `WITH ${numbered.map((sql, index) => `w${index} AS (${sql})`).join(', ')} ${last}`, params };
}

function idempotencyPart(records: IdempotencyRecord[], nowUnixMs: number): WritePart {
  return {
    sql: `INSERT INTO ledger_idempotency (scope, key, request_hash, response, created_unix_ms)
     SELECT u.scope, u.key, u.request_hash, decode(u.response, 'hex'), $5::int8
     FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS u(scope, key, request_hash, response)`,
    params: [records.map((r) => r.scope), records.map((r) => r.key), records.map((r) => r.requestHash), records.map((r) => toHex(r.response)), nowUnixMs],
  };
}

function balancesPart(accounts: AccountRow[]): WritePart {
  return {
    sql: `UPDATE ledger_accounts a SET balance_minor = u.balance, held_minor = u.held, last_sequence = u.seq
       FROM unnest($1::text[], $2::int8[], $3::int8[], $4::int8[]) AS u(account_id, balance, held, seq)
       WHERE a.account_id = u.account_id`,
    params: [accounts.map((r) => r.accountId), accounts.map((r) => r.balanceMinor), accounts.map((r) => r.heldMinor), accounts.map((r) => r.lastSequence)],
  };
}

function entriesPart(entries: EntryRow[]): WritePart {
  return {
    sql: `INSERT INTO ledger_entries (account_id, sequence, transfer_id, at_unix_ms, kind, reference, amount_minor, balance_after_minor)
     SELECT * FROM unnest($1::text[], $2::int8[], $3::text[], $4::int8[], $5::text[], $6::text[], $7::int8[], $8::int8[])`,
    params: [
      entries.map((r) => r.accountId), entries.map((r) => r.sequence), entries.map((r) => r.transferId), entries.map((r) => r.atUnixMs),
      entries.map((r) => r.kind), entries.map((r) => r.reference), entries.map((r) => r.amountMinor), entries.map((r) => r.balanceAfterMinor),
    ],
  };
}

function refundsPart(rows: BatchWrites['refunds']): WritePart {
  return {
    sql: `INSERT INTO ledger_refunds (refund_id, payment_id, amount_minor, at_unix_ms)
     SELECT * FROM unnest($1::text[], $2::text[], $3::int8[], $4::int8[])`,
    params: [rows.map((r) => r.refundId), rows.map((r) => r.paymentId), rows.map((r) => r.amountMinor), rows.map((r) => r.atUnixMs)],
  };
}

const INSERT_PAYMENTS = `INSERT INTO ledger_payments (${PAYMENT_REPLAY_COLUMNS})
     SELECT u.payment_id, u.account_id, u.credential_id, u.merchant_account_id, u.currency, u.state, u.authorized, u.captured,
            u.refunded, u.at, u.created, u.expires, u.request_hash, decode(u.response, 'hex'), u.capture_request
     FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int2[], $7::int8[], $8::int8[],
                 $9::int8[], $10::int8[], $11::int8[], $12::int8[], $13::text[], $14::text[], $15::int8[])
       AS u(payment_id, account_id, credential_id, merchant_account_id, currency, state, authorized, captured,
            refunded, at, created, expires, request_hash, response, capture_request)`;

const UPDATE_PAYMENTS = `UPDATE ledger_payments p SET state = u.state, captured_minor = u.captured, refunded_minor = u.refunded,
       capture_request_minor = coalesce(u.capture_request, p.capture_request_minor)
     FROM unnest($1::text[], $2::int2[], $3::int8[], $4::int8[], $5::int8[]) AS u(payment_id, state, captured, refunded, capture_request)
     WHERE p.payment_id = u.payment_id`;

function insertParameters(rows: PaymentRow[]): unknown[] {
  return [
    rows.map((r) => r.paymentId), rows.map((r) => r.accountId), rows.map((r) => r.credentialId),
    rows.map((r) => r.merchantAccountId), rows.map((r) => r.currency), rows.map((r) => r.state),
    rows.map((r) => r.authorizedMinor), rows.map((r) => r.capturedMinor), rows.map((r) => r.refundedMinor),
    rows.map((r) => r.atUnixMs), rows.map((r) => r.createdUnixMs), rows.map((r) => r.expiresUnixMs),
    rows.map((r) => r.authorizeRecord?.requestHash ?? null), rows.map((r) => (r.authorizeRecord ? toHex(r.authorizeRecord.response) : null)),
    rows.map((r) => r.captureRequestMinor ?? null),
  ];
}

function updateParameters(rows: PaymentRow[]): unknown[] {
  return [
    rows.map((r) => r.paymentId), rows.map((r) => r.state), rows.map((r) => r.capturedMinor), rows.map((r) => r.refundedMinor),
    rows.map((r) => r.captureRequestMinor ?? null),
  ];
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}
