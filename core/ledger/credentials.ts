/**
 * Credentials and their spending policies. Every change locks the account row (as payments do),
 * is recorded with who authorized it, and keeps at least one unrestricted credential per account.
 */
import { Credential, SetPolicyRequest, SpendingPolicy } from '../../proto/gen/biopay/v1/ledger.js';
import { BiopayError, ErrorCode } from '../errors.js';
import type { SqlClient } from '../db/index.js';
import { isUnrestricted, validatePolicy } from '../policy/index.js';
import { runIdempotent } from './idempotency.js';
import { requireId } from './requests.js';
import { inTransaction } from './retry.js';
import { credentialMessage, type CredentialRow } from './rows.js';
import { loadAccounts, loadCredentials } from './store.js';
import { encodeMessage } from '../protobuf.js';

export interface RegisterCredentialRequest {
  accountId: string;
  credentialId: string;
  /** None means unrestricted. */
  policy?: SpendingPolicy;
}

export async function registerCredential(db: SqlClient, request: RegisterCredentialRequest, nowUnixMs: number): Promise<Credential> {
  requireId('accountId', request.accountId);
  requireId('credentialId', request.credentialId);
  const policy = SpendingPolicy.fromPartial(request.policy ?? {});
  validatePolicy(policy);
  return inTransaction(db, async (tx) => {
    await lockAccount(tx, request.accountId);
    const [existing] = await loadCredentials(tx, [request.credentialId]);
    if (existing) return sameEnrollment(existing, request.accountId, policy);
    if (!isUnrestricted(policy) && (await unrestrictedCount(tx, request.accountId)) === 0) {
      throw new BiopayError(ErrorCode.InvalidState, `the first credential of account ${request.accountId} must be unrestricted`);
    }
    const row: CredentialRow = { credentialId: request.credentialId, accountId: request.accountId, policy };
    await tx.query(
      `INSERT INTO ledger_credentials (credential_id, account_id, restricted, policy, updated_unix_ms) VALUES ($1, $2, $3, $4, $5)`,
      [row.credentialId, row.accountId, !isUnrestricted(policy), encodePolicy(policy), nowUnixMs],
    );
    await recordChange(tx, row, 'register', '', nowUnixMs);
    return credentialMessage(row);
  });
}

/** Registering the same credential again is a no-op; anything else under its id is refused. */
function sameEnrollment(existing: CredentialRow, accountId: string, policy: SpendingPolicy): Credential {
  if (existing.accountId === accountId && Buffer.from(encodePolicy(existing.policy)).equals(Buffer.from(encodePolicy(policy)))) {
    return credentialMessage(existing);
  }
  throw new BiopayError(ErrorCode.AlreadyEnrolled, `credential ${existing.credentialId} is already registered`);
}

export async function getPolicy(db: SqlClient, credentialId: string): Promise<Credential> {
  const [row] = await loadCredentials(db, [credentialId]);
  if (!row) throw new BiopayError(ErrorCode.UnknownCredential, `unknown credential ${credentialId}`);
  return credentialMessage(row);
}

/** The ledger's part of a SetPolicyRequest: the gateway resolves biometrics to credential ids first. */
export type PolicyChangeRequest = Pick<SetPolicyRequest, 'credentialId' | 'policy' | 'authorizedByCredentialId' | 'idempotencyKey'>;

export async function setPolicy(db: SqlClient, change: PolicyChangeRequest, nowUnixMs: number): Promise<Credential> {
  const request = SetPolicyRequest.fromPartial({
    credentialId: change.credentialId,
    policy: change.policy,
    authorizedByCredentialId: change.authorizedByCredentialId,
    idempotencyKey: change.idempotencyKey,
  });
  requireId('credentialId', request.credentialId);
  requireId('authorizedByCredentialId', request.authorizedByCredentialId);
  const policy = SpendingPolicy.fromPartial(request.policy ?? {});
  validatePolicy(policy);
  const target = { scope: 'policy', key: request.idempotencyKey, nowUnixMs };
  return inTransaction(db, (tx) =>
    runIdempotent(tx, target, { request: SetPolicyRequest, response: Credential }, request, async () => {
      const credential = await lockCredentialAccount(tx, request.credentialId);
      await requireAuthorizer(tx, credential, request.authorizedByCredentialId);
      if (isUnrestricted(credential.policy) && !isUnrestricted(policy)) await requireAnotherUnrestricted(tx, credential);
      const row: CredentialRow = { ...credential, policy };
      await tx.query(
        'UPDATE ledger_credentials SET restricted = $2, policy = $3, updated_unix_ms = $4 WHERE credential_id = $1',
        [row.credentialId, !isUnrestricted(policy), encodePolicy(policy), nowUnixMs],
      );
      await recordChange(tx, row, 'set', request.authorizedByCredentialId, nowUnixMs);
      return credentialMessage(row);
    }),
  );
}

