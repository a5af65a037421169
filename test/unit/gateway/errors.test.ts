import { describe, expect, it } from 'vitest';
import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { BiopayError, ErrorCode } from '../../../core/errors.js';
import { ERROR_CODE_METADATA_KEY, fromServiceError, grpcStatusOf, toGrpcStatus } from '../../../core/grpc/index.js';

const EXPECTED: Array<[string, status]> = [
  [ErrorCode.BadRequest, status.INVALID_ARGUMENT],
  [ErrorCode.MalformedMessage, status.INVALID_ARGUMENT],
  [ErrorCode.InvalidTemplate, status.INVALID_ARGUMENT],
  [ErrorCode.AmountOutOfRange, status.INVALID_ARGUMENT],
  [ErrorCode.NotFound, status.NOT_FOUND],
  [ErrorCode.UnknownAccount, status.NOT_FOUND],
  [ErrorCode.UnknownCredential, status.NOT_FOUND],
  [ErrorCode.UnknownPayment, status.NOT_FOUND],
  ['UNKNOWN_TERMINAL', status.NOT_FOUND],
  [ErrorCode.InsufficientFunds, status.FAILED_PRECONDITION],
  [ErrorCode.InvalidState, status.FAILED_PRECONDITION],
  [ErrorCode.IdempotencyConflict, status.ALREADY_EXISTS],
  [ErrorCode.AlreadyEnrolled, status.ALREADY_EXISTS],
  [ErrorCode.NotAuthorized, status.PERMISSION_DENIED],
  [ErrorCode.Timeout, status.DEADLINE_EXCEEDED],
  [ErrorCode.Unavailable, status.UNAVAILABLE],
  [ErrorCode.MailboxFull, status.UNAVAILABLE],
  [ErrorCode.Internal, status.INTERNAL],
  ['SOMETHING_NEW', status.INTERNAL],
];

function serviceError(object: ReturnType<typeof toGrpcStatus>): ServiceError {
  return Object.assign(new Error(object.details), { code: object.code!, details: object.details!, metadata: object.metadata! });
}

describe('BiopayError <-> gRPC status', () => {
  it.each(EXPECTED)('%s -> %s', (code, expected) => {
    expect(grpcStatusOf(code)).toBe(expected);
    const mapped = toGrpcStatus(new BiopayError(code, 'why'));
    expect(mapped.code).toBe(expected);
    expect(mapped.metadata?.get(ERROR_CODE_METADATA_KEY)).toEqual([code]);
  });

  it('round-trips code, message and cause chain', () => {
    const cause = new BiopayError(ErrorCode.Timeout, 'ledger did not answer');
    const back = fromServiceError(serviceError(toGrpcStatus(new BiopayError(ErrorCode.Unavailable, 'try later', { cause }))));
    expect(back).toBeInstanceOf(BiopayError);
    expect(back).toMatchObject({ code: ErrorCode.Unavailable, message: 'try later' });
    expect(back.cause).toMatchObject({ code: ErrorCode.Timeout, message: 'ledger did not answer' });
  });

  it('turns a plain Error into INTERNAL', () => {
    expect(toGrpcStatus(new Error('boom'))).toMatchObject({ code: status.INTERNAL, details: 'boom' });
  });

  it('falls back to the status when no biopay metadata came back', () => {
    const plain = (code: status) => Object.assign(new Error('x'), { code, details: 'x', metadata: new Metadata() });
    expect(fromServiceError(plain(status.UNAVAILABLE)).code).toBe(ErrorCode.Unavailable);
    expect(fromServiceError(plain(status.DEADLINE_EXCEEDED)).code).toBe(ErrorCode.Timeout);
    expect(fromServiceError(plain(status.UNIMPLEMENTED)).code).toBe(ErrorCode.Internal);
    const withCodeOnly = new Metadata();
    withCodeOnly.set(ERROR_CODE_METADATA_KEY, ErrorCode.InsufficientFunds);
    expect(fromServiceError({ ...plain(status.FAILED_PRECONDITION), metadata: withCodeOnly }).code).toBe(ErrorCode.InsufficientFunds);
  });
});
