/**
 * A bounded number of calls running at once, with a bounded FIFO of callers waiting for a slot.
 * Overload degrades into fast, named refusals instead of queues that grow until every caller times
 * out: a full wait queue refuses at once (UNAVAILABLE), and a caller that waited past its own budget
 * is refused when its turn comes (TIMEOUT) rather than starting work nobody waits for any more.
 *
 * Queue delay (optional, `queueDelayMaxMs`): while the oldest waiter has waited longer than that,
 * a new caller is refused at once (UNAVAILABLE) instead of joining a queue it would wait in for
 * most of its budget: the callers let in keep a bounded wait, the others learn at once that they
 * should retry later.
 *
 * Standing queue (optional, `queueDelayTargetMs`, with queueDelayMaxMs): that bound alone lets a
 * queue under sustained overload settle at queueDelayMaxMs, so every caller let in waits about that
 * long. The gate tells a burst from a standing queue as CoDel does (Nichols and Jacobson, 2012;
 * for server queues, Maurer, "Fail at Scale", 2015): once the queue has not emptied for
 * queueDelayMaxMs, a waiter that has waited longer than the target when its turn comes is refused
 * (UNAVAILABLE) and the next one served. While callers arrive faster than they are served the
 * queue keeps newer ones, so the work never runs dry, and each caller served has waited about the
 * target at most; a queue that empties takes bursts again.
 *
 * Adaptive (optional): the slots in use shrink by half when the work reports the callee overloaded
 * (UNAVAILABLE or TIMEOUT) and grow back by about one per round of successes, between `activeMin`
 * and `activeMax`. A callee that queues work and fails it when its queue is full (a matcher pool)
 * then sees less than it can carry, instead of a cascade where fast failures free slots for more
 * work that fails too.
 */
import { BoundedQueue } from '../actors/mailbox.js';
import { asBiopayError, BiopayError, ErrorCode } from '../errors.js';

export interface AdaptiveLimit {
  readonly activeMin: number;
}

export interface GateOptions {
  /** Adapt the slots in use to the callee's health (see above). */
  readonly adaptive?: AdaptiveLimit;
  /** Refuse new callers while the oldest waiter has waited longer than this (see above). */
  readonly queueDelayMaxMs?: number;
  /** With queueDelayMaxMs: the wait a standing queue's waiters are served within (see above). */
  readonly queueDelayTargetMs?: number;
}

/** A burst of failures from one overload halves the limit once, not once per failure. */
const DECREASE_INTERVAL_MS = 100;

interface Waiter {
  readonly sinceMs: number;
  readonly budgetMs: number;
  readonly resolve: (remainingMs: number) => void;
  readonly reject: (error: BiopayError) => void;
}

export class ConcurrencyGate {
  private active = 0;
  private readonly waiting: BoundedQueue<Waiter>;
  private limit: number;
  private lastDecreaseMs = Number.NEGATIVE_INFINITY;
  private readonly adaptive: AdaptiveLimit | undefined;
  private readonly queueDelayMaxMs: number;
  private readonly queueDelayTargetMs: number;
  /** When the wait queue was last seen empty (performance.now()). */
  private emptySinceMs = performance.now();

  constructor(readonly name: string, readonly activeMax: number, readonly waitingMax: number, options: GateOptions = {}) {
    const { adaptive, queueDelayMaxMs, queueDelayTargetMs } = options;
    this.limit = activeMax;
    this.adaptive = adaptive;
    this.queueDelayMaxMs = queueDelayMaxMs ?? Number.POSITIVE_INFINITY;
    this.queueDelayTargetMs = queueDelayTargetMs ?? Number.POSITIVE_INFINITY;
    if (queueDelayMaxMs !== undefined && (!Number.isSafeInteger(queueDelayMaxMs) || queueDelayMaxMs < 1)) {
      throw new BiopayError(ErrorCode.BadRequest, `${name}: queueDelayMaxMs must be a positive integer, got ${queueDelayMaxMs}`);
    }
    if (queueDelayTargetMs !== undefined && (queueDelayMaxMs === undefined || !Number.isSafeInteger(queueDelayTargetMs)
      || queueDelayTargetMs < 1 || queueDelayTargetMs > queueDelayMaxMs)) {
      throw new BiopayError(ErrorCode.BadRequest, `${name}: queueDelayTargetMs must be an integer in 1..queueDelayMaxMs, got ${queueDelayTargetMs}`);
    }
    if (adaptive && (!Number.isSafeInteger(adaptive.activeMin) || adaptive.activeMin < 1 || adaptive.activeMin > activeMax)) {
      throw new BiopayError(ErrorCode.BadRequest, `${name}: activeMin must be an integer in 1..${activeMax}, got ${adaptive.activeMin}`);
    }
    for (const [what, value] of [['activeMax', activeMax], ['waitingMax', waitingMax]] as const) {
      if (!Number.isSafeInteger(value) || value < (what === 'activeMax' ? 1 : 0)) {
        throw new BiopayError(ErrorCode.BadRequest, `${name}: ${what} must be a ${what === 'activeMax' ? 'positive' : 'non-negative'} integer, got ${value}`);
      }
    }
    this.waiting = new BoundedQueue(Math.max(1, waitingMax));
  }