export async function removeCredential(db: SqlClient, credentialId: string, nowUnixMs: number): Promise<void> {
  requireId('credentialId', credentialId);
  await inTransaction(db, async (tx) => {
    const credential = await lockCredentialAccount(tx, credentialId);
    const { rows } = await tx.query<{ count: bigint }>('SELECT count(*) AS count FROM ledger_credentials WHERE account_id = $1', [credential.accountId]);
    const othersExist = Number(rows[0]?.count ?? 0) > 1;
    if (isUnrestricted(credential.policy) && othersExist) await requireAnotherUnrestricted(tx, credential);
    await tx.query('DELETE FROM ledger_credentials WHERE credential_id = $1', [credentialId]);
    await recordChange(tx, credential, 'remove', '', nowUnixMs);
  });
}

/** Only an unrestricted credential of the same account may change a policy. */
async function requireAuthorizer(tx: SqlClient, target: CredentialRow, authorizerId: string): Promise<void> {
  const [authorizer] = await loadCredentials(tx, [authorizerId]);
  if (!authorizer) {
    throw new BiopayError(ErrorCode.NotAuthorized, `authorizing credential ${authorizerId} is not registered`);
  }
  if (authorizer.accountId !== target.accountId) {
    throw new BiopayError(ErrorCode.NotAuthorized, `authorizing credential ${authorizerId} belongs to another account`);
  }
  if (!isUnrestricted(authorizer.policy)) {
    throw new BiopayError(ErrorCode.NotAuthorized, `authorizing credential ${authorizerId} is restricted: only an unrestricted credential may change a policy`);
  }
}

async function requireAnotherUnrestricted(tx: SqlClient, credential: CredentialRow): Promise<void> {
  if ((await unrestrictedCount(tx, credential.accountId)) <= 1) {
    throw new BiopayError(ErrorCode.InvalidState, `account ${credential.accountId} must keep at least one unrestricted credential`);
  }
}

/** The credential, read again after its account row is locked (the lock every payment takes). */
async function lockCredentialAccount(tx: SqlClient, credentialId: string): Promise<CredentialRow> {
  const [first] = await loadCredentials(tx, [credentialId]);
  if (!first) throw new BiopayError(ErrorCode.UnknownCredential, `unknown credential ${credentialId}`);
  await lockAccount(tx, first.accountId);
  const [locked] = await loadCredentials(tx, [credentialId]);
  if (!locked) throw new BiopayError(ErrorCode.UnknownCredential, `unknown credential ${credentialId}`);
  return locked;
}

async function lockAccount(tx: SqlClient, accountId: string): Promise<void> {
  const [account] = await loadAccounts(tx, [accountId], true);
  if (!account) throw new BiopayError(ErrorCode.UnknownAccount, `unknown account ${accountId}`);
}

async function unrestrictedCount(tx: SqlClient, accountId: string): Promise<number> {
  const { rows } = await tx.query<{ count: bigint }>(
    'SELECT count(*) AS count FROM ledger_credentials WHERE account_id = $1 AND NOT restricted',
    [accountId],
  );
  return Number(rows[0]?.count ?? 0);
}

async function recordChange(tx: SqlClient, row: CredentialRow, action: string, authorizedBy: string, nowUnixMs: number): Promise<void> {
  await tx.query(
    `INSERT INTO ledger_policy_changes (credential_id, account_id, action, authorized_by, policy, at_unix_ms) VALUES ($1, $2, $3, $4, $5, $6)`,
    [row.credentialId, row.accountId, action, authorizedBy, encodePolicy(row.policy), nowUnixMs],
  );
}

function encodePolicy(policy: SpendingPolicy): Uint8Array {
  return encodeMessage(SpendingPolicy, policy);
}

export interface PolicyChange {
  credentialId: string;
  action: string;
  authorizedBy: string;
  policy: SpendingPolicy;
  atUnixMs: number;
}

/** The recorded changes of one credential, oldest first. */
export async function policyChanges(db: SqlClient, credentialId: string): Promise<PolicyChange[]> {
  const { rows } = await db.query<{ credential_id: string; action: string; authorized_by: string; policy: Uint8Array; at_unix_ms: bigint }>(
    'SELECT credential_id, action, authorized_by, policy, at_unix_ms FROM ledger_policy_changes WHERE credential_id = $1 ORDER BY change_id',
    [credentialId],
  );
  return rows.map((row) => ({
    credentialId: row.credential_id,
    action: row.action,
    authorizedBy: row.authorized_by,
    policy: SpendingPolicy.decode(row.policy),
    atUnixMs: Number(row.at_unix_ms),
  }));
}
