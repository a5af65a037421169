/**
 * Ledger tables. Migrations are idempotent (IF NOT EXISTS) and serialized by an advisory lock, so
 * several nodes may open the same schema at once. Table names carry a ledger_ prefix so other
 * modules can share the schema.
 */
import type { SqlClient } from '../db/index.js';

/** Arbitrary constant: the advisory lock key of ledger migrations. */
const MIGRATION_LOCK_KEY = 4_821_337;

const STATEMENTS: readonly string[] = [
  `CREATE TABLE IF NOT EXISTS ledger_accounts (
    account_id text PRIMARY KEY,
    owner text NOT NULL,
    currency text NOT NULL,
    kind smallint NOT NULL,
    time_zone text NOT NULL,
    balance_minor bigint NOT NULL DEFAULT 0,
    held_minor bigint NOT NULL DEFAULT 0,
    last_sequence bigint NOT NULL DEFAULT 0,
    created_unix_ms bigint NOT NULL,
    CONSTRAINT ledger_accounts_held_not_negative CHECK (held_minor >= 0),
    CONSTRAINT ledger_accounts_no_overdraft CHECK (kind = 3 OR balance_minor - held_minor >= 0)
  )`,
  // Append-only: one row per account per balance change; a transfer's rows sum to zero.
  `CREATE TABLE IF NOT EXISTS ledger_entries (
    account_id text NOT NULL,
    sequence bigint NOT NULL,
    transfer_id text NOT NULL,
    at_unix_ms bigint NOT NULL,
    kind text NOT NULL,
    reference text NOT NULL,
    amount_minor bigint NOT NULL,
    balance_after_minor bigint NOT NULL,
    PRIMARY KEY (account_id, sequence)
  )`,
  `CREATE TABLE IF NOT EXISTS ledger_credentials (
    credential_id text PRIMARY KEY,
    account_id text NOT NULL,
    restricted boolean NOT NULL,
    policy bytea NOT NULL,
    updated_unix_ms bigint NOT NULL
  )`,
  `CREATE INDEX IF NOT EXISTS ledger_credentials_account ON ledger_credentials (account_id)`,
  `CREATE TABLE IF NOT EXISTS ledger_policy_changes (
    change_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    credential_id text NOT NULL,
    account_id text NOT NULL,
    action text NOT NULL,
    authorized_by text NOT NULL,
    policy bytea NOT NULL,
    at_unix_ms bigint NOT NULL
  )`,
  `CREATE INDEX IF NOT EXISTS ledger_policy_changes_credential ON ledger_policy_changes (credential_id)`,
  `CREATE TABLE IF NOT EXISTS ledger_payments (
    payment_id text PRIMARY KEY,
    account_id text NOT NULL,
    credential_id text NOT NULL,
    merchant_account_id text NOT NULL,
    currency text NOT NULL,
    state smallint NOT NULL,
    authorized_minor bigint NOT NULL,
    captured_minor bigint NOT NULL DEFAULT 0,
    refunded_minor bigint NOT NULL DEFAULT 0,
    at_unix_ms bigint NOT NULL,
    created_unix_ms bigint NOT NULL,
    expires_unix_ms bigint NOT NULL,
    request_hash text,
    authorize_response bytea,
    capture_request_minor bigint,
    CONSTRAINT ledger_payments_amounts CHECK (0 <= refunded_minor AND refunded_minor <= captured_minor AND captured_minor <= authorized_minor)
  )`,
  // The payment row is the idempotency record of its authorize (body hash, first answer) and of its
  // capture (the amount asked; the answer follows from the row): no ledger_idempotency row for either.
  // Only when missing: even a no-op ALTER TABLE waits for an exclusive lock behind live payments.
  `DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema()
                   AND table_name = 'ledger_payments' AND column_name = 'capture_request_minor') THEN
      ALTER TABLE ledger_payments ADD COLUMN IF NOT EXISTS request_hash text,
        ADD COLUMN IF NOT EXISTS authorize_response bytea, ADD COLUMN IF NOT EXISTS capture_request_minor bigint;
    END IF;
  END $$`,
  `CREATE INDEX IF NOT EXISTS ledger_payments_usage ON ledger_payments (credential_id, at_unix_ms)`,
  `CREATE INDEX IF NOT EXISTS ledger_payments_open ON ledger_payments (expires_unix_ms) WHERE state = 1`,
  `CREATE TABLE IF NOT EXISTS ledger_refunds (
    refund_id text PRIMARY KEY,
    payment_id text NOT NULL,
    amount_minor bigint NOT NULL,
    at_unix_ms bigint NOT NULL
  )`,
  // response is null only inside the transaction that claimed the key.
  `CREATE TABLE IF NOT EXISTS ledger_idempotency (
    scope text NOT NULL,
    key text NOT NULL,
    request_hash text NOT NULL,
    response bytea,
    created_unix_ms bigint NOT NULL,
    PRIMARY KEY (scope, key)
  )`,
];

export async function migrateLedger(db: SqlClient): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
    for (const statement of STATEMENTS) await tx.query(statement);
  });
}
