import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { HoldState } from '../../../proto/gen/biopay/v1/ledger.js';
import { ErrorCode } from '../../../core/errors.js';
import type { SqlClient, TransactionOptions } from '../../../core/db/index.js';
import { GroupCommitter, Ledger } from '../../../core/ledger/index.js';
import { databaseTargets, type OpenedDatabase } from '../../helpers/database.js';
import { Clock, expectNoProblems } from './fixture.js';

const targets = await databaseTargets();

const POISON = 'poison';

/**
 * The real database, counting top-level transactions, with one injected fault: any statement
 * carrying the POISON id fails as the database would fail a statement (not retryable).
 */
function countingClient(db: SqlClient): SqlClient & { transactions: number } {
  const poisoned = (params: unknown[] | undefined) => JSON.stringify(params ?? [], (_k, v) => (typeof v === 'bigint' ? String(v) : v)).includes(POISON);
  const inject = (client: SqlClient): SqlClient => ({
    dialect: client.dialect,
    close: () => client.close(),
    query<Row>(sql: string, params?: unknown[]) {
      if (poisoned(params)) return Promise.reject(Object.assign(new Error('injected fault'), { code: 'XX000' }));
      return client.query<Row>(sql, params);
    },
    queryAndCommit<Row>(sql: string, params?: unknown[]) {
      if (poisoned(params)) return Promise.reject(Object.assign(new Error('injected fault'), { code: 'XX000' }));
      return client.queryAndCommit<Row>(sql, params);
    },
    transaction: <T>(fn: (tx: SqlClient) => Promise<T>, options?: TransactionOptions) => client.transaction((tx) => fn(inject(tx)), options),
  });
  const injected = inject(db);
  const counting = {
    ...injected,
    transactions: 0,
    transaction<T>(fn: (tx: SqlClient) => Promise<T>, options?: TransactionOptions): Promise<T> {
      counting.transactions += 1;
      return injected.transaction(fn, options);
    },
  };
  return counting;
}

describe('GroupCommitter', () => {
  it('keeps order, bounds batches and the queue, and settles every request on its own', async () => {
    const batches: number[][] = [];
    const committer = new GroupCommitter<number>(async (ops) => {
      batches.push(ops);
      await new Promise((resolve) => setTimeout(resolve, 5));
      return ops.map((op) => (op % 7 === 0 ? { ok: false as const, error: new Error(`op ${op}`) as never } : { ok: true as const, value: op as never }));
    }, { batchSizeMax: 10, lingerMs: 2, queueLengthMax: 20 });
    // The 10th request fills a batch, which leaves at once; 20 more wait; the last 5 find the queue full.
    const submitted = Array.from({ length: 35 }, (_v, i) => committer.submit<number>(i + 1).then((v) => v, (e: Error) => e.message));
    const settled = await Promise.all(submitted);
    expect(settled.slice(0, 30)).toEqual(Array.from({ length: 30 }, (_v, i) => ((i + 1) % 7 === 0 ? `op ${i + 1}` : i + 1)));
    expect(settled.slice(30).every((v) => typeof v === 'string' && v.includes('queue is full'))).toBe(true);
    expect(batches.flat()).toEqual(Array.from({ length: 30 }, (_v, i) => i + 1));
    expect(Math.max(...batches.map((b) => b.length))).toBeLessThanOrEqual(10);
    await committer.close();
    await expect(committer.submit(1)).rejects.toMatchObject({ code: ErrorCode.Stopped });
  });

  it('refuses unbounded settings', () => {
    const run = async () => [];
    expect(() => new GroupCommitter(run, { batchSizeMax: 0 })).toThrow(/batchSizeMax/);
    expect(() => new GroupCommitter(run, { queueLengthMax: Number.POSITIVE_INFINITY })).toThrow(/queueLengthMax/);
    expect(() => new GroupCommitter(run, { batchIntervalMs: -1 })).toThrow(/batchIntervalMs/);
    expect(() => new GroupCommitter(run, { batchIntervalMs: 5_000 })).toThrow(/batchIntervalMs/);
  });
});

