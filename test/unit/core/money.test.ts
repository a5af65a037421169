import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { INT64_MAX, formatAmount, parseAmount, assertPositiveAmount } from '../../../core/money.js';
import { BiopayError, ErrorCode } from '../../../core/errors.js';

describe('money', () => {
  it('parses decimals in the currency exponent', () => {
    expect(parseAmount('12.34', 'EUR')).toBe(1234n);
    expect(parseAmount('12', 'EUR')).toBe(1200n);
    expect(parseAmount('12.3', 'EUR')).toBe(1230n);
    expect(parseAmount('500', 'JPY')).toBe(500n);
    expect(parseAmount('1.234', 'KWD')).toBe(1234n);
  });

  it('refuses more decimals than the currency has, garbage and floats in exponent form', () => {
    for (const text of ['12.345', 'abc', '1e3', '', '12.', '.5', '--1', '1,00']) {
      expect(() => parseAmount(text, 'EUR')).toThrow(BiopayError);
    }
    expect(() => parseAmount('1.5', 'JPY')).toThrow(/0 decimals/);
  });

  it('refuses amounts that overflow int64', () => {
    const error = (() => { try { parseAmount('92233720368547758.08', 'EUR'); } catch (e) { return e; } })();
    expect(error).toBeInstanceOf(BiopayError);
    expect((error as BiopayError).code).toBe(ErrorCode.AmountOutOfRange);
    expect(parseAmount('92233720368547758.07', 'EUR')).toBe(INT64_MAX);
  });

  it('refuses non-positive payment amounts', () => {
    expect(() => assertPositiveAmount(0n)).toThrow(/positive/);
    expect(() => assertPositiveAmount(INT64_MAX + 1n)).toThrow(/64-bit/);
  });

  it('formats and parses back exactly (property)', () => {
    fc.assert(fc.property(fc.bigInt({ min: -INT64_MAX, max: INT64_MAX }), fc.constantFrom('EUR', 'JPY', 'KWD'), (minor, currency) => {
      expect(parseAmount(formatAmount(minor, currency), currency)).toBe(minor);
    }));
  });

  it('refuses malformed currency codes', () => {
    expect(() => parseAmount('1.00', 'eur')).toThrow(/ISO 4217/);
  });
});
