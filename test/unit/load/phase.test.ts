import { describe, expect, it } from 'vitest';
import type { LoadDriver } from '../../../core/load/driver.js';
import type { PhaseMetrics } from '../../../core/load/metrics.js';
import { runPhase } from '../../../core/load/phase.js';
import type { Arrival } from '../../../core/load/scheduler.js';
import { PaymentOutcome } from '../../../proto/gen/biopay/v1/payment.js';

/** A network that approves every payment 2 ms after it was sent; one payment blocks the loop first. */
function approvingDriver(blockMs: number, blockAtSend: number): LoadDriver {
  let sends = 0;
  const driver = {
    inFlight: 0,
    async send(arrival: Arrival, metrics: PhaseMetrics): Promise<void> {
      const sentMs = performance.now();
      metrics.recordSent('approved', sentMs);
      if (++sends === blockAtSend) {
        const untilMs = performance.now() + blockMs;
        while (performance.now() < untilMs) { /* the stall the progress line must name */ }
      }
      await new Promise((resolve) => setTimeout(resolve, 2));
      metrics.recordResult('approved', arrival.dueMs, sentMs, {
        paymentId: `p${sends}`, outcome: PaymentOutcome.PAYMENT_OUTCOME_APPROVED, refusals: [], accountId: 'a', credentialId: 'c',
        amount: { amountMinor: 100n, currency: 'EUR' }, matchScore: 0.5, candidatesCompared: 2, timings: undefined,
      }, performance.now());
    },
    overflow(): void {
      throw new Error('no overflow expected at this rate');
    },
  };
  return driver as unknown as LoadDriver;
}

describe('a load phase', () => {
  it('names a stall of the event loop in the progress line of its second, and in the timeline', async () => {
    const lines: string[] = [];
    // 40/s for 4 s: the 50th payment (in the second second) blocks the loop for 250 ms. A progress
    // timer may fire a little before its second is complete (libuv's clock is in whole ms): the
    // line after it names the stall then, and a fourth second leaves room for that line.
    const outcome = await runPhase(approvingDriver(250, 50), {
      rate: 40, warmupS: 0, durationS: 4, arrival: 'constant', inFlightMax: 100, seed: 1, progress: (line) => lines.push(line),
    });
    expect(outcome.measured.completed).toBe(outcome.measured.sent);
    expect(outcome.measured.eventLoop.delayMaxMs).toBeGreaterThanOrEqual(200);
    expect(outcome.measured.eventLoop.stalledSeconds).toBeGreaterThanOrEqual(1);
    const named = lines.filter((line) => /event loop stalled \d+ ms/.test(line));
    expect(named.length, lines.join('\n')).toBeGreaterThanOrEqual(1);
    // Seconds without a stall keep the line as it was.
    expect(lines.some((line) => !line.includes('event loop'))).toBe(true);
  });
});
