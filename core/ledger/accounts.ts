/** Opening and reading accounts, and their statements. */
import { randomBytes } from 'node:crypto';
import {
  Account,
  AccountKind,
  OpenAccountRequest,
  type Statement,
  type StatementRequest,
} from '../../proto/gen/biopay/v1/ledger.js';
import { BiopayError, ErrorCode } from '../errors.js';
import { assertCurrency } from '../money.js';
import { assertTimeZone } from '../policy/time-zone.js';
import type { SqlClient } from '../db/index.js';
import { runIdempotent } from './idempotency.js';
import { requireId } from './requests.js';
import { inTransaction } from './retry.js';
import { accountMessage, type AccountRow } from './rows.js';
import { insertAccount, loadAccounts } from './store.js';

const OWNER_LENGTH_MAX = 200;
export const STATEMENT_LIMIT_DEFAULT = 100;
export const STATEMENT_LIMIT_MAX = 1_000;

export async function openAccount(db: SqlClient, request: OpenAccountRequest, nowUnixMs: number): Promise<Account> {
  const kind = validateOpenAccount(request);
  return inTransaction(db, (tx) =>
    runIdempotent(tx, { scope: 'open', key: request.idempotencyKey, nowUnixMs }, { request: OpenAccountRequest, response: Account }, request, async () => {
      const row: AccountRow = {
        accountId: `acc_${randomBytes(12).toString('hex')}`,
        owner: request.owner,
        currency: request.currency,
        kind,
        timeZone: request.timeZone,
        balanceMinor: 0n,
        heldMinor: 0n,
        lastSequence: 0n,
      };
      await insertAccount(tx, row, nowUnixMs);
      return accountMessage(row);
    }),
  );
}

function validateOpenAccount(request: OpenAccountRequest): AccountKind {
  if (request.owner.length === 0 || request.owner.length > OWNER_LENGTH_MAX) {
    throw new BiopayError(ErrorCode.BadRequest, `owner must be 1..${OWNER_LENGTH_MAX} characters`);
  }
  assertCurrency(request.currency);
  assertTimeZone(request.timeZone); // a cached formatter: opening 5,000 accounts built 5,000 before
  if (request.idempotencyKey !== '') requireId('idempotencyKey', request.idempotencyKey);
  if (request.kind === AccountKind.ACCOUNT_KIND_UNSPECIFIED) return AccountKind.ACCOUNT_KIND_CUSTOMER;
  if (request.kind === AccountKind.ACCOUNT_KIND_CUSTOMER || request.kind === AccountKind.ACCOUNT_KIND_MERCHANT) return request.kind;
  throw new BiopayError(ErrorCode.BadRequest, 'only customer and merchant accounts can be opened; funding accounts are created by deposits');
}


export async function getAccount(db: SqlClient, accountId: string): Promise<Account> {
  const [row] = await loadAccounts(db, [accountId], false);
  if (!row) throw new BiopayError(ErrorCode.UnknownAccount, `unknown account ${accountId}`);
  return accountMessage(row);
}

interface EntryRecord {
  sequence: bigint;
  at_unix_ms: bigint;
  kind: string;
  reference: string;
  amount_minor: bigint;
  balance_after_minor: bigint;
}

/** Entries after `afterSequence`, oldest first, each with the balance it left. */
export async function statement(db: SqlClient, request: StatementRequest): Promise<Statement> {
  const limit = request.limit === 0 ? STATEMENT_LIMIT_DEFAULT : Math.min(request.limit, STATEMENT_LIMIT_MAX);
  if (request.afterSequence < 0n) throw new BiopayError(ErrorCode.BadRequest, 'afterSequence must not be negative');
  const account = await getAccount(db, request.accountId);
  const { rows } = await db.query<EntryRecord>(
    `SELECT sequence, at_unix_ms, kind, reference, amount_minor, balance_after_minor FROM ledger_entries
     WHERE account_id = $1 AND sequence > $2 ORDER BY sequence LIMIT $3`,
    [request.accountId, request.afterSequence, limit + 1],
  );
  const entries = rows.slice(0, limit).map((row) => ({
    sequence: BigInt(row.sequence),
    atUnixMs: BigInt(row.at_unix_ms),
    kind: row.kind,
    reference: row.reference,
    amountMinor: BigInt(row.amount_minor),
    balanceAfterMinor: BigInt(row.balance_after_minor),
  }));
  return {
    accountId: account.accountId,
    currency: account.currency,
    entries,
    nextAfterSequence: entries.length > 0 ? entries[entries.length - 1]!.sequence : request.afterSequence,
    hasMore: rows.length > limit,
  };
}
