/**
 * Everything a batch of payment requests reads, in one statement (one round trip instead of three):
 * its payments locked, then its accounts locked (sorted, the lock order of store.ts), the accounts it
 * only reads, and its credentials. Accounts named by a payment (a capture's payer, a refund's
 * merchant) are found from the locked payment rows inside the statement, so the lock set is the one
 * separate payment and account reads took before, in the same order.
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
  type CredentialRecord,
  type CredentialRow,
  type PaymentRecord,
  type PaymentRow,
} from './rows.js';

export interface BatchReadPlan {
  /** Payments the batch names; `replayIds` of them also return their authorize record. */
  paymentIds: string[];
  replayIds: Set<string>;
  /** Accounts locked by id (an authorize's payer, a deposit's account and its funding account). */
  lockIds: string[];
  /** Payments whose payer is locked (capture, void, refund). */
  lockPayerOf: string[];
  /** Payments whose merchant is locked too (refund). */
  lockMerchantOf: string[];
  /** Accounts read without a lock (an authorize's merchant), unless locked. */
  readIds: string[];
  /** Payments whose merchant is read without a lock (capture: credited at write time), unless locked. */
  readMerchantOf: string[];
  credentialIds: string[];
}

export function emptyReadPlan(): BatchReadPlan {
  return { paymentIds: [], replayIds: new Set(), lockIds: [], lockPayerOf: [], lockMerchantOf: [], readIds: [], readMerchantOf: [], credentialIds: [] };
}

export interface BatchState {
  payments: PaymentRow[];
  locked: AccountRow[];
  read: AccountRow[];
  credentials: CredentialRow[];
}

/** SQL type of every column a row kind returns: its select list and its typed NULLs come from it. */
const PAYMENT_COLUMN_TYPES = {
  payment_id: 'text', account_id: 'text', credential_id: 'text', merchant_account_id: 'text', currency: 'text', state: 'int2',
  authorized_minor: 'int8', captured_minor: 'int8', refunded_minor: 'int8', at_unix_ms: 'int8', created_unix_ms: 'int8',
  expires_unix_ms: 'int8', request_hash: 'text', authorize_response: 'bytea', capture_request_minor: 'int8',
} as const satisfies Record<keyof PaymentRecord, string>;
const ACCOUNT_COLUMN_TYPES = {
  account_id: 'text', owner: 'text', currency: 'text', kind: 'int2', time_zone: 'text', balance_minor: 'int8', held_minor: 'int8',
  last_sequence: 'int8',
} as const satisfies Record<keyof AccountRecord, string>;
const CREDENTIAL_COLUMN_TYPES = { credential_id: 'text', account_id: 'text', policy: 'bytea' } as const satisfies Record<keyof CredentialRecord, string>;

/** A row kind's columns in the union: `prefix` keeps their names apart, `alias` is its branch's table. */
interface ColumnGroup {
  prefix: string;
  alias: string;
  types: Readonly<Record<string, string>>;
}

const PAYMENTS: ColumnGroup = { prefix: 'pay_', alias: 'p', types: PAYMENT_COLUMN_TYPES };
const ACCOUNTS: ColumnGroup = { prefix: 'acc_', alias: 'a', types: ACCOUNT_COLUMN_TYPES };
const CREDENTIALS: ColumnGroup = { prefix: 'cred_', alias: 'c', types: CREDENTIAL_COLUMN_TYPES };
const GROUPS = [PAYMENTS, ACCOUNTS, CREDENTIALS];

/**
 * The select list of the branch filling `filled`: every group's columns, the others as NULLs,
 * typed and named (a UNION takes its column names from its first branch and resolves types
 * pairwise: an all-NULL pair would become text).
 */
function selectList(part: number, filled: ColumnGroup): string {
  const columns = GROUPS.flatMap((group) => Object.entries(group.types).map(([name, type]) =>
    `${group === filled ? `${group.alias}.${name}` : `NULL::${type}`} AS ${group.prefix}${name}`));
  return `${part} AS part, ${columns.join(', ')}`;
}

/** The group's columns of a union row, under their own names. */
function record<Row>(row: Readonly<Record<string, unknown>>, group: ColumnGroup): Row {
  const out: Record<string, unknown> = {};
  for (const name of Object.keys(group.types)) out[name] = row[`${group.prefix}${name}`] ?? null;
  return out as Row;
}

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
  SELECT ${selectList(1, PAYMENTS)} FROM p
  UNION ALL
  SELECT ${selectList(2, ACCOUNTS)} FROM l a
  UNION ALL
  SELECT ${selectList(3, ACCOUNTS)} FROM ledger_accounts a
  WHERE a.account_id = ANY (ARRAY(SELECT unnest($6::text[]) UNION SELECT merchant_account_id FROM p WHERE payment_id = ANY($7::text[])))
    AND a.account_id NOT IN (SELECT account_id FROM l)
  UNION ALL
  SELECT ${selectList(4, CREDENTIALS)} FROM ledger_credentials c WHERE c.credential_id = ANY($8::text[])`;

const unique = (ids: Iterable<string>) => [...new Set(ids)].sort();

export async function loadBatchState(tx: SqlClient, plan: BatchReadPlan): Promise<BatchState> {
  const paymentIds = unique(plan.paymentIds);
  const { rows } = await tx.query<Record<string, unknown>>(LOAD_BATCH_STATE, [
    paymentIds, paymentIds.map((id) => plan.replayIds.has(id)), unique(plan.lockIds), unique(plan.lockPayerOf),
    unique(plan.lockMerchantOf), unique(plan.readIds), unique(plan.readMerchantOf), unique(plan.credentialIds),
  ]);
  const state: BatchState = { payments: [], locked: [], read: [], credentials: [] };
  for (const row of rows) {
    const part = Number(row['part']);
    if (part === 1) state.payments.push(paymentFromRecord(record<PaymentRecord>(row, PAYMENTS)));
    else if (part === 2) state.locked.push(accountFromRecord(record<AccountRecord>(row, ACCOUNTS)));
    else if (part === 3) state.read.push(accountFromRecord(record<AccountRecord>(row, ACCOUNTS)));
    else state.credentials.push(credentialFromRecord(record<CredentialRecord>(row, CREDENTIALS)));
  }
  return state;
}
