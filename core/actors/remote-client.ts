/**
 * Sends asks and tells to actors served by other nodes: one NATS request per ask to the subject of
 * the key's shard, with the deadline in the envelope so the callee can drop expired work.
 */
import {
  ClosedConnectionError,
  DrainingConnectionError,
  NoRespondersError,
  RequestError,
  TimeoutError,
  type NatsConnection,
} from '@nats-io/transport-node';
import { asBiopayError, BiopayError, ErrorCode } from '../errors.js';
import { timeoutError, unknownMethodError } from './letter.js';
import type { ActorLogger } from './log.js';
import { shardOf } from './shard.js';
import { actorSubject } from './subjects.js';
import type { MethodSpec, Protocol } from './types.js';
import { decodeReply, encodeEnvelope, encodePayload, payloadOverflow } from './wire.js';

export class RemoteKindClient {
  constructor(
    private readonly nc: NatsConnection,
    private readonly kind: string,
    private readonly protocol: Protocol,
    private readonly shardCount: number,
    private readonly log: ActorLogger,
  ) {}

  async ask(key: string, method: string, message: unknown, timeoutMs: number): Promise<unknown> {
    const spec = this.spec(method);
    const data = this.envelope(spec, key, method, message, Date.now() + timeoutMs);
    let reply;
    try {
      reply = await this.nc.request(actorSubject(this.kind, shardOf(key, this.shardCount)), data, { timeout: timeoutMs });
    } catch (error) {
      throw this.requestError(error, method, timeoutMs);
    }
    return decodeReply(spec.response, reply.data, `${this.kind}.${method}`);
  }

  tell(key: string, method: string, message: unknown): void {
    try {
      const data = this.envelope(this.spec(method), key, method, message, 0);
      this.nc.publish(actorSubject(this.kind, shardOf(key, this.shardCount)), data);
    } catch (error) {
      this.log('warn', 'actor.tell_failed', { kind: this.kind, key, method, code: asBiopayError(error).code });
    }
  }

  private spec(method: string): MethodSpec<unknown, unknown> {
    const spec = Object.hasOwn(this.protocol, method) ? this.protocol[method] : undefined;
    if (!spec) throw unknownMethodError(this.kind, method);
    return spec;
  }

  private envelope(spec: MethodSpec<unknown, unknown>, key: string, method: string, message: unknown, deadlineMs: number) {
    const payload = encodePayload(spec.request, message, `${this.kind}.${method} request`);
    const envelope = encodeEnvelope({ kind: this.kind, key, method, payload, deadlineUnixMs: BigInt(deadlineMs) });
    const overflow = payloadOverflow(envelope, this.nc.info?.max_payload, this.kind, method, 'request');
    if (overflow !== undefined) throw new BiopayError(ErrorCode.BadRequest, overflow);
    return envelope;
  }

  private requestError(error: unknown, method: string, timeoutMs: number): BiopayError {
    const what = `${this.kind}.${method}`;
    if (hasCause(error, NoRespondersError) || (error instanceof RequestError && error.isNoResponders())) {
      return new BiopayError(ErrorCode.Unavailable, `${what}: no node serves this kind`, { cause: error });
    }
    if (hasCause(error, TimeoutError)) {
      return new BiopayError(ErrorCode.Timeout, timeoutError(this.kind, method, timeoutMs).message, { cause: error });
    }
    if (hasCause(error, ClosedConnectionError) || hasCause(error, DrainingConnectionError)) {
      return new BiopayError(ErrorCode.Unavailable, `${what}: NATS connection is closed`, { cause: error });
    }
    return new BiopayError(ErrorCode.Unavailable, `${what}: request failed`, { cause: error });
  }
}

/** True when the error or one of its causes (bounded depth) is an instance of the class. */
function hasCause(error: unknown, type: abstract new (...args: never[]) => Error): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current instanceof Error; depth++) {
    if (current instanceof type) return true;
    current = (current as Error).cause;
  }
  return false;
}
