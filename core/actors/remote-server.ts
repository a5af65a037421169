/**
 * Makes a local kind reachable over NATS: subscribes the kind's shard subjects with the kind's queue
 * group, decodes envelopes, delivers them to the local actors and replies. Bad input gets a typed
 * error reply; nothing a caller sends can stop the subscription.
 */
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import { asBiopayError, BiopayError, ErrorCode } from '../errors.js';
import { unknownMethodError } from './letter.js';
import type { LocalKind } from './local-kind.js';
import type { ActorLogger } from './log.js';
import { shardOf } from './shard.js';
import { actorQueueGroup } from './subjects.js';
import { decodeEnvelope, decodePayload, encodePayload, encodeReplyError, encodeReplyPayload, payloadOverflow } from './wire.js';

export class KindServer {
  private readonly subscriptions = new Map<string, Subscription>();

  constructor(
    private readonly nc: NatsConnection,
    private readonly local: LocalKind,
    private readonly shardCount: number,
    private readonly log: ActorLogger,
  ) {}

  get subjects(): string[] {
    return [...this.subscriptions.keys()];
  }

  /** Subscribes the subjects not yet subscribed; resolves once the server has them. */
  async add(subjects: readonly string[]): Promise<void> {
    const queue = actorQueueGroup(this.local.kind);
    for (const subject of subjects) {
      if (this.subscriptions.has(subject)) continue;
      const subscription = this.nc.subscribe(subject, {
        queue,
        callback: (error, msg) => {
          if (error) this.log('error', 'actor.subscription_failed', { kind: this.local.kind, message: error.message });
          else this.onMessage(msg);
        },
      });
      this.subscriptions.set(subject, subscription);
    }
    await this.nc.flush();
  }

  /** Stops receiving on the subjects; messages already delivered are still handled. */
  async remove(subjects: readonly string[]): Promise<void> {
    await Promise.all(
      subjects.map(async (subject) => {
        const subscription = this.subscriptions.get(subject);
        this.subscriptions.delete(subject);
        // On a connection already closed the subscription is gone anyway.
        await subscription?.drain().catch(() => undefined);
      }),
    );
  }

  async drain(): Promise<void> {
    await this.remove(this.subjects);
  }

  private onMessage(msg: Msg): void {
    const kind = this.local.kind;
    let method = '';
    try {
      const envelope = decodeEnvelope(msg.data);
      method = envelope.method;
      if (envelope.kind !== kind) {
        throw new BiopayError(ErrorCode.MalformedMessage, `envelope for kind ${envelope.kind} on a ${kind} subject`);
      }
      this.assertShard(msg.subject, envelope.key);
      const spec = this.local.protocol[method];
      if (!spec || !Object.hasOwn(this.local.protocol, method)) throw unknownMethodError(kind, method);
      const message = decodePayload(spec.request, envelope.payload, `${kind}.${method} request`);
      this.local.deliver(envelope.key, {
        method,
        message,
        deadlineMs: Number(envelope.deadlineUnixMs),
        settle: (error, result) => this.answer(msg, method, error, result),
      });
    } catch (error) {
      this.answer(msg, method, asBiopayError(error));
    }
  }

  /** A key on the wrong shard subject means the caller's shardCount differs from ours. */
  private assertShard(subject: string, key: string): void {
    const shard = subject.slice(subject.lastIndexOf('.') + 1);
    if (shard !== String(shardOf(key, this.shardCount))) {
      throw new BiopayError(ErrorCode.BadRequest, `key sent to shard ${shard}, belongs to another: is shardCount ${this.shardCount} everywhere?`);
    }
  }

  private answer(msg: Msg, method: string, error: BiopayError | undefined, result?: unknown): void {
    const kind = this.local.kind;
    if (!msg.reply) {
      // A tell: nobody waits for the outcome, so a failure is only logged.
      if (error) this.log('warn', 'actor.tell_failed', { kind, method, code: error.code });
      return;
    }
    let bytes: Uint8Array;
    try {
      bytes = error ? encodeReplyError(error) : encodeReplyPayload(this.encodeResult(method, result));
    } catch (encodeError) {
      bytes = encodeReplyError(asBiopayError(encodeError));
    }
    // An answer too large to travel is this side's fault: the caller learns it now, not at its timeout.
    const overflow = payloadOverflow(bytes, this.nc.info?.max_payload, kind, method, 'reply');
    if (overflow !== undefined) bytes = encodeReplyError(new BiopayError(ErrorCode.Internal, overflow));
    try {
      msg.respond(bytes);
    } catch (respondError) {
      // The connection is closing; the caller will see a timeout.
      this.log('warn', 'actor.reply_failed', { kind, method, message: asBiopayError(respondError).message });
    }
  }

  private encodeResult(method: string, result: unknown): Buffer {
    const spec = this.local.protocol[method]!;
    try {
      return encodePayload(spec.response, result, `${this.local.kind}.${method} response`);
    } catch (error) {
      // The actor returned something its protocol cannot carry: a bug on this side, not the caller's.
      throw new BiopayError(ErrorCode.Internal, `${this.local.kind}.${method}: response cannot be encoded`, { cause: error });
    }
  }
}
