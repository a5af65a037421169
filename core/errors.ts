/**
 * Typed errors shared by every node. Each error has a stable machine-readable `code` and an
 * optional `cause`, and crosses transports as an ErrorDetail (see proto/biopay/v1/common.proto).
 */
import type { ErrorDetail } from '../proto/gen/biopay/v1/common.js';

export const ErrorCode = {
  BadRequest: 'BAD_REQUEST',
  MalformedMessage: 'MALFORMED_MESSAGE',
  NotFound: 'NOT_FOUND',
  UnknownAccount: 'UNKNOWN_ACCOUNT',
  UnknownCredential: 'UNKNOWN_CREDENTIAL',
  UnknownPayment: 'UNKNOWN_PAYMENT',
  CurrencyMismatch: 'CURRENCY_MISMATCH',
  AmountOutOfRange: 'AMOUNT_OUT_OF_RANGE',
  InsufficientFunds: 'INSUFFICIENT_FUNDS',
  IdempotencyConflict: 'IDEMPOTENCY_CONFLICT',
  InvalidState: 'INVALID_STATE',
  InvalidTemplate: 'INVALID_TEMPLATE',
  AlreadyEnrolled: 'ALREADY_ENROLLED',
  NotAuthorized: 'NOT_AUTHORIZED',
  Timeout: 'TIMEOUT',
  MailboxFull: 'MAILBOX_FULL',
  Unavailable: 'UNAVAILABLE',
  Stopped: 'STOPPED',
  Internal: 'INTERNAL',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export class BiopayError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BiopayError';
    this.code = code;
  }

  toDetail(): ErrorDetail {
    return { code: this.code, message: this.message, cause: causeDetail(this.cause) };
  }

  static fromDetail(detail: ErrorDetail): BiopayError {
    const cause = detail.cause ? BiopayError.fromDetail(detail.cause) : undefined;
    return new BiopayError(detail.code || ErrorCode.Internal, detail.message, { cause });
  }
}

/** Any thrown value as a BiopayError; unknown errors become INTERNAL with the original as cause. */
export function asBiopayError(error: unknown): BiopayError {
  if (error instanceof BiopayError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new BiopayError(ErrorCode.Internal, message, { cause: error });
}

export function isBiopayError(error: unknown, code?: string): error is BiopayError {
  return error instanceof BiopayError && (code === undefined || error.code === code);
}

function causeDetail(cause: unknown, depth = 0): ErrorDetail | undefined {
  // Bounded: a cause chain is reported at most 4 levels deep.
  if (cause === undefined || depth >= 4) return undefined;
  if (cause instanceof BiopayError) {
    return { code: cause.code, message: cause.message, cause: causeDetail(cause.cause, depth + 1) };
  }
  const message = cause instanceof Error ? cause.message : String(cause);
  return { code: ErrorCode.Internal, message, cause: undefined };
}
