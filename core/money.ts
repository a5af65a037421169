/**
 * Money in integer minor units. Amounts are bigint, never floats; decimal strings are parsed and
 * formatted with the currency's exponent (ISO 4217).
 */
import { BiopayError, ErrorCode } from './errors.js';

export const INT64_MAX = 9_223_372_036_854_775_807n;
export const INT64_MIN = -9_223_372_036_854_775_808n;

/** Minor-unit exponents of the currencies that do not use 2. */
const EXPONENT_BY_CURRENCY: Readonly<Record<string, number>> = {
  JPY: 0, KRW: 0, ISK: 0, CLP: 0, VND: 0, XOF: 0, XAF: 0,
  BHD: 3, KWD: 3, OMR: 3, JOD: 3, TND: 3, IQD: 3, LYD: 3,
};

const CURRENCY_PATTERN = /^[A-Z]{3}$/;
const DECIMAL_PATTERN = /^(-)?(\d+)(?:\.(\d+))?$/;
const DECIMAL_DIGITS_MAX = 30;

export function assertCurrency(currency: string): string {
  if (!CURRENCY_PATTERN.test(currency)) {
    throw new BiopayError(ErrorCode.BadRequest, `currency must be an ISO 4217 code such as EUR, got "${currency}"`);
  }
  return currency;
}

export function currencyExponent(currency: string): number {
  return EXPONENT_BY_CURRENCY[assertCurrency(currency)] ?? 2;
}

/** Throws AMOUNT_OUT_OF_RANGE unless the amount fits int64. */
export function assertInt64(amountMinor: bigint, what = 'amount'): bigint {
  if (amountMinor > INT64_MAX || amountMinor < INT64_MIN) {
    throw new BiopayError(ErrorCode.AmountOutOfRange, `${what} ${amountMinor} does not fit a signed 64-bit integer`);
  }
  return amountMinor;
}

/** Throws unless the amount is a positive int64. */
export function assertPositiveAmount(amountMinor: bigint, what = 'amount'): bigint {
  assertInt64(amountMinor, what);
  if (amountMinor <= 0n) {
    throw new BiopayError(ErrorCode.AmountOutOfRange, `${what} must be positive, got ${amountMinor}`);
  }
  return amountMinor;
}

/** "12.34" in EUR -> 1234n. Refuses more decimals than the currency has, and int64 overflow. */
export function parseAmount(decimal: string, currency: string): bigint {
  const exponent = currencyExponent(currency);
  const text = decimal.trim();
  const match = text.length <= DECIMAL_DIGITS_MAX ? DECIMAL_PATTERN.exec(text) : null;
  if (!match) {
    throw new BiopayError(ErrorCode.BadRequest, `amount must be a decimal such as 12.34, got "${decimal}"`);
  }
  const [, sign, whole, fraction = ''] = match;
  if (fraction.length > exponent) {
    throw new BiopayError(ErrorCode.BadRequest, `${currency} has ${exponent} decimals, got "${decimal}"`);
  }
  const minor = BigInt(whole! + fraction.padEnd(exponent, '0'));
  return assertInt64(sign ? -minor : minor);
}

/** 1234n in EUR -> "12.34". */
export function formatAmount(amountMinor: bigint, currency: string): string {
  const exponent = currencyExponent(currency);
  const negative = amountMinor < 0n;
  const digits = (negative ? -amountMinor : amountMinor).toString().padStart(exponent + 1, '0');
  const whole = digits.slice(0, digits.length - exponent);
  const fraction = exponent > 0 ? `.${digits.slice(digits.length - exponent)}` : '';
  return `${negative ? '-' : ''}${whole}${fraction}`;
}
