/**
 * Open-loop arrivals: payments start when the clock says so, never when earlier ones finish, so a
 * slow system cannot slow the load down and hide its latency (coordinated omission). Each arrival
 * carries the time it was due; latency is measured from there, so a late start counts against the
 * system. In-flight work is bounded: an arrival that finds the bound reached is an overflow error,
 * not a queue that grows without end.
 */
import { makeRandom, type Random } from '../biometrics/synthetic/index.js';
import { BiopayError, ErrorCode } from '../errors.js';

export type ArrivalProcess = 'constant' | 'poisson';

export interface Clock {
  nowMs(): number;
  sleepMs(ms: number): Promise<void>;
}

export const realClock: Clock = {
  nowMs: () => performance.now(),
  sleepMs: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

export interface Arrival {
  /** From 0, in the order the arrivals were due. */
  readonly index: number;
  /** When it was due, on the scheduler's clock. */
  readonly dueMs: number;
}

export interface OpenLoopOptions {
  /** Arrivals per second. */
  readonly rate: number;
  readonly durationMs: number;
  readonly arrival: ArrivalProcess;
  /** Arrivals in flight at most; one that finds this many running overflows. */
  readonly inFlightMax: number;
  readonly seed: number;
  readonly clock?: Clock;
  /** Starts one arrival; the promise settles when it is finished (it must not reject). */
  start(arrival: Arrival): Promise<void>;
  /** An arrival dropped because `inFlightMax` were running. */
  overflow(arrival: Arrival): void;
  /** Stops scheduling further arrivals (those in flight still finish). */
  readonly signal?: AbortSignal;
}

export interface OpenLoopResult {
  readonly arrivals: number;
  readonly overflowed: number;
  /** The latest an arrival was started after it was due: the load generator's own lag. */
  readonly lagMsMax: number;
  readonly elapsedMs: number;
}

export const RATE_MAX = 1_000_000;
/** The scheduler never sleeps longer than this, so it notices an abort quickly. */
const SLEEP_MS_MAX = 50;

/** Gaps between arrivals in ms: equal for `constant`, exponential (a Poisson process) otherwise. */
export function interArrivalMs(process: ArrivalProcess, rate: number, random: Random): () => number {
  checkRate(rate);
  const meanMs = 1000 / rate;
  if (process === 'constant') return () => meanMs;
  return () => -Math.log(1 - random()) * meanMs;
}

export async function runOpenLoop(options: OpenLoopOptions): Promise<OpenLoopResult> {
  checkRate(options.rate);
  if (!Number.isInteger(options.inFlightMax) || options.inFlightMax < 1) {
    throw new BiopayError(ErrorCode.BadRequest, `inFlightMax must be a positive integer, got ${options.inFlightMax}`);
  }
  const clock = options.clock ?? realClock;
  const gapMs = interArrivalMs(options.arrival, options.rate, makeRandom(options.seed));
  const running = new Set<Promise<void>>();
  const startedMs = clock.nowMs();
  const endMs = startedMs + options.durationMs;
  let dueMs = startedMs + gapMs();
  let index = 0;
  let overflowed = 0;
  let lagMsMax = 0;
  while (dueMs < endMs && !options.signal?.aborted) {
    const nowMs = clock.nowMs();
    if (dueMs > nowMs) {
      await clock.sleepMs(Math.min(dueMs - nowMs, SLEEP_MS_MAX));
      continue;
    }
    // Everything due by now starts now, however late: the schedule is the clock's, not ours.
    while (dueMs <= nowMs && dueMs < endMs) {
      const arrival: Arrival = { index: index++, dueMs };
      lagMsMax = Math.max(lagMsMax, nowMs - dueMs);
      if (running.size >= options.inFlightMax) {
        overflowed++;
        options.overflow(arrival);
      } else {
        const work: Promise<void> = options.start(arrival).catch(() => undefined).finally(() => running.delete(work));
        running.add(work);
      }
      dueMs += gapMs();
    }
  }
  await Promise.all(running);
  return { arrivals: index, overflowed, lagMsMax, elapsedMs: clock.nowMs() - startedMs };
}

function checkRate(rate: number): void {
  if (!Number.isFinite(rate) || rate <= 0 || rate > RATE_MAX) {
    throw new BiopayError(ErrorCode.BadRequest, `rate must be a number in (0, ${RATE_MAX}] per second, got ${rate}`);
  }
}