describe('GroupCommitter cadence', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  /** A committer whose transactions take `commitMs`, recording when each batch started and its size. */
  function timedCommitter(commitMs: number, options: { batchSizeMax?: number; lingerMs?: number; batchIntervalMs?: number }) {
    const starts: Array<{ atMs: number; size: number }> = [];
    const committer = new GroupCommitter<number>(async (ops) => {
      starts.push({ atMs: performance.now(), size: ops.length });
      await new Promise((resolve) => setTimeout(resolve, commitMs));
      return ops.map((op) => ({ ok: true as const, value: op as never }));
    }, options);
    return { committer, starts };
  }

  /** One request every `everyMs` for `forMs`, the clock advanced as it goes; resolves with all their answers. */
  async function steadyLoad(committer: GroupCommitter<number>, everyMs: number, forMs: number): Promise<number[]> {
    const answers: Array<Promise<number>> = [];
    for (let atMs = 0; atMs < forMs; atMs += everyMs) {
      answers.push(committer.submit<number>(atMs));
      await vi.advanceTimersByTimeAsync(everyMs);
    }
    await vi.advanceTimersByTimeAsync(1_000);
    return Promise.all(answers);
  }

  it('while busy, starts a batch at most every batchIntervalMs, so that batches fill', async () => {
    const { committer, starts } = timedCommitter(2, { batchSizeMax: 500, lingerMs: 1, batchIntervalMs: 20 });
    const answers = await steadyLoad(committer, 1, 400);
    expect(answers).toHaveLength(400);
    const gapsMs = starts.slice(1).map((start, i) => start.atMs - starts[i]!.atMs);
    expect(Math.min(...gapsMs)).toBeGreaterThanOrEqual(19);
    // 400 requests in about 20 transactions instead of one per 2 ms commit (about 130).
    expect(starts.length).toBeLessThanOrEqual(25);
    expect(Math.max(...starts.map((start) => start.size))).toBeGreaterThanOrEqual(18);
    expect(committer.counts).toEqual({ transactions: starts.length, operations: 400 });
    await committer.close();
  });

  it('without a cadence, the next batch starts the moment the previous one ends', async () => {
    const { committer, starts } = timedCommitter(2, { batchSizeMax: 500, lingerMs: 1, batchIntervalMs: 0 });
    await steadyLoad(committer, 1, 400);
    const gapsMs = starts.slice(1).map((start, i) => start.atMs - starts[i]!.atMs);
    expect(Math.max(...gapsMs)).toBeLessThanOrEqual(3);
    expect(starts.length).toBeGreaterThan(100);
    await committer.close();
  });

  it('a full batch does not wait for the cadence, and a lone request on an idle ledger waits only its linger', async () => {
    const { committer, starts } = timedCommitter(2, { batchSizeMax: 5, lingerMs: 1, batchIntervalMs: 500 });
    const first = committer.submit<number>(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(starts).toEqual([{ atMs: 1, size: 1 }]);
    const full = Array.from({ length: 5 }, (_v, i) => committer.submit<number>(i + 1));
    await vi.advanceTimersByTimeAsync(5);
    // The second batch left when the first ended (2 ms later), not 500 ms after the first began.
    expect(starts[1]).toEqual({ atMs: 3, size: 5 });
    await expect(Promise.all([first, ...full])).resolves.toEqual([0, 1, 2, 3, 4, 5]);
    // Idle again for longer than the interval: the next lone request waits its linger only.
    await vi.advanceTimersByTimeAsync(600);
    const late = committer.submit<number>(9);
    await vi.advanceTimersByTimeAsync(3);
    expect(starts[2]!.size).toBe(1);
    expect(starts[2]!.atMs - starts[1]!.atMs).toBeGreaterThanOrEqual(600);
    expect(starts[2]!.atMs - starts[1]!.atMs).toBeLessThan(610);
    await expect(late).resolves.toBe(9);
    await committer.close();
  });

  it('close() commits what waits for the next beat at once', async () => {
    const { committer, starts } = timedCommitter(2, { batchSizeMax: 500, lingerMs: 1, batchIntervalMs: 500 });
    const first = committer.submit<number>(1);
    await vi.advanceTimersByTimeAsync(1);
    const waiting = committer.submit<number>(2);
    await vi.advanceTimersByTimeAsync(3);
    expect(starts).toHaveLength(1);
    const closed = committer.close();
    await vi.advanceTimersByTimeAsync(3);
    await closed;
    expect(starts).toHaveLength(2);
    expect(starts[1]!.atMs).toBeLessThan(10);
    await expect(Promise.all([first, waiting])).resolves.toEqual([1, 2]);
  });
});

