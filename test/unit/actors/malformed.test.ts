/** Bad bytes on an actor subject get a typed error reply, and the node keeps serving. */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ActorEnvelope, ActorReply } from '../../../proto/gen/biopay/v1/actor.js';
import { Account, DepositRequest } from '../../../proto/gen/biopay/v1/ledger.js';
import { ErrorCode } from '../../../core/errors.js';
import { actorSubject, ActorSystem, shardOf } from '../../../core/actors/index.js';
import type { NatsConnection } from '../../../core/transport/nats.js';
import { deploy, deposit, KIND, TestProtocol, useNatsServer, type Deployment } from './fixtures.js';

const nats = useNatsServer('actors-malformed-test');
let nc: NatsConnection;
let d: Deployment;
const subject = actorSubject(KIND, shardOf('m1', 64));

beforeAll(async () => {
  nc = nats();
  d = await deploy('remote', { nats });
});

afterAll(async () => {
  await d?.stop();
});

async function rawRequest(bytes: Uint8Array): Promise<string | undefined> {
  const reply = await nc.request(subject, bytes, { timeout: 2_000 });
  const decoded = ActorReply.decode(reply.data);
  return decoded.result?.$case === 'error' ? decoded.result.value.code : undefined;
}

function envelope(fields: Partial<ActorEnvelope>): Uint8Array {
  return ActorEnvelope.encode(ActorEnvelope.fromPartial({ kind: KIND, key: 'm1', method: 'deposit', ...fields })).finish();
}

const validPayload = Buffer.from(DepositRequest.encode(deposit(1n)).finish());

it.each([
  ['bytes that are not protobuf', Buffer.alloc(16, 0xff), ErrorCode.MalformedMessage],
  ['text that decodes to an empty envelope', Buffer.from('hello, actor'), ErrorCode.MalformedMessage],
  ['an empty message', new Uint8Array(0), ErrorCode.MalformedMessage],
  ['an envelope with an undecodable payload', envelope({ payload: Buffer.from([0x0f, 0x01]) }), ErrorCode.MalformedMessage],
  ['an envelope for another kind', envelope({ kind: 'other', payload: validPayload }), ErrorCode.MalformedMessage],
  ['an envelope with an unknown method', envelope({ method: 'withdraw', payload: validPayload }), ErrorCode.BadRequest],
  ['an envelope with a negative deadline', envelope({ payload: validPayload, deadlineUnixMs: -1n }), ErrorCode.MalformedMessage],
])('replies to %s with a typed error and keeps serving', async (_name, bytes, code) => {
  expect(await rawRequest(bytes)).toBe(code);
  const client = d.caller.client(KIND, TestProtocol);
  const before = (await client.ask('m1', 'get', { accountId: 'm1' })).balanceMinor;
  expect((await client.ask('m1', 'deposit', deposit(1n))).balanceMinor).toBe(before + 1n);
});

it('refuses a key sent to the wrong shard (callers with another shardCount)', async () => {
  const wrongShard = (shardOf('m1', 64) + 1) % 64;
  const reply = await nc.request(actorSubject(KIND, wrongShard), envelope({ payload: validPayload }), { timeout: 2_000 });
  const decoded = ActorReply.decode(reply.data);
  expect(decoded.result?.$case === 'error' && decoded.result.value.code).toBe(ErrorCode.BadRequest);
});

it('survives a garbage publish without a reply subject', async () => {
  nc.publish(subject, Buffer.alloc(8, 0xff));
  const client = d.caller.client(KIND, TestProtocol);
  await expect(client.ask('m1', 'get', { accountId: 'm1' })).resolves.toBeDefined();
});

it('refuses a request larger than the NATS max payload with BAD_REQUEST naming its size, at once, and processes nothing', async () => {
  const maxPayload = nc.info!.max_payload;
  const client = d.caller.client(KIND, TestProtocol);
  const before = (await client.ask('m1', 'get', { accountId: 'm1' })).balanceMinor;
  const startedMs = Date.now();
  const error = await client.ask('m1', 'deposit', deposit(5n, 'k'.repeat(maxPayload)), { timeoutMs: 10_000 }).catch((caught: unknown) => caught);
  expect(error).toMatchObject({ code: ErrorCode.BadRequest, message: expect.stringMatching(/testacct\.deposit request: \d+ bytes exceed the NATS max payload of \d+ bytes/) });
  expect(Date.now() - startedMs).toBeLessThan(1_000);
  d.caller.client(KIND, TestProtocol).tell('m1', 'deposit', deposit(5n, 'k'.repeat(maxPayload)));
  expect((await client.ask('m1', 'get', { accountId: 'm1' })).balanceMinor).toBe(before);
});

it('answers INTERNAL at once when its reply would exceed the max payload, instead of leaving the caller to time out', async () => {
  const maxPayload = nc.info!.max_payload;
  const host = new ActorSystem({ nodeId: 'big-replies', nats: nc, logger: () => {} });
  host.register('bigreply', TestProtocol, () => ({
    receive: async () => Account.fromPartial({ accountId: 'a'.repeat(maxPayload) }),
  }));
  await host.serve('bigreply');
  const caller = new ActorSystem({ nodeId: 'big-caller', nats: nc, logger: () => {} });
  try {
    const startedMs = Date.now();
    const error = await caller.client('bigreply', TestProtocol).ask('k', 'get', { accountId: 'k' }, { timeoutMs: 10_000 }).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: ErrorCode.Internal, message: expect.stringMatching(/bigreply\.get reply: \d+ bytes exceed the NATS max payload/) });
    expect(Date.now() - startedMs).toBeLessThan(1_000);
  } finally {
    await caller.drain();
    await host.drain();
  }
});
