/** Rows of the ledger tables as the ledger code sees them, and their mapping to proto messages. */
import {
  AccountKind,
  HoldState,
  SpendingPolicy,
  type Account,
  type Credential,
  type PaymentState,
} from '../../proto/gen/biopay/v1/ledger.js';

export interface AccountRow {
  accountId: string;
  owner: string;
  currency: string;
  kind: AccountKind;
  timeZone: string;
  balanceMinor: bigint;
  heldMinor: bigint;
  lastSequence: bigint;
}

export interface PaymentRow {
  paymentId: string;
  accountId: string;
  credentialId: string;
  merchantAccountId: string;
  currency: string;
  state: HoldState;
  authorizedMinor: bigint;
  capturedMinor: bigint;
  refundedMinor: bigint;
  atUnixMs: number;
  createdUnixMs: number;
  expiresUnixMs: number;
  /** The authorize's body hash and first answer; read only by batches, which replay from it. */
  authorizeRecord?: { requestHash: string; response: Uint8Array };
  /** The amount the capture asked for (0: all); set once captured. */
  captureRequestMinor?: bigint;
}

export interface CredentialRow {
  credentialId: string;
  accountId: string;
  policy: SpendingPolicy;
}

export interface EntryRow {
  accountId: string;
  sequence: bigint;
  transferId: string;
  atUnixMs: number;
  kind: string;
  reference: string;
  amountMinor: bigint;
  balanceAfterMinor: bigint;
}

export const ACCOUNT_COLUMNS = 'account_id, owner, currency, kind, time_zone, balance_minor, held_minor, last_sequence';

export interface AccountRecord {
  account_id: string;
  owner: string;
  currency: string;
  kind: number;
  time_zone: string;
  balance_minor: bigint;
  held_minor: bigint;
  last_sequence: bigint;
}

export function accountFromRecord(record: AccountRecord): AccountRow {
  return {
    accountId: record.account_id,
    owner: record.owner,
    currency: record.currency,
    kind: Number(record.kind) as AccountKind,
    timeZone: record.time_zone,
    balanceMinor: BigInt(record.balance_minor),
    heldMinor: BigInt(record.held_minor),
    lastSequence: BigInt(record.last_sequence),
  };
}

export function accountMessage(row: AccountRow): Account {
  return {
    accountId: row.accountId,
    owner: row.owner,
    currency: row.currency,
    kind: row.kind,
    timeZone: row.timeZone,
    balanceMinor: row.balanceMinor,
    availableMinor: row.balanceMinor - row.heldMinor,
    heldMinor: row.heldMinor,
  };
}

export const PAYMENT_COLUMNS =
  'payment_id, account_id, credential_id, merchant_account_id, currency, state, authorized_minor, ' +
  'captured_minor, refunded_minor, at_unix_ms, created_unix_ms, expires_unix_ms';

export interface PaymentRecord {
  payment_id: string;
  account_id: string;
  credential_id: string;
  merchant_account_id: string;
  currency: string;
  state: number;
  authorized_minor: bigint;
  captured_minor: bigint;
  refunded_minor: bigint;
  at_unix_ms: bigint;
  created_unix_ms: bigint;
  expires_unix_ms: bigint;
  request_hash?: string | null;
  authorize_response?: Uint8Array | null;
  capture_request_minor?: bigint | null;
}

/** PAYMENT_COLUMNS and the idempotency columns a batch replays from. */
export const PAYMENT_REPLAY_COLUMNS = `${PAYMENT_COLUMNS}, request_hash, authorize_response, capture_request_minor`;

export function paymentFromRecord(record: PaymentRecord): PaymentRow {
  return {
    paymentId: record.payment_id,
    accountId: record.account_id,
    credentialId: record.credential_id,
    merchantAccountId: record.merchant_account_id,
    currency: record.currency,
    state: Number(record.state) as HoldState,
    authorizedMinor: BigInt(record.authorized_minor),
    capturedMinor: BigInt(record.captured_minor),
    refundedMinor: BigInt(record.refunded_minor),
    atUnixMs: Number(record.at_unix_ms),
    createdUnixMs: Number(record.created_unix_ms),
    expiresUnixMs: Number(record.expires_unix_ms),
    ...(record.request_hash && record.authorize_response
      ? { authorizeRecord: { requestHash: record.request_hash, response: record.authorize_response } }
      : {}),
    ...(record.capture_request_minor != null ? { captureRequestMinor: BigInt(record.capture_request_minor) } : {}),
  };
}

export function paymentStateMessage(row: PaymentRow): PaymentState {
  return {
    paymentId: row.paymentId,
    state: row.state,
    authorizedMinor: row.state === HoldState.HOLD_STATE_REFUSED ? 0n : row.authorizedMinor,
    capturedMinor: row.capturedMinor,
    refundedMinor: row.refundedMinor,
    currency: row.currency,
  };
}

export interface CredentialRecord {
  credential_id: string;
  account_id: string;
  policy: Uint8Array;
}

export function credentialFromRecord(record: CredentialRecord): CredentialRow {
  return { credentialId: record.credential_id, accountId: record.account_id, policy: SpendingPolicy.decode(record.policy) };
}

export function credentialMessage(row: CredentialRow): Credential {
  return { credentialId: row.credentialId, accountId: row.accountId, policy: row.policy };
}

/** What a payment takes from its credential's quota and count: held, or captured net of refunds. */
export function usageContribution(row: PaymentRow): { amountMinor: bigint; count: number } {
  if (row.state === HoldState.HOLD_STATE_AUTHORIZED) return { amountMinor: row.authorizedMinor, count: 1 };
  if (row.state === HoldState.HOLD_STATE_CAPTURED) {
    const net = row.capturedMinor - row.refundedMinor;
    return { amountMinor: net, count: net > 0n ? 1 : 0 };
  }
  return { amountMinor: 0n, count: 0 };
}

export function fundingAccountId(currency: string): string {
  return `fund_${currency}`;
}
