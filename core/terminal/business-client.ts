/**
 * The terminal's side of the business step: publish the command to the durable stream (deduplicated
 * on the payment id) and wait, bounded by a deadline, for the business node's record.
 */
import { jetstream, type JetStreamClient } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { BusinessCommand, BusinessRecord } from '../../proto/gen/biopay/v1/business.js';
import { BiopayError, ErrorCode } from '../errors.js';
import { businessCommandSubject, businessResultSubject } from '../business/subjects.js';

export class BusinessClient {
  private readonly js: JetStreamClient;

  constructor(private readonly nc: NatsConnection) {
    this.js = jetstream(nc);
  }

  async execute(command: BusinessCommand, timeoutMs: number): Promise<BusinessRecord> {
    // Subscribe before publishing: the answer may come back faster than the publish acknowledgement.
    const subscription = this.nc.subscribe(businessResultSubject(command.paymentId), { max: 1, timeout: timeoutMs });
    try {
      await this.js.publish(businessCommandSubject(command.terminalId), BusinessCommand.encode(command).finish(), {
        msgID: command.paymentId,
        timeout: timeoutMs,
      });
      for await (const message of subscription) {
        return BusinessRecord.decode(message.data);
      }
    } catch (error) {
      throw asTimeout(error, timeoutMs);
    } finally {
      subscription.unsubscribe();
    }
    throw new BiopayError(ErrorCode.Timeout, `no business record within ${timeoutMs} ms`);
  }
}

function asTimeout(error: unknown, timeoutMs: number): BiopayError {
  const name = (error as Error)?.name ?? '';
  if (/timeout/i.test(name) || /timeout/i.test(String((error as Error)?.message))) {
    return new BiopayError(ErrorCode.Timeout, `no business record within ${timeoutMs} ms`, { cause: error });
  }
  return new BiopayError(ErrorCode.Unavailable, 'business step could not be sent', { cause: error });
}
