import { describe, expect, it } from 'vitest';
import { BiopayError, ErrorCode } from '../../../core/errors.js';
import { ConcurrencyGate } from '../../../core/terminal/concurrency-gate.js';

/** A promise and the hand that resolves it. */
function deferred<T = void>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((done) => { resolve = done; });
  return { promise, resolve };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('concurrency gate', () => {
  it('runs at most activeMax at once and hands slots over in arrival order', async () => {
    const gate = new ConcurrencyGate('test', 2, 10);
    const started: number[] = [];
    const releases = Array.from({ length: 4 }, () => deferred());
    const runs = releases.map((release, index) => gate.run(1_000, async () => {
      started.push(index);
      await release.promise;
      return index;
    }));
    await sleep(0);
    expect(started).toEqual([0, 1]);
    expect(gate.running).toBe(2);
    expect(gate.queued).toBe(2);
    releases[1]!.resolve();
    await sleep(0);
    expect(started).toEqual([0, 1, 2]);
    for (const release of releases) release.resolve();
    expect(await Promise.all(runs)).toEqual([0, 1, 2, 3]);
    expect(gate.running).toBe(0);
  });

  it('refuses at once with UNAVAILABLE, naming the limits, when the wait queue is full', async () => {
    const gate = new ConcurrencyGate('identify', 1, 1);
    const hold = deferred();
    const first = gate.run(1_000, () => hold.promise);
    const second = gate.run(1_000, async () => 'second');
    await expect(gate.run(1_000, async () => 'third')).rejects.toMatchObject({
      code: ErrorCode.Unavailable, message: expect.stringMatching(/identify overloaded: 1 running and 1 waiting \(limits 1 and 1\)/),
    });
    hold.resolve();
    await first;
    expect(await second).toBe('second');
  });

  it('refuses a waiter whose budget ran out while it waited, and gives the next one the slot', async () => {
    const gate = new ConcurrencyGate('identify', 1, 10);
    const hold = deferred();
    const first = gate.run(1_000, () => hold.promise);
    const impatient = gate.run(5, async () => 'never');
    const patient = gate.run(5_000, async (remainingMs) => remainingMs);
    await sleep(20);
    hold.resolve();
    await first;
    await expect(impatient).rejects.toMatchObject({ code: ErrorCode.Timeout, message: expect.stringMatching(/past the 5 ms budget/) });
    const remainingMs = await patient;
    expect(remainingMs).toBeGreaterThan(4_000);
    expect(remainingMs).toBeLessThan(5_000);
  });

  it('releases the slot when the work fails', async () => {
    const gate = new ConcurrencyGate('test', 1, 0);
    await expect(gate.run(100, async () => { throw new Error('boom'); })).rejects.toThrow('boom');
    expect(await gate.run(100, async () => 'next')).toBe('next');
  });

  it('rejects nonsense limits', () => {
    expect(() => new ConcurrencyGate('test', 0, 1)).toThrow(/activeMax/);
    expect(() => new ConcurrencyGate('test', 1, -1)).toThrow(/waitingMax/);
  });
});

describe('adaptive concurrency gate', () => {
  it('halves its limit when the callee reports overload, down to activeMin, and grows back on success', async () => {
    const gate = new ConcurrencyGate('identify', 16, 100, { adaptive: { activeMin: 2 } });
    const overloaded = () => gate.run(100, async () => { throw new BiopayError(ErrorCode.Unavailable, 'match queue full'); });
    await expect(overloaded()).rejects.toMatchObject({ code: ErrorCode.Unavailable });
    expect(gate.currentLimit).toBe(8);
    // A burst within the decrease interval counts once.
    await expect(overloaded()).rejects.toThrow();
    expect(gate.currentLimit).toBe(8);
    for (let round = 0; round < 4; round++) {
      await sleep(110);
      await expect(overloaded()).rejects.toThrow();
    }
    expect(gate.currentLimit).toBe(2);
    for (let index = 0; index < 60; index++) await gate.run(100, async () => 'ok');
    expect(gate.currentLimit).toBeGreaterThan(8);
    expect(gate.currentLimit).toBeLessThanOrEqual(16);
  });

  it('runs no more than the shrunk limit at once, and a refusal of the caller does not shrink it', async () => {
    const gate = new ConcurrencyGate('identify', 4, 100, { adaptive: { activeMin: 1 } });
    await expect(gate.run(100, async () => { throw new BiopayError(ErrorCode.BadRequest, 'no template'); })).rejects.toThrow();
    expect(gate.currentLimit).toBe(4);
    await expect(gate.run(100, async () => { throw new BiopayError(ErrorCode.Timeout, 'slow'); })).rejects.toThrow();
    expect(gate.currentLimit).toBe(2);
    const runs = Array.from({ length: 10 }, () => gate.run(1_000, () => sleep(5)));
    expect(gate.running).toBe(2);
    expect(gate.queued).toBe(8);
    await Promise.all(runs);
    // Successes grew the limit back.
    expect(gate.currentLimit).toBe(4);
    expect(() => new ConcurrencyGate('identify', 4, 1, { adaptive: { activeMin: 5 } })).toThrow(/activeMin/);
  });
  it('refuses new callers at once while the oldest waiter has waited past queueDelayMaxMs, and lets them in once the queue drains', async () => {
    const gate = new ConcurrencyGate('identify', 1, 100, { queueDelayMaxMs: 40 });
    const hold = deferred();
    const first = gate.run(5_000, () => hold.promise);
    const second = gate.run(5_000, async () => 'second');
    // A fresh queue takes newcomers.
    const third = gate.run(5_000, async () => 'third');
    expect(gate.queued).toBe(2);
    await sleep(80);
    const refused = await gate.run(5_000, async () => 'late').catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(BiopayError);
    expect((refused as BiopayError).code).toBe(ErrorCode.Unavailable);
    expect((refused as BiopayError).message).toMatch(/oldest of 2 waiting has waited \d+ ms \(limit 40 ms\)/);
    // Refused without joining the queue, while the slot is still held.
    expect(gate.queued).toBe(2);
    expect(gate.running).toBe(1);
    hold.resolve();
    await first;
    expect([await second, await third]).toEqual(['second', 'third']);
    expect(await gate.run(5_000, async () => 'after')).toBe('after');
    expect(() => new ConcurrencyGate('identify', 1, 1, { queueDelayMaxMs: 0 })).toThrow(/queueDelayMaxMs/);
  });
});
