/**
 * Checks at the gateway's edge that the typed decode cannot make: protobuf int64 fields arrive as
 * signed 64-bit values, so an amount that overflowed int64 on the client's side shows up here as a
 * negative one and is refused as AMOUNT_OUT_OF_RANGE.
 */
import type { Money } from '../../proto/gen/biopay/v1/common.js';
import { BiopayError, ErrorCode } from '../../core/errors.js';
import { assertCurrency, assertInt64, assertPositiveAmount } from '../../core/money.js';

export function positiveAmount(amountMinor: bigint, field: string): bigint {
  return assertPositiveAmount(amountMinor, field);
}

/** 0 is allowed (it means "the whole amount" for capture and refund). */
export function nonNegativeAmount(amountMinor: bigint, field: string): bigint {
  assertInt64(amountMinor, field);
  if (amountMinor < 0n) throw new BiopayError(ErrorCode.AmountOutOfRange, `${field} must not be negative, got ${amountMinor}`);
  return amountMinor;
}

export function positiveMoney(money: Money | undefined, field: string): Money {
  if (!money) throw new BiopayError(ErrorCode.BadRequest, `${field} is required`);
  positiveAmount(money.amountMinor, `${field}.amount_minor`);
  assertCurrency(money.currency);
  return money;
}
