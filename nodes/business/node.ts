/**
 * Business node: executes the business authorization that follows a payment (open a gate, dispense
 * goods), taken from a JetStream durable consumer, records each execution in a KV bucket and
 * answers the waiting terminal. A command is executed at most once per payment id as long as its
 * record exists, and never started within EXECUTION_START_MARGIN_MS of the terminal's deadline (the
 * terminal voids by then).
 */
import { jetstream, JetStreamApiCodes, JetStreamApiError, type ConsumerMessages, type JsMsg } from '@nats-io/jetstream';
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
import { encodeMessage } from '../../core/protobuf.js';
import { logSetupRetries } from '../../core/transport/jetstream-setup.js';

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
  await ensureBusinessStream(nc, logSetupRetries(log));
  const records = await openBusinessRecords(nc, logSetupRetries(log));
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

/**
 * Attempts at storing the record of an execution, and the pause before the next (times the
 * attempt). Each attempt lasts at most BUSINESS_RECORDS_TIMEOUT_MS: all of them end well within the
 * consumer's ack wait (10 s), so the command is acknowledged before JetStream would redeliver it.
 */
const RECORD_WRITE_ATTEMPTS_MAX = 3;
const RECORD_WRITE_BACKOFF_MS = 100;

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
    // Reading the records failed before anything ran: let JetStream redeliver.
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
  const replyTo = message.headers?.get(BUSINESS_REPLY_HEADER);
  const subject = isBusinessReplySubject(replyTo) ? replyTo : businessResultSubject(command.paymentId);
  const answer = (record: BusinessRecord) => context.nc.publish(subject, encodeMessage(BusinessRecord, record));
  const earlier = await earlierRecord(message, command, context);
  if (earlier) answer(earlier);
  else await recordExecution(await execute(command, context), context, answer);
  // From here on the command is done: a redelivery would run the device a second time.
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

/**
 * Stores the record of an execution (the device has run, or found the deadline passed) and answers
 * the terminal. Another node's record of the same payment, written first (a redelivery raced this
 * one), is the truth and is answered instead. When the bucket fails otherwise, the terminal hears
 * of the execution at once, while it still waits, and the write is tried again; the command is
 * acknowledged either way, because redelivering it would run the device a second time (dispense
 * twice), which is worse than an execution missing from the records.
 */
async function recordExecution(record: BusinessRecord, context: ExecutionContext, answer: (record: BusinessRecord) => void): Promise<void> {
  try {
    await createBusinessRecord(context.nc, context.records, record);
    answer(record);
  } catch (error) {
    if (recordedElsewhere(error)) {
      answer((await readBusinessRecord(context.records, record.paymentId).catch(() => undefined)) ?? record);
      return;
    }
    answer(record);
    await writeRecordAgain(record, context, error);
  }
}

/** The remaining attempts at a record whose first write failed; an error is logged when all do. */
async function writeRecordAgain(record: BusinessRecord, context: ExecutionContext, firstError: unknown): Promise<void> {
  let lastError = firstError;
  for (let attempt = 2; attempt <= RECORD_WRITE_ATTEMPTS_MAX; attempt++) {
    await new Promise((resolve) => setTimeout(resolve, RECORD_WRITE_BACKOFF_MS * (attempt - 1)));
    try {
      await createBusinessRecord(context.nc, context.records, record);
      return;
    } catch (error) {
      // Recorded meanwhile: an earlier attempt that timed out did land, or another node wrote it.
      if (recordedElsewhere(error)) return;
      lastError = error;
    }
  }
  context.log.error('business execution answered but not recorded', {
    paymentId: record.paymentId, terminalId: record.terminalId, succeeded: record.succeeded, error: String(lastError),
  });
}

/** The write was refused because the payment's record exists already. */
function recordedElsewhere(error: unknown): boolean {
  return error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamWrongLastSequence;
}

/**
 * A command is started only while this much of its deadline is left, so that the device has run
 * and its answer reached the terminal before the terminal stops waiting (which then still waits a
 * while for a late answer: core/terminal/payment-saga.ts). Started later, goods could go out for a
 * payment the terminal is voiding.
 */
export const EXECUTION_START_MARGIN_MS = 500;

async function execute(command: BusinessCommand, context: ExecutionContext): Promise<BusinessRecord> {
  const nowUnixMs = Date.now();
  const tooLate = command.deadlineUnixMs > 0n && BigInt(nowUnixMs + EXECUTION_START_MARGIN_MS) > command.deadlineUnixMs;
  const outcome = tooLate
    ? { succeeded: false, detail: `less than ${EXECUTION_START_MARGIN_MS} ms left before the deadline: not executed` }
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
  // Debug: one line per payment would cost more than the payment's own work under load.
  context.log.debug('business command executed', {
    paymentId: command.paymentId, terminalId: command.terminalId, succeeded: outcome.succeeded,
  });
  return record;
}
