/**
 * Business node: executes the business authorization that follows a payment (open a gate, dispense
 * goods), taken from a JetStream durable consumer, records each execution in a KV bucket and
 * answers the waiting terminal. A command is executed at most once per payment id as long as its
 * record exists, and never after the terminal's deadline (the terminal voids by then).
 */
import { jetstream, type ConsumerMessages, type JsMsg } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { BusinessCommand, BusinessRecord, type GetBusinessRecordRequest } from '../../proto/gen/biopay/v1/business.js';
import { ActorSystem } from '../../core/actors/index.js';
import { BiopayError, ErrorCode } from '../../core/errors.js';
import { BusinessProtocol, ActorKind } from '../../core/protocols.js';
import type { BusinessDevice } from '../../core/business/device.js';
import { BUSINESS_ACK_PENDING_MAX, ensureBusinessStream, openBusinessRecords } from '../../core/business/setup.js';
import { createBusinessRecord, readBusinessRecord } from '../../core/business/records.js';
import {
  BUSINESS_CONSUMER, BUSINESS_REPLY_HEADER, BUSINESS_STREAM, businessResultSubject, isBusinessReplySubject,
} from '../../core/business/subjects.js';
import type { Logger } from '../../core/log.js';

export interface BusinessNodeOptions {
  readonly nc: NatsConnection;
  readonly system: ActorSystem;
  readonly device: BusinessDevice;
  readonly log: Logger;
}

export interface BusinessNode {
  stop(): Promise<void>;
}

export async function startBusinessNode(options: BusinessNodeOptions): Promise<BusinessNode> {
  const { nc, system, device, log } = options;
  await ensureBusinessStream(nc);
  const records = await openBusinessRecords(nc);
  const consumer = await jetstream(nc).consumers.get(BUSINESS_STREAM, BUSINESS_CONSUMER);
  const messages = await consumer.consume({ max_messages: Math.min(256, BUSINESS_ACK_PENDING_MAX) });
  const loop = consumeCommands(messages, { nc, records, device, log });

  system.register(ActorKind.Business, BusinessProtocol, () => ({
    async receive(_method, message) {
      const { paymentId } = message as GetBusinessRecordRequest;
      const record = await readBusinessRecord(records, paymentId);
      if (!record) throw new BiopayError(ErrorCode.NotFound, `no business record for payment ${paymentId}`);
      return record;
    },
  }));
  await system.serve(ActorKind.Business);

  return {
    async stop() {
      await messages.close();
      await loop;
    },
  };
}

interface ExecutionContext {
  readonly nc: NatsConnection;
  readonly records: KV;
  readonly device: BusinessDevice;
  readonly log: Logger;
}

/** Commands executing at once on this node; the consumer's pull buffer holds the next ones. */
export const BUSINESS_COMMANDS_IN_FLIGHT_MAX = 128;

/**
 * Runs commands concurrently up to the bound, in arrival order per terminal (one lane per command
 * subject): a terminal's gate sees its commands in order, while terminals do not wait for each other.
 */
async function consumeCommands(messages: ConsumerMessages, context: ExecutionContext): Promise<void> {
  const lanes = new Map<string, Promise<void>>();
  let inFlight = 0;
  let slotFreed: (() => void) | undefined;
  for await (const message of messages) {
    while (inFlight >= BUSINESS_COMMANDS_IN_FLIGHT_MAX) await new Promise<void>((resolve) => { slotFreed = resolve; });
    inFlight++;
    const lane = message.subject;
    const previous = lanes.get(lane);
    const tail: Promise<void> = (previous ?? Promise.resolve())
      .then(() => handleSafely(message, context))
      .finally(() => {
        inFlight--;
        if (lanes.get(lane) === tail) lanes.delete(lane);
        const wake = slotFreed;
        slotFreed = undefined;
        wake?.();
      });
    lanes.set(lane, tail);
  }
  await Promise.all(lanes.values());
}

async function handleSafely(message: JsMsg, context: ExecutionContext): Promise<void> {
  try {
    await handleCommand(message, context);
  } catch (error) {
    // The KV or the connection failed: let JetStream redeliver.
    context.log.warn('business command not executed, will be redelivered', { error: String(error) });
    message.nak(1_000);
  }
}

async function handleCommand(message: JsMsg, context: ExecutionContext): Promise<void> {
  let command: BusinessCommand;
  try {
    command = BusinessCommand.decode(message.data);
  } catch (error) {
    context.log.warn('malformed business command dropped', { subject: message.subject, error: String(error) });
    message.term();
    return;
  }
  const record = (await earlierRecord(message, command, context)) ?? (await execute(command, context));
  const replyTo = message.headers?.get(BUSINESS_REPLY_HEADER);
  context.nc.publish(isBusinessReplySubject(replyTo) ? replyTo : businessResultSubject(command.paymentId), BusinessRecord.encode(record).finish());
  message.ack();
}

/**
 * The record of an earlier execution of this payment's command, if any. Read unless the command
 * cannot have an earlier one: the ledger authorized the payment for this very attempt (a retried
 * payment's authorize is a replay) and this is the stream message's first delivery (the stream
 * drops a republished command within its duplicate window, and no attempt but this one exists).
 * The read is a round trip to the records bucket that most payments would pay for nothing.
 */
async function earlierRecord(message: JsMsg, command: BusinessCommand, context: ExecutionContext): Promise<BusinessRecord | undefined> {
  if (command.freshAuthorization && !message.redelivered) return undefined;
  return readBusinessRecord(context.records, command.paymentId);
}

async function execute(command: BusinessCommand, context: ExecutionContext): Promise<BusinessRecord> {
  const nowUnixMs = Date.now();
  const expired = command.deadlineUnixMs > 0n && BigInt(nowUnixMs) > command.deadlineUnixMs;
  const outcome = expired
    ? { succeeded: false, detail: 'deadline passed before execution: not executed' }
    : await context.device.execute(command).catch((error: unknown) => ({
        succeeded: false,
        detail: `device error: ${(error as Error).message}`,
      }));
  const record: BusinessRecord = {
    paymentId: command.paymentId,
    terminalId: command.terminalId,
    action: command.action,
    succeeded: outcome.succeeded,
    detail: outcome.detail,
    executedUnixMs: BigInt(nowUnixMs),
  };
  try {
    await createBusinessRecord(context.records, record);
  } catch (error) {
    // Another node recorded this payment first (a redelivery raced us): its record is the truth.
    const first = await readBusinessRecord(context.records, command.paymentId);
    if (first) return first;
    throw error;
  }
  // Debug: one line per payment would cost more than the payment's own work under load.
  context.log.debug('business command executed', {
    paymentId: command.paymentId, terminalId: command.terminalId, succeeded: outcome.succeeded,
  });
  return record;
}
