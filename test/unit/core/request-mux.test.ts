/**
 * The actor runtime's request-reply over one inbox subscription, against a real nats-server:
 * replies reach their own request, no responders and timeouts fail the way nats.js's do, a closed
 * connection fails what waits, and the number waiting is bounded.
 */
import { ClosedConnectionError, TimeoutError } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BiopayError, ErrorCode } from '../../../core/errors.js';
import { connectNats, type NatsConnection } from '../../../core/transport/nats.js';
import { isNoResponders } from '../../../core/transport/nats-errors.js';
import { RequestMux, requestMux } from '../../../core/transport/request-mux.js';
import { startNatsServer, type NatsServerHandle } from '../../helpers/nats-server.js';

let server: NatsServerHandle;
let nc: NatsConnection;

beforeAll(async () => {
  server = await startNatsServer();
  nc = await connectNats({ servers: server.url, name: 'request-mux-test' });
  // An echo that answers with the request's bytes, and a slow one that answers after 300 ms.
  nc.subscribe('echo', { callback: (_error, msg) => { msg.respond(msg.data); } });
  nc.subscribe('slow', { callback: (_error, msg) => { setTimeout(() => msg.respond(msg.data), 300); } });
  await nc.flush();
});

afterAll(async () => {
  await nc?.close();
  await server?.stop();
});

describe('RequestMux', () => {
  it('gives each of many concurrent requests its own reply, on one mux per connection', async () => {
    const mux = requestMux(nc);
    expect(requestMux(nc)).toBe(mux);
    const replies = await Promise.all(
      Array.from({ length: 500 }, (_, i) => mux.request('echo', new TextEncoder().encode(`request ${i}`), 5_000)),
    );
    replies.forEach((reply, i) => expect(new TextDecoder().decode(reply.data)).toBe(`request ${i}`));
    expect(mux.pendingCount).toBe(0);
  });

  it('fails a request nobody subscribes to as no responders, at once', async () => {
    const startedMs = Date.now();
    const failure = await requestMux(nc).request('nobody.listens', new Uint8Array(1), 5_000).catch((error: unknown) => error);
    expect(isNoResponders(failure)).toBe(true);
    expect(Date.now() - startedMs).toBeLessThan(2_000);
  });

  it('times a request out with TimeoutError and ignores its late reply', async () => {
    const mux = requestMux(nc);
    const failure = await mux.request('slow', new Uint8Array(1), 50).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(TimeoutError);
    expect(mux.pendingCount).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(mux.pendingCount).toBe(0);
    const reply = await mux.request('echo', new Uint8Array([7]), 5_000);
    expect([...reply.data]).toEqual([7]);
  });

  it('refuses a request beyond its limit of requests waiting, with UNAVAILABLE', async () => {
    const mux = new RequestMux(nc, 2);
    const waiting = [mux.request('slow', new Uint8Array(1), 5_000), mux.request('slow', new Uint8Array(1), 5_000)];
    const refused = await mux.request('slow', new Uint8Array(1), 5_000).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(BiopayError);
    expect((refused as BiopayError).code).toBe(ErrorCode.Unavailable);
    expect((refused as BiopayError).message).toBe('2 requests await their reply on this connection (limit)');
    await Promise.all(waiting);
  });

  it('fails what waits when its connection closes, and refuses requests after', async () => {
    const own = await connectNats({ servers: server.url, name: 'request-mux-closing' });
    const mux = requestMux(own);
    const waiting = mux.request('slow', new Uint8Array(1), 5_000).catch((error: unknown) => error);
    await own.close();
    expect(await waiting).toBeInstanceOf(ClosedConnectionError);
    expect(mux.pendingCount).toBe(0);
    await expect(mux.request('echo', new Uint8Array(1), 5_000)).rejects.toBeInstanceOf(ClosedConnectionError);
  });
});