describe.each(targets)('group commit on $name', (target) => {
  let opened: OpenedDatabase;
  let db: SqlClient & { transactions: number };
  let ledger: Ledger;
  const clock = new Clock();
  beforeEach(async () => {
    opened = await target.open();
    db = countingClient(opened.db);
    ledger = await Ledger.open(db, { nowUnixMs: clock.now, groupCommit: { batchSizeMax: 100, lingerMs: 2 } });
  });
  afterEach(async () => {
    await expectNoProblems(ledger);
    await ledger.close();
    await opened.cleanup();
  });

  async function openPair() {
    const payer = await ledger.openAccount({ owner: 'p', currency: 'EUR', kind: 1, timeZone: '', idempotencyKey: '' });
    await ledger.registerCredential({ accountId: payer.accountId, credentialId: `c-${payer.accountId}` });
    const merchant = await ledger.openAccount({ owner: 'm', currency: 'EUR', kind: 2, timeZone: '', idempotencyKey: '' });
    return { payerId: payer.accountId, credentialId: `c-${payer.accountId}`, merchantId: merchant.accountId };
  }

  const authorize = (pair: { payerId: string; credentialId: string; merchantId: string }, paymentId: string, amountMinor: bigint) =>
    ledger.authorize({
      paymentId, accountId: pair.payerId, credentialId: pair.credentialId, merchantAccountId: pair.merchantId,
      amount: { amountMinor, currency: 'EUR' }, context: undefined, holdTimeoutMs: 0,
    });

  it('commits many payments per transaction', async () => {
    const pair = await openPair();
    await ledger.deposit({ accountId: pair.payerId, amountMinor: 1_000_00n, idempotencyKey: 'd' });
    const before = db.transactions;
    const answers = await Promise.all(Array.from({ length: 300 }, (_v, i) => authorize(pair, `p${i}`, 1_00n)));
    expect(answers.every((a) => a.approved)).toBe(true);
    await Promise.all(answers.map((a) => ledger.capture({ paymentId: a.paymentId, amountMinor: 0n })));
    expect(db.transactions - before).toBeLessThanOrEqual(12);
    expect(await ledger.getAccount(pair.merchantId)).toMatchObject({ balanceMinor: 300_00n });
  });

  it("keeps one account's order: deposit, authorize, capture, refund submitted together all succeed", async () => {
    const pair = await openPair();
    const results = await Promise.all([
      ledger.deposit({ accountId: pair.payerId, amountMinor: 5_00n, idempotencyKey: 'd1' }),
      authorize(pair, 'p1', 5_00n),
      ledger.capture({ paymentId: 'p1', amountMinor: 3_00n }),
      ledger.refund({ refundId: 'r1', paymentId: 'p1', amountMinor: 1_00n }),
      authorize(pair, 'p2', 3_00n),
      ledger.void({ paymentId: 'p2', reason: '' }),
    ]);
    expect(results[1]).toMatchObject({ approved: true });
    expect(results[3]).toMatchObject({ state: HoldState.HOLD_STATE_CAPTURED, capturedMinor: 3_00n, refundedMinor: 1_00n });
    expect(results[4]).toMatchObject({ approved: true, availableMinor: 0n });
    expect(results[5]).toMatchObject({ state: HoldState.HOLD_STATE_VOIDED });
    expect(await ledger.getAccount(pair.payerId)).toMatchObject({ balanceMinor: 3_00n, heldMinor: 0n });
  });

  it('a failing request fails alone, even one the database itself rejects', async () => {
    const pair = await openPair();
    await ledger.deposit({ accountId: pair.payerId, amountMinor: 10_00n, idempotencyKey: 'd' });
    const settled = await Promise.allSettled([
      authorize(pair, 'ok-1', 1_00n),
      ledger.capture({ paymentId: 'missing', amountMinor: 0n }),
      authorize(pair, POISON, 1_00n), // fails its whole batch in the database
      authorize(pair, 'ok-2', 1_00n),
      authorize({ ...pair, payerId: 'acc_missing' }, 'ok-3', 1_00n),
      ledger.capture({ paymentId: 'ok-1', amountMinor: 0n }),
    ]);
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'rejected', 'fulfilled', 'rejected', 'fulfilled']);
    expect((settled[1] as PromiseRejectedResult).reason).toMatchObject({ code: ErrorCode.UnknownPayment });
    expect((settled[2] as PromiseRejectedResult).reason).toMatchObject({ code: ErrorCode.Internal });
    expect((settled[4] as PromiseRejectedResult).reason).toMatchObject({ code: ErrorCode.UnknownAccount });
    await expect(authorize(pair, 'nul-\u0000-byte', 1_00n)).rejects.toMatchObject({ code: ErrorCode.BadRequest });
    expect(await ledger.getAccount(pair.payerId)).toMatchObject({ balanceMinor: 9_00n, heldMinor: 1_00n });
    // A failed request leaves no idempotency record: a retry is evaluated afresh.
    await ledger.deposit({ accountId: 'acc_missing', amountMinor: 1n, idempotencyKey: 'retry-me' }).catch(() => undefined);
    await expect(ledger.deposit({ accountId: pair.payerId, amountMinor: 1n, idempotencyKey: 'retry-me' })).resolves.toMatchObject({ balanceMinor: 9_01n });
  });

  it('a full queue refuses at once with UNAVAILABLE', async () => {
    const small = await Ledger.open(db, { nowUnixMs: clock.now, groupCommit: { batchSizeMax: 100, lingerMs: 20, queueLengthMax: 5 } });
    const pair = await openPair();
    const settled = await Promise.allSettled(Array.from({ length: 8 }, (_v, i) => small.deposit({ accountId: pair.payerId, amountMinor: 1n, idempotencyKey: `q${i}` })));
    expect(settled.filter((s) => s.status === 'fulfilled')).toHaveLength(5);
    expect(settled.filter((s) => s.status === 'rejected').every((s) => (s as PromiseRejectedResult).reason.code === ErrorCode.Unavailable)).toBe(true);
    await small.close();
  });
});
