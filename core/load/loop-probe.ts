/**
 * This process's event loop, interval by interval: the longest delay of a timer due every 10 ms,
 * and the share of the time the loop was busy. In the embedded network every node role runs on this
 * loop, so a stall of the nodes' main thread shows here; against a running network (`--nats`) it is
 * the load tool's own loop, and a saturated one sends late and stamps results late, so the latency
 * it reports then includes its own delays (the report says so).
 *
 * Not perf_hooks' monitorEventLoopDelay: its reset() drops the interval that spans it, so a stall
 * that began just before a one-second boundary would not be seen.
 */
import { performance, type EventLoopUtilization } from 'node:perf_hooks';

export interface LoopSample {
  /** The longest a 10 ms timer fired late in the interval (0 on an idle loop). */
  readonly delayMaxMs: number;
  /** Share of the interval the loop spent running callbacks, 0..1. */
  readonly utilization: number;
}

/** How often the probe's timer is due: finer costs more wake-ups, coarser misses short stalls. */
export const LOOP_PROBE_PERIOD_MS = 10;

export class EventLoopProbe {
  #delayMaxMs = 0;
  #lastTickMs = performance.now();
  #lastUtilization: EventLoopUtilization = performance.eventLoopUtilization();
  readonly #timer: NodeJS.Timeout;

  constructor() {
    this.#timer = setInterval(() => this.#tick(), LOOP_PROBE_PERIOD_MS);
    this.#timer.unref();
  }

  /** Since the previous take (or the start); the delay of a tick still pending counts too. */
  take(): LoopSample {
    this.#tick();
    const now = performance.eventLoopUtilization();
    const utilization = performance.eventLoopUtilization(now, this.#lastUtilization).utilization;
    this.#lastUtilization = now;
    const sample = { delayMaxMs: round(this.#delayMaxMs), utilization: round(utilization, 1000) };
    this.#delayMaxMs = 0;
    return sample;
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  #tick(): void {
    const nowMs = performance.now();
    const lateMs = nowMs - this.#lastTickMs - LOOP_PROBE_PERIOD_MS;
    if (lateMs > this.#delayMaxMs) this.#delayMaxMs = lateMs;
    // A take() between ticks restarts the count, so the late part is not counted twice.
    this.#lastTickMs = nowMs;
  }
}

function round(value: number, scale = 10): number {
  return Math.round(Math.max(0, value) * scale) / scale;
}
