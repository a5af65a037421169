/**
 * The money-moving requests a batch carries, their static validation (before any database work),
 * and their idempotency keys and codecs.
 */
import { randomUUID } from 'node:crypto';
import {
  Account,
  AuthorizeRequest,
  AuthorizeResponse,
  CaptureRequest,
  DepositRequest,
  PaymentState,
  RefundRequest,
  VoidRequest,
} from '../../proto/gen/biopay/v1/ledger.js';
import { BiopayError, ErrorCode } from '../errors.js';
import { assertCurrency, assertInt64, assertPositiveAmount } from '../money.js';
import { requestHash, type Claim, type Codec } from './idempotency.js';

export type LedgerOp =
  | { kind: 'authorize'; request: AuthorizeRequest }
  | { kind: 'capture'; request: CaptureRequest }
  | { kind: 'void'; request: VoidRequest }
  | { kind: 'refund'; request: RefundRequest }
  | { kind: 'deposit'; request: DepositRequest };

export type LedgerOpKind = LedgerOp['kind'];

export interface ResultByKind {
  authorize: AuthorizeResponse;
  capture: PaymentState;
  void: PaymentState;
  refund: PaymentState;
  deposit: Account;
}

export type OpResult = ResultByKind[LedgerOpKind];

export type Outcome = { ok: true; value: OpResult } | { ok: false; error: BiopayError };

const ID_LENGTH_MAX = 200;
/** A day: a hold longer than that is a forgotten payment, not a slow one. */
export const HOLD_TIMEOUT_MS_MAX = 86_400_000;

const RESPONSE_CODECS: Record<LedgerOpKind, Codec<OpResult>> = {
  authorize: AuthorizeResponse as Codec<OpResult>,
  capture: PaymentState as Codec<OpResult>,
  void: PaymentState as Codec<OpResult>,
  refund: PaymentState as Codec<OpResult>,
  deposit: Account as Codec<OpResult>,
};

export function responseCodec(kind: LedgerOpKind): Codec<OpResult> {
  return RESPONSE_CODECS[kind];
}

/** The request's idempotency claim; undefined for a deposit without a key (no retry safety). */
export function claimOf(op: LedgerOp): Claim | undefined {
  switch (op.kind) {
    case 'authorize':
      // The body is what the payment is (who pays whom, how much, where): a retrying terminal
      // re-stamps the time and hold timeout, which must not turn a retry into a conflict.
      return {
        scope: 'authorize', key: op.request.paymentId,
        requestHash: requestHash(AuthorizeRequest, {
          ...op.request,
          holdTimeoutMs: 0,
          context: op.request.context && { ...op.request.context, atUnixMs: 0n, location: undefined },
        }),
      };
    case 'capture':
      return lazyClaim('capture', op.request.paymentId, () => requestHash(CaptureRequest, op.request));
    case 'void':
      // The reason is a note, not part of the body: two voids of one payment are the same void.
      return { scope: 'void', key: op.request.paymentId, requestHash: requestHash(VoidRequest, { ...op.request, reason: '' }) };
    case 'refund':
      return { scope: 'refund', key: op.request.refundId, requestHash: requestHash(RefundRequest, op.request) };
    case 'deposit':
      if (op.request.idempotencyKey === '') return undefined;
      return { scope: 'deposit', key: op.request.idempotencyKey, requestHash: requestHash(DepositRequest, op.request) };
  }
}

/** Hashed on first use: a capture's record is its payment row, so only a replay needs the hash. */
function lazyClaim(scope: string, key: string, hashOf: () => string): Claim {
  let hash: string | undefined;
  return { scope, key, get requestHash() { return (hash ??= hashOf()); } };
}

/** The key that names a deposit's transfer: its idempotency key, or a fresh id. */
export function depositTransferKey(request: DepositRequest): string {
  return request.idempotencyKey || randomUUID();
}

/** Throws BAD_REQUEST or AMOUNT_OUT_OF_RANGE for a request no database state could make valid. */
export function validateOp(op: LedgerOp): void {
  switch (op.kind) {
    case 'authorize': {
      const request = op.request;
      for (const [name, value] of [['paymentId', request.paymentId], ['accountId', request.accountId],
        ['credentialId', request.credentialId], ['merchantAccountId', request.merchantAccountId]] as const) {
        requireId(name, value);
      }
      if (!request.amount) throw new BiopayError(ErrorCode.BadRequest, 'authorize: amount is required');
      assertPositiveAmount(request.amount.amountMinor, 'payment amount');
      assertCurrency(request.amount.currency);
      if (request.holdTimeoutMs < 0 || request.holdTimeoutMs > HOLD_TIMEOUT_MS_MAX) {
        throw new BiopayError(ErrorCode.BadRequest, `holdTimeoutMs must be within 0..${HOLD_TIMEOUT_MS_MAX}`);
      }
      if (request.context) assertInt64(request.context.atUnixMs, 'payment time');
      return;
    }
    case 'capture':
      requireId('paymentId', op.request.paymentId);
      assertInt64(op.request.amountMinor, 'capture amount');
      if (op.request.amountMinor < 0n) {
        throw new BiopayError(ErrorCode.AmountOutOfRange, `capture amount must not be negative, got ${op.request.amountMinor}`);
      }
      return;
    case 'void':
      requireId('paymentId', op.request.paymentId);
      return;
    case 'refund':
      requireId('refundId', op.request.refundId);
      requireId('paymentId', op.request.paymentId);
      assertPositiveAmount(op.request.amountMinor, 'refund amount');
      return;
    case 'deposit':
      requireId('accountId', op.request.accountId);
      assertPositiveAmount(op.request.amountMinor, 'deposit amount');
      if (op.request.idempotencyKey.length > ID_LENGTH_MAX) requireId('idempotencyKey', op.request.idempotencyKey);
      return;
  }
}

export function requireId(name: string, value: string): void {
  // PostgreSQL text cannot hold NUL: refuse it here rather than fail a whole batch in the database.
  if (typeof value !== 'string' || value.length === 0 || value.length > ID_LENGTH_MAX || value.includes('\u0000')) {
    throw new BiopayError(ErrorCode.BadRequest, `${name} must be a non-empty string of at most ${ID_LENGTH_MAX} characters, without NUL`);
  }
}
