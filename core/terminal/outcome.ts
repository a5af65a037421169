/** Payment outcomes as the words people and JSON read. */
import { PaymentOutcome } from '../../proto/gen/biopay/v1/payment.js';

export type OutcomeWord = 'approved' | 'refused' | 'voided' | 'unknown';

export function describeOutcome(outcome: PaymentOutcome): OutcomeWord {
  switch (outcome) {
    case PaymentOutcome.PAYMENT_OUTCOME_APPROVED: return 'approved';
    case PaymentOutcome.PAYMENT_OUTCOME_REFUSED: return 'refused';
    case PaymentOutcome.PAYMENT_OUTCOME_VOIDED: return 'voided';
    default: return 'unknown';
  }
}
