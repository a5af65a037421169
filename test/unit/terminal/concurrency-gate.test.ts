import { describe, expect, it, vi } from 'vitest';
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

  it('serves a standing queue within its target: waiters older than it are refused at their turn and newer ones served', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'performance'] });
    try {
      const gate = new ConcurrencyGate('identify', 1, 100, { queueDelayMaxMs: 300, queueDelayTargetMs: 100 });
      const holds = [deferred(), deferred()];
      const first = gate.run(5_000, () => holds[0]!.promise);
      const second = gate.run(5_000, () => holds[1]!.promise);
      await vi.advanceTimersByTimeAsync(100);
      const stale = gate.run(5_000, async () => 'stale');
      await vi.advanceTimersByTimeAsync(50);
      // Not standing yet (the queue emptied 150 ms ago): served though past the target.
      holds[0]!.resolve();
      await first;
      await vi.advanceTimersByTimeAsync(100);
      const staleToo = gate.run(5_000, async () => 'stale too');
      await vi.advanceTimersByTimeAsync(100);
      const fresh = gate.run(5_000, async () => 'fresh');
      await vi.advanceTimersByTimeAsync(30);
      // The queue has not emptied for 380 ms: standing. Waited 280 and 130 ms: refused; 30 ms: served.
      holds[1]!.resolve();
      await second;
      await expect(stale).rejects.toMatchObject({
        code: ErrorCode.Unavailable, message: expect.stringMatching(/identify overloaded: waited 280 ms in a queue standing for 380 ms \(target 100 ms\)/),
      });
      await expect(staleToo).rejects.toMatchObject({ code: ErrorCode.Unavailable, message: expect.stringMatching(/waited 130 ms/) });
      expect(await fresh).toBe('fresh');
      // Emptied, the queue takes a burst again: a waiter past the target is served.
      const hold = deferred();
      const again = gate.run(5_000, () => hold.promise);
      const patient = gate.run(5_000, async () => 'patient');
      await vi.advanceTimersByTimeAsync(200);
      hold.resolve();
      await again;
      expect(await patient).toBe('patient');
    } finally {
      vi.useRealTimers();
    }
  });

  it('under sustained overload serves as many callers as the 200 ms bound alone, each within the target', async () => {
    // A server of 4 slots taking 8 ms each (500 calls/s) offered a call every 1.25 ms (800/s) for 2 s.
    const offeredForMs = 2_000;
    const serve = async (options: { queueDelayMaxMs: number; queueDelayTargetMs?: number }) => {
      vi.useFakeTimers({ toFake: ['setTimeout', 'performance'] });
      try {
        const gate = new ConcurrencyGate('identify', 4, 1_000, options);
        const startedAtMs = performance.now();
        const waitsMs: number[] = [];
        let servedWhileOffered = 0;
        const calls: Promise<unknown>[] = [];
        for (let call = 0; call < offeredForMs / 1.25; call++) {
          const arrivedMs = performance.now();
          calls.push(gate.run(5_000, async () => {
            waitsMs.push(performance.now() - arrivedMs);
            if (performance.now() - startedAtMs < offeredForMs) servedWhileOffered++;
            await new Promise((resolve) => setTimeout(resolve, 8));
          }).catch(() => undefined));
          await vi.advanceTimersByTimeAsync(1.25);
        }
        await vi.advanceTimersByTimeAsync(1_000);
        await Promise.all(calls);
        return { servedWhileOffered, maxWaitMs: Math.max(...waitsMs) };
      } finally {
        vi.useRealTimers();
      }
    };
    const bound = await serve({ queueDelayMaxMs: 200 });
    const standing = await serve({ queueDelayMaxMs: 200, queueDelayTargetMs: 20 });
    // Both keep the 4 slots busy: 1,000 calls started in the 2 s (the bound's queue holds more at the end).
    expect(bound.servedWhileOffered).toBeGreaterThanOrEqual(995);
    expect(standing.servedWhileOffered).toBeGreaterThanOrEqual(995);
    expect(bound.maxWaitMs).toBeGreaterThan(200);
    // Only the first 200 ms may queue as a burst; after that the queue is held to the target.
    expect(standing.maxWaitMs).toBeLessThan(100);
  });

  it('without a standing queue, serves waiters past the target; and rejects a target without a maximum or above it', async () => {
    const gate = new ConcurrencyGate('identify', 1, 100, { queueDelayMaxMs: 200, queueDelayTargetMs: 5 });
    const hold = deferred();
    const first = gate.run(5_000, () => hold.promise);
    const waiter = gate.run(5_000, async () => 'served');
    await sleep(30);
    hold.resolve();
    await first;
    expect(await waiter).toBe('served');
    expect(() => new ConcurrencyGate('identify', 1, 1, { queueDelayTargetMs: 5 })).toThrow(/queueDelayTargetMs/);
    expect(() => new ConcurrencyGate('identify', 1, 1, { queueDelayMaxMs: 10, queueDelayTargetMs: 11 })).toThrow(/queueDelayTargetMs/);
    expect(() => new ConcurrencyGate('identify', 1, 1, { queueDelayMaxMs: 10, queueDelayTargetMs: 0 })).toThrow(/queueDelayTargetMs/);
  });
});
