/** drain(): no new messages, queued and in-flight ones finish, actors are stopped; idempotent. */
import { describe, expect, it } from 'vitest';
import { BiopayError, ErrorCode } from '../../../core/errors.js';
import { deploy, deposit, KIND, TestProtocol, until, useNatsServer } from './fixtures.js';

const nats = useNatsServer('actors-drain-test');

describe.each([
  ['local', ErrorCode.Stopped],
  ['remote', ErrorCode.Unavailable],
] as const)('drain (%s)', (mode, refusedCode) => {
  it('finishes in-flight and queued work, then refuses new messages', async () => {
    const d = await deploy(mode, { nats });
    const client = d.caller.client(KIND, TestProtocol);
    const asks = Array.from({ length: 10 }, (_, i) => client.ask('d1', 'deposit', deposit(BigInt(i + 1), 'sleep:20')));
    const other = client.ask('d2', 'deposit', deposit(1n, 'sleep:50'));
    await until(() => d.journal.active === 2);
    const drained = d.host.drain();
    expect(d.host.drain()).toBe(drained);
    await drained;
    const answers = await Promise.all(asks);
    expect(answers.at(-1)?.balanceMinor).toBe(55n);
    await expect(other).resolves.toBeDefined();
    expect(d.journal.stops.get('d1')).toBe(1);
    expect(d.journal.stops.get('d2')).toBe(1);
    expect(d.host.liveActors(KIND)).toBe(0);

    const refused = await client.ask('d1', 'get', { accountId: 'd1' }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(BiopayError);
    expect((refused as BiopayError).code).toBe(refusedCode);
    await d.stop();
  });
});
