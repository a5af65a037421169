/**
 * Where business commands and their records travel. Commands go through a JetStream stream so a
 * business node that restarts misses none; the outcome of one command is answered on a core NATS
 * subject the terminal listens to while it waits, and recorded in a KV bucket.
 */
import { subjectToken } from '../transport/subject-token.js';

export const BUSINESS_STREAM = 'BIOPAY_BUSINESS';
export const BUSINESS_CONSUMER = 'business-executor';
export const BUSINESS_RECORDS_BUCKET = 'biopay_business_records';

/** Commands per stream kept at most; older ones are dropped (they are long past their deadline). */
export const BUSINESS_STREAM_MESSAGES_MAX = 1_000_000;
/** How long JetStream remembers a message id to drop a duplicate publish (the terminal's retries). */
export const BUSINESS_DUPLICATE_WINDOW_MS = 120_000;

export function businessCommandSubject(terminalId: string): string {
  return `biopay.business.command.${subjectToken(terminalId)}`;
}

export function businessResultSubject(paymentId: string): string {
  return `biopay.business.result.${subjectToken(paymentId)}`;
}

/**
 * A command may name, in this header, the subject its record is answered on (one subscription per
 * terminal node instead of one per payment); without it the answer goes to businessResultSubject.
 */
export const BUSINESS_REPLY_HEADER = 'Biopay-Reply-To';
const REPLY_PREFIX = 'biopay.business.reply.';

export function businessReplySubject(clientId: string): string {
  return `${REPLY_PREFIX}${subjectToken(clientId)}`;
}

/** Only a reply subject of our own shape is honoured: a command cannot make us publish anywhere. */
export function isBusinessReplySubject(subject: string | undefined): subject is string {
  return subject !== undefined && subject.startsWith(REPLY_PREFIX) && /^[A-Za-z0-9_-]{1,128}$/.test(subject.slice(REPLY_PREFIX.length));
}

/** KV keys allow [-/_=.a-zA-Z0-9]; the same encoding keeps any id usable as a key. */
export function recordKey(paymentId: string): string {
  return subjectToken(paymentId);
}

/** The subject the records bucket stores a payment's record under (a KV bucket's `$KV.<bucket>.<key>`). */
export function recordSubject(paymentId: string): string {
  return `$KV.${BUSINESS_RECORDS_BUCKET}.${recordKey(paymentId)}`;
}
