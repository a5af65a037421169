/** Amounts and distances as the person at the terminal reads them. */
import { formatAmount } from '../money.js';

/** 450n EUR -> "4.50 EUR". */
export function moneyText(amountMinor: bigint, currency: string): string {
  return `${formatAmount(amountMinor, currency)} ${currency}`;
}

/** Under a kilometre in whole meters (rounded up), above it in tenths of a kilometre. */
export function distanceText(meters: number): string {
  return meters < 1000 ? `${Math.ceil(meters)} m` : `${(meters / 1000).toFixed(1)} km`;
}