  get running(): number {
    return this.active;
  }

  get queued(): number {
    return this.waiting.length;
  }

  /** Slots usable now (activeMax unless adaptive and recently overloaded). */
  get currentLimit(): number {
    return Math.floor(this.limit);
  }

  /** Runs `work` in a slot, passing it the budget left after waiting (for its own deadline). */
  async run<T>(budgetMs: number, work: (remainingMs: number) => Promise<T>): Promise<T> {
    const remainingMs = await this.acquire(budgetMs);
    try {
      const result = await work(remainingMs);
      this.observe(true);
      return result;
    } catch (error) {
      const code = asBiopayError(error).code;
      this.observe(code !== ErrorCode.Unavailable && code !== ErrorCode.Timeout);
      throw error;
    } finally {
      this.release();
    }
  }

  private observe(healthy: boolean): void {
    if (!this.adaptive) return;
    if (healthy) {
      this.limit = Math.min(this.activeMax, this.limit + 1 / Math.max(1, this.limit));
      return;
    }
    const nowMs = performance.now();
    if (nowMs - this.lastDecreaseMs < DECREASE_INTERVAL_MS) return;
    this.lastDecreaseMs = nowMs;
    this.limit = Math.max(this.adaptive.activeMin, Math.floor(this.limit / 2));
  }

  private acquire(budgetMs: number): Promise<number> {
    if (this.waiting.length === 0) {
      this.emptySinceMs = performance.now();
      if (this.active < this.currentLimit) {
        this.active++;
        return Promise.resolve(budgetMs);
      }
    }
    if (this.waitingMax === 0 || this.waiting.length >= this.waitingMax) {
      return Promise.reject(new BiopayError(ErrorCode.Unavailable,
        `${this.name} overloaded: ${this.active} running and ${this.waiting.length} waiting (limits ${this.currentLimit} and ${this.waitingMax})`));
    }
    const nowMs = performance.now();
    const oldestWaitMs = nowMs - (this.waiting.peek()?.sinceMs ?? nowMs);
    if (oldestWaitMs > this.queueDelayMaxMs) {
      return Promise.reject(new BiopayError(ErrorCode.Unavailable,
        `${this.name} overloaded: the oldest of ${this.waiting.length} waiting has waited ${Math.round(oldestWaitMs)} ms (limit ${this.queueDelayMaxMs} ms)`));
    }
    return new Promise((resolve, reject) => {
      this.waiting.push({ sinceMs: nowMs, budgetMs, resolve, reject });
    });
  }

  /**
   * Frees the slot and starts waiters while slots are free (the limit may have grown or shrunk);
   * waiters past their budget, or past the target of a standing queue, are refused on the way.
   */
  private release(): void {
    this.active--;
    const nowMs = performance.now();
    const standing = nowMs - this.emptySinceMs > this.queueDelayMaxMs;
    while (this.active < this.currentLimit) {
      const waiter = this.waiting.shift();
      if (!waiter) {
        this.emptySinceMs = nowMs;
        return;
      }
      const waitedMs = nowMs - waiter.sinceMs;
      const remainingMs = Math.floor(waiter.budgetMs - waitedMs);
      if (remainingMs < 1) {
        waiter.reject(new BiopayError(ErrorCode.Timeout,
          `${this.name}: waited ${Math.round(waitedMs)} ms for one of ${this.currentLimit} slots, past the ${waiter.budgetMs} ms budget`));
      } else if (standing && waitedMs > this.queueDelayTargetMs) {
        waiter.reject(new BiopayError(ErrorCode.Unavailable,
          `${this.name} overloaded: waited ${Math.round(waitedMs)} ms in a queue standing for ${Math.round(nowMs - this.emptySinceMs)} ms (target ${this.queueDelayTargetMs} ms)`));
      } else {
        this.active++;
        waiter.resolve(remainingMs);
      }
    }
  }
}
