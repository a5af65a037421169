/**
 * Group commit: requests wait in a bounded queue and are committed many per transaction. One batch
 * is in flight at a time and batches keep arrival order, so one account's operations commit in the
 * order they were submitted. Outcomes are per request: one failure never fails its neighbours.
 *
 * While requests keep coming, batches start at a steady cadence (batchIntervalMs) rather than the
 * moment the previous one ends: a transaction costs a WAL flush, two or three round trips and the
 * wake-ups on both sides whatever it holds, so fewer and fuller transactions make a busy ledger
 * cheaper per payment; and the answers, arriving together, leave together.
 */
import { BiopayError, ErrorCode } from '../errors.js';
import type { Outcome } from './requests.js';

export interface GroupCommitOptions {
  /** Requests per transaction, at most. */
  batchSizeMax?: number;
  /** How long a lone request waits for company when the ledger is idle. */
  lingerMs?: number;
  /** Requests waiting, at most; beyond it submit() fails fast with UNAVAILABLE. */
  queueLengthMax?: number;
  /**
   * While the ledger is busy, a batch starts no sooner than this after the previous one started
   * (sooner when batchSizeMax requests wait). 0: at once when the previous one ends.
   */
  batchIntervalMs?: number;
}

export const GROUP_COMMIT_DEFAULTS = { batchSizeMax: 500, lingerMs: 1, queueLengthMax: 20_000, batchIntervalMs: 10 } as const;
/** The longest cadence accepted (flags of `biopay node` and `biopay load` check the same). */
export const BATCH_INTERVAL_MS_MAX = 1_000;
const BATCH_SIZE_LIMIT = 10_000;

/** What a committer has committed since it started: transactions and the requests they held. */
export interface CommitCounts {
  readonly transactions: number;
  readonly operations: number;
}

interface Waiting<Op> {
  op: Op;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

export class GroupCommitter<Op> {
  readonly #run: (ops: Op[]) => Promise<Outcome[]>;
  readonly #batchSizeMax: number;
  readonly #lingerMs: number;
  readonly #queueLengthMax: number;
  readonly #batchIntervalMs: number;
  readonly #queue: Waiting<Op>[] = [];
  #inFlight: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #lastStartMs = 0;
  #transactions = 0;
  #operations = 0;
  #closed = false;

  constructor(run: (ops: Op[]) => Promise<Outcome[]>, options: GroupCommitOptions = {}) {
    this.#run = run;
    this.#batchSizeMax = boundedInteger('batchSizeMax', options.batchSizeMax ?? GROUP_COMMIT_DEFAULTS.batchSizeMax, 1, BATCH_SIZE_LIMIT);
    this.#lingerMs = boundedInteger('lingerMs', options.lingerMs ?? GROUP_COMMIT_DEFAULTS.lingerMs, 0, 1_000);
    this.#queueLengthMax = boundedInteger('queueLengthMax', options.queueLengthMax ?? GROUP_COMMIT_DEFAULTS.queueLengthMax, 1, 1_000_000);
    this.#batchIntervalMs = boundedInteger('batchIntervalMs', options.batchIntervalMs ?? GROUP_COMMIT_DEFAULTS.batchIntervalMs, 0, BATCH_INTERVAL_MS_MAX);
  }

  get queueLength(): number {
    return this.#queue.length;
  }

  /** Batches started so far (each one transaction, retries within it aside) and the requests they held. */
  get counts(): CommitCounts {
    return { transactions: this.#transactions, operations: this.#operations };
  }

  submit<Result>(op: Op): Promise<Result> {
    if (this.#closed) return Promise.reject(new BiopayError(ErrorCode.Stopped, 'ledger is closed'));
    if (this.#queue.length >= this.#queueLengthMax) {
      return Promise.reject(new BiopayError(ErrorCode.Unavailable, `ledger queue is full (${this.#queueLengthMax} waiting)`));
    }
    return new Promise<Result>((resolve, reject) => {
      this.#queue.push({ op, resolve: resolve as (value: unknown) => void, reject });
      this.#schedule();
    });
  }

  /** Refuses new requests and waits until every queued one is committed. */
  async close(): Promise<void> {
    this.#closed = true;
    while (this.#inFlight || this.#queue.length > 0) {
      if (!this.#inFlight) this.#flush();
      await this.#inFlight;
    }
  }

  #schedule(): void {
    if (this.#inFlight) return;
    if (this.#queue.length >= this.#batchSizeMax) {
      this.#flush();
      return;
    }
    if (this.#timer) return;
    if (this.#lingerMs === 0) {
      this.#flush();
      return;
    }
    this.#startAfter(this.#lingerMs);
  }

  /** After a batch: the requests that queued meanwhile go at the next beat of the cadence. */
  #next(): void {
    if (this.#queue.length === 0) return;
    const waitMs = this.#lastStartMs + this.#batchIntervalMs - performance.now();
    if (waitMs < 1 || this.#queue.length >= this.#batchSizeMax) this.#flush();
    else this.#startAfter(waitMs);
  }

  #startAfter(waitMs: number): void {
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (!this.#inFlight) this.#flush();
    }, waitMs);
  }

  #flush(): void {
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    const batch = this.#queue.splice(0, this.#batchSizeMax);
    if (batch.length === 0) return;
    this.#lastStartMs = performance.now();
    this.#transactions++;
    this.#operations += batch.length;
    this.#inFlight = this.#commit(batch).finally(() => {
      this.#inFlight = undefined;
      this.#next();
    });
  }

  async #commit(batch: Waiting<Op>[]): Promise<void> {
    let outcomes: Outcome[];
    try {
      outcomes = await this.#run(batch.map((waiting) => waiting.op));
    } catch (error) {
      for (const waiting of batch) waiting.reject(error);
      return;
    }
    batch.forEach((waiting, index) => {
      const outcome = outcomes[index];
      if (!outcome) waiting.reject(new BiopayError(ErrorCode.Internal, 'group commit lost a result'));
      else if (outcome.ok) waiting.resolve(outcome.value);
      else waiting.reject(outcome.error);
    });
  }
}

function boundedInteger(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new BiopayError(ErrorCode.BadRequest, `group commit ${name} must be an integer in ${min}..${max}, got ${value}`);
  }
  return value;
}
