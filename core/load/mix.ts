/**
 * The workload mix: what share of payments should be approved, refused by a restriction or by
 * insufficient funds, come from an unknown finger, or fail their business step. Each category
 * names the outcome it should end in, so a report can tell a biometric miss from a lost payment.
 */
import { PaymentOutcome } from '../../proto/gen/biopay/v1/payment.js';
import { ErrorCode, BiopayError } from '../errors.js';
import { RefusalCode as PolicyRefusal } from '../policy/types.js';
import { RefusalCode as SagaRefusal } from '../terminal/payment-saga.js';

export const CATEGORIES = ['approved', 'restricted', 'insufficient', 'unknown', 'jammed'] as const;
export type Category = (typeof CATEGORIES)[number];
export type Mix = Readonly<Record<Category, number>>;

/** Issue 5's workload: 80% approved, 10% refused (restriction or funds), 5% unknown, 5% failing business. */
export const DEFAULT_MIX: Mix = { approved: 80, restricted: 8, insufficient: 2, unknown: 5, jammed: 5 };

export interface Expectation {
  readonly outcome: PaymentOutcome;
  /** The first refusal's code, when refused or voided. */
  readonly code: string;
}

export const EXPECTED: Readonly<Record<Category, Expectation>> = {
  approved: { outcome: PaymentOutcome.PAYMENT_OUTCOME_APPROVED, code: '' },
  restricted: { outcome: PaymentOutcome.PAYMENT_OUTCOME_REFUSED, code: PolicyRefusal.MaxPerPayment },
  insufficient: { outcome: PaymentOutcome.PAYMENT_OUTCOME_REFUSED, code: ErrorCode.InsufficientFunds },
  unknown: { outcome: PaymentOutcome.PAYMENT_OUTCOME_REFUSED, code: SagaRefusal.NoMatch },
  jammed: { outcome: PaymentOutcome.PAYMENT_OUTCOME_VOIDED, code: SagaRefusal.BusinessFailed },
};

/** Refusals a healthy network gives; any other code is a failure of the network (an error). */
const BUSINESS_REFUSALS: ReadonlySet<string> = new Set<string>([
  ...Object.values(PolicyRefusal), ErrorCode.InsufficientFunds, SagaRefusal.NoMatch, SagaRefusal.BusinessFailed,
  // A synthetic touch with too little of the finger on it: the terminal asks for another.
  SagaRefusal.PoorCapture,
]);

export function isErrorCode(code: string): boolean {
  return !BUSINESS_REFUSALS.has(code);
}

/** Parses `approved=80,restricted=8,...`; categories left out weigh 0. */
export function parseMix(text: string): Mix {
  const mix: Record<Category, number> = { approved: 0, restricted: 0, insufficient: 0, unknown: 0, jammed: 0 };
  for (const part of text.split(',')) {
    const [name, value] = part.split('=');
    if (!name || value === undefined || !(CATEGORIES as readonly string[]).includes(name.trim())) {
      throw new BiopayError(ErrorCode.BadRequest, `mix: "${part}" is not CATEGORY=WEIGHT with CATEGORY one of ${CATEGORIES.join(', ')}`);
    }
    const weight = Number(value);
    if (!Number.isFinite(weight) || weight < 0) throw new BiopayError(ErrorCode.BadRequest, `mix: weight of ${name} must be a number >= 0`);
    mix[name.trim() as Category] = weight;
  }
  if (CATEGORIES.every((category) => mix[category] === 0)) throw new BiopayError(ErrorCode.BadRequest, 'mix: every weight is 0');
  return mix;
}

/** Picks categories with the given weights from uniform numbers in [0, 1). */
export function categoryPicker(mix: Mix): (uniform: number) => Category {
  const total = CATEGORIES.reduce((sum, category) => sum + mix[category], 0);
  if (!(total > 0)) throw new BiopayError(ErrorCode.BadRequest, 'mix: the weights sum to 0');
  const bounds = CATEGORIES.map((category, index) =>
    CATEGORIES.slice(0, index + 1).reduce((sum, c) => sum + mix[c], 0) / total);
  const last = [...CATEGORIES].reverse().find((category) => mix[category] > 0)!;
  return (uniform) => {
    for (let index = 0; index < CATEGORIES.length; index++) {
      if (uniform < bounds[index]! && mix[CATEGORIES[index]!] > 0) return CATEGORIES[index]!;
    }
    return last;
  };
}
