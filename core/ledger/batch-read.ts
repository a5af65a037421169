/**
 * Everything a batch of payment requests reads, in one statement (one round trip instead of three):
 * its payments locked, then its accounts locked (sorted, the lock order of store.ts), the accounts it
 * only reads, and its credentials. Accounts named by a payment (a capture's payer, a refund's
 * merchant) are found from the locked payment rows inside the statement, so the lock set is the one
 * loadPayments then loadLockedAndRead would take, in the same order.
 *
 * The four row kinds come back as one UNION ALL: each branch fills its own columns (aliased apart)
 * and leaves the others NULL; `part` tells them apart. Account ids are gathered into an array
 * first so that both account reads are primary-key lookups (an OR of subqueries plans a scan).
 */
import type { SqlClient } from '../db/index.js';
import {
  accountFromRecord,
  credentialFromRecord,
  paymentFromRecord,
  type AccountRecord,
  type AccountRow,
  type CredentialRow,
  type PaymentRecord,
  type PaymentRow,
} from './rows.js';

export interface BatchReadPlan {
  /** Payments the batch names; `replayIds` of them also return their authorize record. */
  paymentIds: Iterable<string>;
  replayIds: ReadonlySet<string>;
  /** Accounts locked by id (an authorize's payer). */
  lockIds: Iterable<string>;
  /** Payments whose payer is locked (capture, void, refund). */
  lockPayerOf: Iterable<string>;
  /** Payments whose merchant is locked too (refund). */
  lockMerchantOf: Iterable<string>;
  /** Accounts read without a lock (an authorize's merchant), unless locked. */
  readIds: Iterable<string>;
  /** Payments whose merchant is read without a lock (capture: credited at write time), unless locked. */
  readMerchantOf: Iterable<string>;
  credentialIds: Iterable<string>;
}

export interface BatchState {
  payments: PaymentRow[];
  locked: AccountRow[];
  read: AccountRow[];
  credentials: CredentialRow[];
}

/**
 * A group's columns as NULLs, typed and named: a UNION takes its column names from its first
 * branch and resolves types pairwise (an all-NULL pair would become text).
 */
const nulls = (columns: string) =>
  columns.split(', ').map((column) => {
    const [name, type] = column.split(' ');
    return `NULL::${type} AS ${name}`;
  }).join(', ');
const PAYMENT_PART = `p.payment_id AS pay_payment_id, p.account_id AS pay_account_id, p.credential_id AS pay_credential_id,
  p.merchant_account_id AS pay_merchant_account_id, p.currency AS pay_currency, p.state AS pay_state,
  p.authorized_minor AS pay_authorized_minor, p.captured_minor AS pay_captured_minor, p.refunded_minor AS pay_refunded_minor,
  p.at_unix_ms AS pay_at_unix_ms, p.created_unix_ms AS pay_created_unix_ms, p.expires_unix_ms AS pay_expires_unix_ms,
  p.request_hash AS pay_request_hash, p.authorize_response AS pay_authorize_response, p.capture_request_minor AS pay_capture_request_minor`;
const PAYMENT_NULLS = nulls(
  'pay_payment_id text, pay_account_id text, pay_credential_id text, pay_merchant_account_id text, pay_currency text, ' +
    'pay_state int2, pay_authorized_minor int8, pay_captured_minor int8, pay_refunded_minor int8, pay_at_unix_ms int8, ' +
    'pay_created_unix_ms int8, pay_expires_unix_ms int8, pay_request_hash text, pay_authorize_response bytea, pay_capture_request_minor int8',
);
const ACCOUNT_PART = 'a.account_id, a.owner, a.currency, a.kind, a.time_zone, a.balance_minor, a.held_minor, a.last_sequence';
const ACCOUNT_NULLS = nulls('account_id text, owner text, currency text, kind int2, time_zone text, balance_minor int8, held_minor int8, last_sequence int8');
const CREDENTIAL_PART = 'c.credential_id AS cred_credential_id, c.account_id AS cred_account_id, c.policy AS cred_policy';
const CREDENTIAL_NULLS = nulls('cred_credential_id text, cred_account_id text, cred_policy bytea');

