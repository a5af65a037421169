/**
 * The terminal's side of the business step: publish the command to the durable stream (deduplicated
 * on the payment id) and wait, bounded by a deadline, for the business node's record. A payment
 * whose command was already executed gets that execution's record: a retried payment converges to
 * its first outcome instead of running the business step twice.
 */
import { jetstream, type JetStreamClient } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { BusinessCommand, BusinessRecord } from '../../proto/gen/biopay/v1/business.js';
import { BiopayError, ErrorCode } from '../errors.js';
import { readBusinessRecord } from '../business/records.js';
import { openBusinessRecords } from '../business/setup.js';
import { businessCommandSubject, businessResultSubject } from '../business/subjects.js';

export class BusinessClient {
  private readonly js: JetStreamClient;

  private constructor(private readonly nc: NatsConnection, private readonly records: KV) {
    this.js = jetstream(nc);
  }

  static async open(nc: NatsConnection): Promise<BusinessClient> {
    return new BusinessClient(nc, await openBusinessRecords(nc));
  }

  async execute(command: BusinessCommand, timeoutMs: number): Promise<BusinessRecord> {
    const recorded = await this.recorded(command.paymentId);
    if (recorded) return recorded;
    // Subscribe before publishing: the answer may come back faster than the publish acknowledgement.
    const subscription = this.nc.subscribe(businessResultSubject(command.paymentId), { max: 1, timeout: timeoutMs });
    try {
      const ack = await this.js.publish(businessCommandSubject(command.terminalId), BusinessCommand.encode(command).finish(), {
        msgID: command.paymentId,
        timeout: timeoutMs,
      });
      // A duplicate was executed (or is executing) under its first publish: its record is the answer.
      if (ack.duplicate) {
        const first = await this.recorded(command.paymentId);
        if (first) return first;
      }
      return await firstRecord(subscription, timeoutMs);
    } catch (error) {
      throw asTimeout(error, timeoutMs);
    } finally {
      subscription.unsubscribe();
    }
  }

  private recorded(paymentId: string): Promise<BusinessRecord | undefined> {
    return readBusinessRecord(this.records, paymentId);
  }
}

async function firstRecord(subscription: Subscription, timeoutMs: number): Promise<BusinessRecord> {
  for await (const message of subscription) {
    return BusinessRecord.decode(message.data);
  }
  throw new BiopayError(ErrorCode.Timeout, `no business record within ${timeoutMs} ms`);
}

function asTimeout(error: unknown, timeoutMs: number): BiopayError {
  if (error instanceof BiopayError) return error;
  const text = `${(error as Error)?.name ?? ''} ${(error as Error)?.message ?? ''}`;
  if (/timeout/i.test(text)) {
    return new BiopayError(ErrorCode.Timeout, `no business record within ${timeoutMs} ms`, { cause: error });
  }
  return new BiopayError(ErrorCode.Unavailable, 'business step could not be sent', { cause: error });
}
