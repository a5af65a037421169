/**
 * The terminal's side of the business step: publish the command to the durable stream (deduplicated
 * on the payment id) and wait, bounded by a deadline, for the business node's record. A payment
 * whose command was already executed gets that execution's record: a retried payment converges to
 * its first outcome instead of running the business step twice (the business node reads the record
 * before executing a retried payment's command, so at-most-once holds without a read here; see
 * BusinessCommand.fresh_authorization).
 *
 * Answers come back on one subscription per client (the subject is named in a header of the
 * command), not one subscription per payment: two protocol messages fewer per payment.
 */
import type { KV } from '@nats-io/kv';
import { headers as natsHeaders, nuid, type Msg, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { BusinessCommand, BusinessRecord } from '../../proto/gen/biopay/v1/business.js';
import { BiopayError, ErrorCode } from '../errors.js';
import { readBusinessRecord } from '../business/records.js';
import { openBusinessRecords } from '../business/setup.js';
import { BUSINESS_REPLY_HEADER, businessCommandSubject, businessReplySubject } from '../business/subjects.js';
import { encodeMessage } from '../protobuf.js';
import type { JetStreamSetupRetry } from '../transport/jetstream-setup.js';
import { publishToStream } from '../transport/stream-publish.js';

/** Business steps waited for at once per client; one more is refused with UNAVAILABLE. */
export const BUSINESS_WAITERS_MAX = 10_000;
/** A duplicate whose first execution has no record yet is re-read this often. */
const DUPLICATE_POLL_MS = 50;

interface Waiter {
  readonly resolve: (record: BusinessRecord) => void;
  readonly reject: (error: BiopayError) => void;
  readonly timer: NodeJS.Timeout;
}

export class BusinessClient {
  private readonly replySubject: string;
  private readonly replies: Subscription;
  private readonly waiters = new Map<string, Waiter>();

  private constructor(private readonly nc: NatsConnection, private readonly records: KV) {
    this.replySubject = businessReplySubject(nuid.next());
    this.replies = nc.subscribe(this.replySubject, { callback: (error, msg) => { if (!error) this.onReply(msg); } });
  }

  static async open(nc: NatsConnection, onRetry?: JetStreamSetupRetry): Promise<BusinessClient> {
    const client = new BusinessClient(nc, await openBusinessRecords(nc, onRetry));
    // The subscription must be known to the server before the first command names it.
    await nc.flush();
    return client;
  }

  async execute(command: BusinessCommand, timeoutMs: number): Promise<BusinessRecord> {
    if (this.waiters.has(command.paymentId)) {
      throw new BiopayError(ErrorCode.InvalidState, `business step of payment ${command.paymentId} is already being waited for`);
    }
    if (this.waiters.size >= BUSINESS_WAITERS_MAX) {
      throw new BiopayError(ErrorCode.Unavailable, `business client: ${BUSINESS_WAITERS_MAX} business steps already waiting`);
    }
    // Registered before publishing: the answer may come back faster than the publish acknowledgement.
    const answer = this.wait(command.paymentId, timeoutMs);
    try {
      const ack = await publishToStream(this.nc, businessCommandSubject(command.terminalId), encodeMessage(BusinessCommand, command), {
        msgId: command.paymentId,
        timeoutMs,
        headers: this.replyHeaders(),
      });
      // A duplicate was executed (or is executing) under its first publish: its record is the answer.
      if (ack.duplicate) void this.awaitRecord(command.paymentId, Date.now() + timeoutMs);
    } catch (error) {
      this.settle(command.paymentId, undefined, asTimeout(error, timeoutMs));
    }
    return answer;
  }

  /**
   * The record of a payment's business step whose answer did not come by its deadline: its late
   * answer, if it comes within `waitMs` (the business node answers every execution), else one read
   * of the records (the answer may have been lost); undefined when there is none. One read per
   * late payment, not a poll: when answers are late for many payments at once, JetStream is
   * already struggling.
   */
  async recordOf(paymentId: string, waitMs: number): Promise<BusinessRecord | undefined> {
    if (!this.waiters.has(paymentId) && this.waiters.size < BUSINESS_WAITERS_MAX) {
      try {
        return await this.wait(paymentId, waitMs);
      } catch {
        // No late answer: the records say whether it ran.
      }
    }
    return readBusinessRecord(this.records, paymentId).catch(() => undefined);
  }

  close(): void {
    this.replies.unsubscribe();
    for (const paymentId of [...this.waiters.keys()]) {
      this.settle(paymentId, undefined, new BiopayError(ErrorCode.Stopped, 'business client closed'));
    }
  }

  private wait(paymentId: string, timeoutMs: number): Promise<BusinessRecord> {
    return new Promise<BusinessRecord>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.settle(paymentId, undefined, new BiopayError(ErrorCode.Timeout, `no business record within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.set(paymentId, { resolve, reject, timer });
    });
  }

  private settle(paymentId: string, record: BusinessRecord | undefined, error?: BiopayError): void {
    const waiter = this.waiters.get(paymentId);
    if (!waiter) return;
    this.waiters.delete(paymentId);
    clearTimeout(waiter.timer);
    if (record) waiter.resolve(record);
    else waiter.reject(error ?? new BiopayError(ErrorCode.Internal, 'business step settled without an answer'));
  }

  private onReply(msg: Msg): void {
    let record: BusinessRecord;
    try {
      record = BusinessRecord.decode(msg.data);
    } catch {
      return; // Not a record: nobody can be answered with it.
    }
    this.settle(record.paymentId, record);
  }

  /** The first publish's answer went to its own waiter: read the record until it exists. */
  private async awaitRecord(paymentId: string, deadlineMs: number): Promise<void> {
    while (this.waiters.has(paymentId) && Date.now() < deadlineMs) {
      try {
        const record = await readBusinessRecord(this.records, paymentId);
        if (record) return this.settle(paymentId, record);
      } catch {
        // The bucket is briefly unreachable: try again until the deadline.
      }
      await new Promise((resolve) => setTimeout(resolve, DUPLICATE_POLL_MS));
    }
  }

  private replyHeaders() {
    const headers = natsHeaders();
    headers.set(BUSINESS_REPLY_HEADER, this.replySubject);
    return headers;
  }
}

function asTimeout(error: unknown, timeoutMs: number): BiopayError {
  if (error instanceof BiopayError) return error;
  const text = `${(error as Error)?.name ?? ''} ${(error as Error)?.message ?? ''}`;
  if (/timeout/i.test(text)) {
    return new BiopayError(ErrorCode.Timeout, `no business record within ${timeoutMs} ms`, { cause: error });
  }
  return new BiopayError(ErrorCode.Unavailable, 'business step could not be sent', { cause: error });
}