const LOAD_BATCH_STATE = `WITH p AS (
    SELECT p.payment_id, p.account_id, p.credential_id, p.merchant_account_id, p.currency, p.state, p.authorized_minor,
           p.captured_minor, p.refunded_minor, p.at_unix_ms, p.created_unix_ms, p.expires_unix_ms,
           CASE WHEN u.replay THEN p.request_hash END AS request_hash,
           CASE WHEN u.replay THEN p.authorize_response END AS authorize_response, p.capture_request_minor
    FROM unnest($1::text[], $2::bool[]) AS u(payment_id, replay) JOIN ledger_payments p USING (payment_id)
    ORDER BY payment_id FOR UPDATE OF p),
  l AS (
    SELECT a.* FROM ledger_accounts a
    WHERE a.account_id = ANY (ARRAY(
      SELECT unnest($3::text[])
      UNION SELECT account_id FROM p WHERE payment_id = ANY($4::text[])
      UNION SELECT merchant_account_id FROM p WHERE payment_id = ANY($5::text[])))
    ORDER BY a.account_id FOR UPDATE)
  SELECT 1 AS part, ${PAYMENT_PART}, ${ACCOUNT_NULLS}, ${CREDENTIAL_NULLS} FROM p
  UNION ALL
  SELECT 2, ${PAYMENT_NULLS}, ${ACCOUNT_PART}, ${CREDENTIAL_NULLS} FROM l a
  UNION ALL
  SELECT 3, ${PAYMENT_NULLS}, ${ACCOUNT_PART}, ${CREDENTIAL_NULLS} FROM ledger_accounts a
  WHERE a.account_id = ANY (ARRAY(SELECT unnest($6::text[]) UNION SELECT merchant_account_id FROM p WHERE payment_id = ANY($7::text[])))
    AND a.account_id NOT IN (SELECT account_id FROM l)
  UNION ALL
  SELECT 4, ${PAYMENT_NULLS}, ${ACCOUNT_NULLS}, ${CREDENTIAL_PART} FROM ledger_credentials c WHERE c.credential_id = ANY($8::text[])`;

type StateRecord = { part: number } & AccountRecord & {
  [Column in keyof PaymentRecord as `pay_${Column}`]: PaymentRecord[Column];
} & { cred_credential_id: string; cred_account_id: string; cred_policy: Uint8Array };

const unique = (ids: Iterable<string>) => [...new Set(ids)].sort();

export async function loadBatchState(tx: SqlClient, plan: BatchReadPlan): Promise<BatchState> {
  const paymentIds = unique(plan.paymentIds);
  const { rows } = await tx.query<StateRecord>(LOAD_BATCH_STATE, [
    paymentIds, paymentIds.map((id) => plan.replayIds.has(id)), unique(plan.lockIds), unique(plan.lockPayerOf),
    unique(plan.lockMerchantOf), unique(plan.readIds), unique(plan.readMerchantOf), unique(plan.credentialIds),
  ]);
  const state: BatchState = { payments: [], locked: [], read: [], credentials: [] };
  for (const row of rows) {
    const part = Number(row.part);
    if (part === 1) state.payments.push(paymentFromRecord(paymentRecord(row)));
    else if (part === 2) state.locked.push(accountFromRecord(row));
    else if (part === 3) state.read.push(accountFromRecord(row));
    else state.credentials.push(credentialFromRecord({ credential_id: row.cred_credential_id, account_id: row.cred_account_id, policy: row.cred_policy }));
  }
  return state;
}

function paymentRecord(row: StateRecord): PaymentRecord {
  return {
    payment_id: row.pay_payment_id, account_id: row.pay_account_id, credential_id: row.pay_credential_id,
    merchant_account_id: row.pay_merchant_account_id, currency: row.pay_currency, state: row.pay_state,
    authorized_minor: row.pay_authorized_minor, captured_minor: row.pay_captured_minor, refunded_minor: row.pay_refunded_minor,
    at_unix_ms: row.pay_at_unix_ms, created_unix_ms: row.pay_created_unix_ms, expires_unix_ms: row.pay_expires_unix_ms,
    request_hash: row.pay_request_hash ?? null, authorize_response: row.pay_authorize_response ?? null,
    capture_request_minor: row.pay_capture_request_minor ?? null,
  };
}
