/**
 * BiopayError <-> gRPC status, both ways. The server puts the stable biopay code in trailing metadata
 * (`biopay-error-code`) and the whole error chain as a protobuf ErrorDetail (`biopay-error-detail-bin`),
 * so a client gets back the same typed error, cause included; the gRPC status code is for tools.
 */
import { Metadata, status, type ServiceError, type StatusObject } from '@grpc/grpc-js';
import { ErrorDetail } from '../../proto/gen/biopay/v1/common.js';
import { asBiopayError, BiopayError, ErrorCode } from '../errors.js';
import { encodeMessage } from '../protobuf.js';

export const ERROR_CODE_METADATA_KEY = 'biopay-error-code';
export const ERROR_DETAIL_METADATA_KEY = 'biopay-error-detail-bin';

/** Longest error message sent to a client; longer ones are cut (no payload echoes in errors). */
const DETAILS_LENGTH_MAX = 1_000;
const DETAIL_BYTES_MAX = 4_096;

const STATUS_BY_CODE: Readonly<Record<string, status>> = {
  [ErrorCode.BadRequest]: status.INVALID_ARGUMENT,
  [ErrorCode.MalformedMessage]: status.INVALID_ARGUMENT,
  [ErrorCode.InvalidTemplate]: status.INVALID_ARGUMENT,
  [ErrorCode.AmountOutOfRange]: status.INVALID_ARGUMENT,
  [ErrorCode.CurrencyMismatch]: status.INVALID_ARGUMENT,
  [ErrorCode.NotFound]: status.NOT_FOUND,
  [ErrorCode.UnknownAccount]: status.NOT_FOUND,
  [ErrorCode.UnknownCredential]: status.NOT_FOUND,
  [ErrorCode.UnknownPayment]: status.NOT_FOUND,
  [ErrorCode.InsufficientFunds]: status.FAILED_PRECONDITION,
  [ErrorCode.InvalidState]: status.FAILED_PRECONDITION,
  [ErrorCode.IdempotencyConflict]: status.ALREADY_EXISTS,
  [ErrorCode.AlreadyEnrolled]: status.ALREADY_EXISTS,
  [ErrorCode.NotAuthorized]: status.PERMISSION_DENIED,
  [ErrorCode.Timeout]: status.DEADLINE_EXCEEDED,
  [ErrorCode.Unavailable]: status.UNAVAILABLE,
  [ErrorCode.MailboxFull]: status.UNAVAILABLE,
  [ErrorCode.Stopped]: status.UNAVAILABLE,
  [ErrorCode.Internal]: status.INTERNAL,
};

/** For errors that carry no biopay code (a proxy or grpc-js itself answered). */
const CODE_BY_STATUS: Readonly<Partial<Record<status, string>>> = {
  [status.INVALID_ARGUMENT]: ErrorCode.BadRequest,
  [status.NOT_FOUND]: ErrorCode.NotFound,
  [status.FAILED_PRECONDITION]: ErrorCode.InvalidState,
  [status.ALREADY_EXISTS]: ErrorCode.IdempotencyConflict,
  [status.PERMISSION_DENIED]: ErrorCode.NotAuthorized,
  [status.DEADLINE_EXCEEDED]: ErrorCode.Timeout,
  [status.UNAVAILABLE]: ErrorCode.Unavailable,
  [status.CANCELLED]: ErrorCode.Unavailable,
  [status.RESOURCE_EXHAUSTED]: ErrorCode.Unavailable,
};

/** The gRPC status for a biopay code; codes this table does not know map by prefix, else INTERNAL. */
export function grpcStatusOf(code: string): status {
  const known = STATUS_BY_CODE[code];
  if (known !== undefined) return known;
  if (code.startsWith('UNKNOWN_')) return status.NOT_FOUND;
  return status.INTERNAL;
}

/** The status object a server handler passes to its callback for a failure. */
export function toGrpcStatus(error: unknown): Partial<StatusObject> {
  const biopayError = asBiopayError(error);
  const metadata = new Metadata();
  metadata.set(ERROR_CODE_METADATA_KEY, biopayError.code);
  const detail = encodeMessage(ErrorDetail, biopayError.toDetail());
  if (detail.length <= DETAIL_BYTES_MAX) metadata.set(ERROR_DETAIL_METADATA_KEY, Buffer.from(detail));
  return { code: grpcStatusOf(biopayError.code), details: biopayError.message.slice(0, DETAILS_LENGTH_MAX), metadata };
}

/** A failed call as the typed error the server meant; the ServiceError is kept as the last cause. */
export function fromServiceError(error: ServiceError): BiopayError {
  const fromDetail = detailOf(error.metadata);
  if (fromDetail) return fromDetail;
  const codeValue = error.metadata?.get(ERROR_CODE_METADATA_KEY)[0];
  const code = typeof codeValue === 'string' && codeValue !== '' ? codeValue : CODE_BY_STATUS[error.code] ?? ErrorCode.Internal;
  return new BiopayError(code, error.details || error.message, { cause: error });
}

function detailOf(metadata: Metadata | undefined): BiopayError | undefined {
  const value = metadata?.get(ERROR_DETAIL_METADATA_KEY)[0];
  if (!Buffer.isBuffer(value)) return undefined;
  try {
    const detail = ErrorDetail.decode(value);
    return detail.code === '' ? undefined : BiopayError.fromDetail(detail);
  } catch {
    return undefined;
  }
}
