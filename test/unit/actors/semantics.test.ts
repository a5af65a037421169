/**
 * The runtime's guarantees, checked once with the actors in the caller's own system and once with
 * them served over a real nats-server by another system: both must give the same results and errors.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ActorSystem, type ActorKindOptions } from '../../../core/actors/index.js';
import { BiopayError, ErrorCode } from '../../../core/errors.js';
import { deploy, deposit, Journal, KIND, memoryLogger, sleep, TestActor, TestProtocol, until, type Deployment, useNatsServer } from './fixtures.js';

const nats = useNatsServer('actors-semantics-test');

async function rejection(promise: Promise<unknown>): Promise<BiopayError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(BiopayError);
  return error as BiopayError;
}

describe.each(['local', 'remote'] as const)('actor semantics (%s)', (mode) => {
  let d: Deployment | undefined;
  const start = async (kind?: ActorKindOptions) => {
    d = await deploy(mode, { nats, kind });
    return { ...d, client: d.caller.client(KIND, TestProtocol) };
  };

  afterEach(async () => {
    await d?.stop();
    d = undefined;
  });

  it('processes concurrent asks to one key one at a time, in arrival order', async () => {
    const { client, journal } = await start();
    const amounts = Array.from({ length: 200 }, (_, i) => BigInt(i + 1));
    const answers = await Promise.all(amounts.map((a) => client.ask('k1', 'deposit', deposit(a))));
    answers.forEach((account, i) => {
      expect(account.heldMinor).toBe(BigInt(i + 1));
      expect(account.balanceMinor).toBe(BigInt(((i + 1) * (i + 2)) / 2));
    });
    expect(journal.processed).toEqual(amounts.map((a) => `k1:${a}`));
    expect(journal.activeMax).toBe(1);
  });

  it('runs different keys concurrently', async () => {
    const { client, journal } = await start();
    const finished: string[] = [];
    const slow = client.ask('slow', 'deposit', deposit(1n, 'sleep:300')).then(() => finished.push('slow'));
    await until(() => journal.active === 1);
    await client.ask('fast', 'deposit', deposit(1n)).then(() => finished.push('fast'));
    await slow;
    expect(finished).toEqual(['fast', 'slow']);
  });

  it('delivers tells in order with asks from the same caller', async () => {
    const { client } = await start();
    client.tell('k2', 'deposit', deposit(5n));
    client.tell('k2', 'deposit', deposit(7n));
    const account = await client.ask('k2', 'get', { accountId: 'k2' });
    expect(account.balanceMinor).toBe(12n);
  });

  it('refuses messages beyond the mailbox capacity with MAILBOX_FULL', async () => {
    const { client } = await start({ mailboxCapacity: 2 });
    const inProgress = client.ask('k3', 'deposit', deposit(1n, 'sleep:200'));
    const queued = [client.ask('k3', 'deposit', deposit(2n)), client.ask('k3', 'deposit', deposit(4n))];
    const error = await rejection(client.ask('k3', 'deposit', deposit(8n)));
    expect(error.code).toBe(ErrorCode.MailboxFull);
    await inProgress;
    expect((await Promise.all(queued)).map((a) => a.balanceMinor)).toEqual([3n, 7n]);
  });

  it('fails an ask past its deadline with TIMEOUT and drops expired queued work', async () => {
    const { client, journal } = await start();
    const slow = client.ask('k4', 'deposit', deposit(1n, 'sleep:250'), { timeoutMs: 2_000 });
    const error = await rejection(client.ask('k4', 'deposit', deposit(100n), { timeoutMs: 50 }));
    expect(error.code).toBe(ErrorCode.Timeout);
    await slow;
    const account = await client.ask('k4', 'get', { accountId: 'k4' });
    expect(account.balanceMinor).toBe(1n);
    expect(journal.processed).toEqual(['k4:1']);
  });

  it('returns typed errors with their cause, without restarting the actor', async () => {
    const { client, journal } = await start();
    await client.ask('k5', 'deposit', deposit(10n));
    const error = await rejection(client.ask('k5', 'deposit', deposit(1n, 'refuse')));
    expect(error.code).toBe(ErrorCode.InsufficientFunds);
    expect(error.message).toBe('not enough');
    expect(error.cause).toBeInstanceOf(BiopayError);
    expect((error.cause as BiopayError).code).toBe(ErrorCode.InvalidState);
    expect((error.cause as BiopayError).message).toBe('account frozen');
    expect((await client.ask('k5', 'get', { accountId: 'k5' })).balanceMinor).toBe(10n);
    expect(journal.starts.get('k5')).toBe(1);
  });

  it('refuses an unknown method with BAD_REQUEST', async () => {
    const { client } = await start();
    const error = await rejection(client.ask('k6', 'withdraw' as 'get', { accountId: 'k6' }));
    expect(error.code).toBe(ErrorCode.BadRequest);
  });

  it('restarts a crashed actor with exponential back-off, then gives up until passivated', async () => {
    const restart = { initialDelayMs: 40, maxDelayMs: 100, restartsMax: 3, windowMs: 60_000 };
    const { client, journal } = await start({ restart, idleTimeoutMs: 400 });
    await client.ask('k7', 'deposit', deposit(5n));
    for (let i = 0; i < 3; i++) {
      const crash = await rejection(client.ask('k7', 'deposit', deposit(1n, 'crash')));
      expect(crash.code).toBe(ErrorCode.Internal);
      expect(crash.message).toBe('boom');
      // A restarted actor starts from scratch (its state was in the crashed instance).
      expect((await client.ask('k7', 'deposit', deposit(2n))).balanceMinor).toBe(2n);
    }
    const starts = journal.startTimesMs.get('k7')!;
    expect(starts).toHaveLength(4);
    const gaps = starts.slice(1).map((t, i) => t - starts[i]!);
    expect(gaps[0]).toBeGreaterThanOrEqual(40 - 2);
    expect(gaps[1]).toBeGreaterThanOrEqual(80 - 2);
    expect(gaps[2]).toBeGreaterThanOrEqual(100 - 2);

    await rejection(client.ask('k7', 'deposit', deposit(1n, 'crash')));
    const down = await rejection(client.ask('k7', 'deposit', deposit(1n)));
    expect(down.code).toBe(ErrorCode.Unavailable);

    await until(() => d!.host.liveActors(KIND) === 0);
    expect((await client.ask('k7', 'deposit', deposit(9n))).balanceMinor).toBe(9n);
  });

  it('passivates idle actors and recreates them on the next message', async () => {
    const { client, journal, host } = await start({ idleTimeoutMs: 60 });
    await client.ask('k8', 'deposit', deposit(3n));
    expect(host.liveActors(KIND)).toBe(1);
    await until(() => journal.count(journal.stops, 'k8') === 1 && host.liveActors(KIND) === 0);
    const account = await client.ask('k8', 'deposit', deposit(4n));
    expect(account.balanceMinor).toBe(4n);
    expect(journal.starts.get('k8')).toBe(2);
  });

  it('keeps busy actors alive past the idle timeout', async () => {
    const { client, journal } = await start({ idleTimeoutMs: 60 });
    for (let i = 0; i < 6; i++) {
      await client.ask('k9', 'deposit', deposit(1n, 'sleep:30'));
    }
    expect(journal.starts.get('k9')).toBe(1);
  });
});

describe('remote only', () => {
  it('sends an ask again that reached no node while its shard found a server, within the deadline', async () => {
    const { logger } = memoryLogger();
    const journal = new Journal();
    const caller = new ActorSystem({ nodeId: 'early-caller', nats: nats(), logger });
    const late = new ActorSystem({ nodeId: 'late-host', nats: nats(), logger });
    try {
      const asked = caller.client('late', TestProtocol).ask('k1', 'deposit', deposit(5n));
      // The first attempt finds no responder; the serving node appears before the next one.
      await sleep(10);
      late.register('late', TestProtocol, (key) => new TestActor(key, journal));
      await late.serve('late');
      await expect(asked).resolves.toMatchObject({ balanceMinor: 5n });
      expect(journal.starts.get('k1')).toBe(1);
    } finally {
      await caller.drain();
      await late.drain();
    }
  });

  it('answers UNAVAILABLE when no node serves the kind', async () => {
    const d = await deploy('local', { nats });
    try {
      const client = d.caller.client('nobody', TestProtocol);
      const error = await rejection(client.ask('x', 'get', { accountId: 'x' }));
      expect(error.code).toBe(ErrorCode.Unavailable);
    } finally {
      await d.stop();
    }
  });
});
