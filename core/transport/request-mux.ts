/**
 * Request-reply over one inbox subscription per connection, for the actor runtime's asks and for
 * publishes into JetStream streams that wait for the stream's acknowledgement (stream-publish.ts).
 *
 * nats.js's `request()` ends every request, answered or not, by rejecting its already settled
 * promise with a new RequestError, which captures a stack each time (@nats-io/nats-core 3.4.0,
 * `RequestOne.cancel`): about 7 µs of CPU per request, a third of the client's cost of a request
 * (43-46k echo requests/s against 66-70k without it; docs/performance-history.md). This mux does
 * what nats.js's does, on its public publish and subscribe: one wildcard inbox subscription, a
 * token per request in the reply subject, a timer per request, and the server's 503 status on an
 * empty reply read as "no responders". It fails requests with nats.js's own error classes, so
 * callers tell timeouts, no responders and closed connections apart as before.
 */
import {
  ClosedConnectionError, createInbox, NoRespondersError, RequestError, TimeoutError, type Msg, type MsgHdrs, type NatsConnection,
} from '@nats-io/transport-node';
import { BiopayError, ErrorCode } from '../errors.js';

/** Requests awaiting their reply on one connection at most; one more is refused at once. */
export const PENDING_REQUESTS_MAX = 65_536;
/** The status nats-server sends to the reply subject when no subscriber took the request. */
const NO_RESPONDERS_STATUS = 503;

interface Pending {
  readonly subject: string;
  readonly timer: NodeJS.Timeout;
  resolve(reply: Msg): void;
  reject(error: Error): void;
}

export class RequestMux {
  private readonly replyPrefix: string;
  private readonly pending = new Map<string, Pending>();
  private tokenCounter = 0;

  constructor(
    private readonly nc: NatsConnection,
    private readonly pendingMax = PENDING_REQUESTS_MAX,
  ) {
    this.replyPrefix = `${createInbox()}.`;
    nc.subscribe(`${this.replyPrefix}*`, {
      callback: (error, reply) => {
        if (error) this.failAll(error);
        else this.settle(reply);
      },
    });
    void nc.closed().then(() => this.failAll(new ClosedConnectionError()));
  }

  /** Sends `data` (with `headers`, if given) to `subject` and resolves with the first reply, or rejects after `timeoutMs`. */
  request(subject: string, data: Uint8Array, timeoutMs: number, headers?: MsgHdrs): Promise<Msg> {
    if (this.pending.size >= this.pendingMax) {
      return Promise.reject(new BiopayError(ErrorCode.Unavailable, `${this.pendingMax} requests await their reply on this connection (limit)`));
    }
    const token = (this.tokenCounter++).toString(36);
    return new Promise<Msg>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(token);
        reject(new TimeoutError());
      }, timeoutMs);
      this.pending.set(token, { subject, timer, resolve, reject });
      try {
        this.nc.publish(subject, data, headers ? { reply: this.replyPrefix + token, headers } : { reply: this.replyPrefix + token });
      } catch (error) {
        clearTimeout(timer);
        this.pending.delete(token);
        reject(error as Error);
      }
    });
  }

  /** Requests awaiting their reply (for tests and gauges). */
  get pendingCount(): number {
    return this.pending.size;
  }

  private settle(reply: Msg): void {
    const token = reply.subject.slice(this.replyPrefix.length);
    const request = this.pending.get(token);
    // A reply after its timeout, or a second one, has nobody waiting.
    if (!request) return;
    this.pending.delete(token);
    clearTimeout(request.timer);
    if (reply.data.length === 0 && reply.headers?.code === NO_RESPONDERS_STATUS) {
      request.reject(new RequestError('no responders', { cause: new NoRespondersError(request.subject) }));
    } else {
      request.resolve(reply);
    }
  }

  private failAll(error: Error): void {
    for (const request of this.pending.values()) {
      clearTimeout(request.timer);
      request.reject(error);
    }
    this.pending.clear();
  }
}

const muxes = new WeakMap<NatsConnection, RequestMux>();

/** The connection's mux, created with its inbox subscription on first use. */
export function requestMux(nc: NatsConnection): RequestMux {
  let mux = muxes.get(nc);
  if (!mux) {
    mux = new RequestMux(nc);
    muxes.set(nc, mux);
  }
  return mux;
}
