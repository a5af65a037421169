/** Supervision arithmetic: exponential back-off with a cap, and a restart budget per time window. */
import type { RestartPolicy } from './types.js';

export const DEFAULT_RESTART_POLICY: RestartPolicy = {
  initialDelayMs: 10,
  maxDelayMs: 2_000,
  restartsMax: 10,
  windowMs: 60_000,
};

export class RestartTracker {
  private failuresAtMs: number[] = [];

  constructor(private readonly policy: RestartPolicy) {}

  /**
   * Records a failure. Returns the delay before the next restart, or undefined when the budget of
   * the window is spent (the actor then stays failed until passivated).
   */
  recordFailure(nowMs: number): number | undefined {
    this.failuresAtMs = this.failuresAtMs.filter((at) => nowMs - at < this.policy.windowMs);
    this.failuresAtMs.push(nowMs);
    const count = this.failuresAtMs.length;
    if (count > this.policy.restartsMax) return undefined;
    return Math.min(this.policy.maxDelayMs, this.policy.initialDelayMs * 2 ** (count - 1));
  }

  reset(): void {
    this.failuresAtMs = [];
  }
}
