/**
 * Sends asks and tells to actors served by other nodes: one NATS request per ask to the subject of
 * the key's shard, with the deadline in the envelope so the callee can drop expired work.
 */
import { ClosedConnectionError, DrainingConnectionError, type NatsConnection } from '@nats-io/transport-node';
import { asBiopayError, BiopayError, ErrorCode } from '../errors.js';
import { hasCause, isNoResponders, isTimeout } from '../transport/nats-errors.js';
import { requestMux } from '../transport/request-mux.js';
import { timeoutError, unknownMethodError } from './letter.js';
import type { ActorLogger } from './log.js';
import { shardOf } from './shard.js';
import { actorSubject } from './subjects.js';
import type { MethodSpec, Protocol } from './types.js';
import { decodeReply, encodeEnvelope, encodePayload, payloadOverflow } from './wire.js';

/**
 * A request no node received (no responders) is sent again this many times at most, after these
 * pauses, within its deadline: a shard between owners (failover, a node joining) or a subscription
 * not yet known to every server of a cluster leaves a gap of a few tens of ms, several hundred on a
 * starved machine (a node that has just taken a lease subscribes a moment later). Nobody saw the
 * request, so sending it again cannot run it twice; a kind no node serves answers UNAVAILABLE after
 * 775 ms.
 */
const NO_RESPONDERS_RETRY_PAUSES_MS = [25, 50, 100, 200, 400] as const;

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
    const deadlineMs = Date.now() + timeoutMs;
    const data = this.envelope(spec, key, method, message, deadlineMs);
    const subject = actorSubject(this.kind, shardOf(key, this.shardCount));
    for (let attempt = 0; ; attempt++) {
      let reply;
      try {
        reply = await requestMux(this.nc).request(subject, data, Math.max(1, deadlineMs - Date.now()));
      } catch (error) {
        const pauseMs = NO_RESPONDERS_RETRY_PAUSES_MS[attempt];
        if (!isNoResponders(error) || pauseMs === undefined || Date.now() + pauseMs >= deadlineMs) throw this.requestError(error, method, timeoutMs);
        await new Promise((resolve) => setTimeout(resolve, pauseMs));
        continue;
      }
      return decodeReply(spec.response, reply.data, `${this.kind}.${method}`);
    }
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
    // Refused before sending (the connection's requests awaiting replies at their limit): keep its reason.
    if (error instanceof BiopayError) return new BiopayError(error.code, `${what}: ${error.message}`, { cause: error });
    if (isNoResponders(error)) {
      return new BiopayError(ErrorCode.Unavailable, `${what}: no node serves this kind`, { cause: error });
    }
    if (isTimeout(error)) {
      return new BiopayError(ErrorCode.Timeout, timeoutError(this.kind, method, timeoutMs).message, { cause: error });
    }
    if (hasCause(error, ClosedConnectionError) || hasCause(error, DrainingConnectionError)) {
      return new BiopayError(ErrorCode.Unavailable, `${what}: NATS connection is closed`, { cause: error });
    }
    return new BiopayError(ErrorCode.Unavailable, `${what}: request failed`, { cause: error });
  }
}
