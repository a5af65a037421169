/**
 * One load phase at one rate: open-loop arrivals for the warm-up then the measured duration,
 * payments due in the warm-up kept apart from the measurement, and one progress line a second.
 */
import type { LoadDriver } from './driver.js';
import { EventLoopProbe } from './loop-probe.js';
import { LOOP_STALL_MS, PhaseMetrics, type PhaseSummary } from './metrics.js';
import { runOpenLoop, type ArrivalProcess, type OpenLoopResult } from './scheduler.js';

export interface PhaseOptions {
  readonly rate: number;
  readonly warmupS: number;
  readonly durationS: number;
  readonly arrival: ArrivalProcess;
  readonly inFlightMax: number;
  readonly seed: number;
  readonly label?: string;
  progress(line: string): void;
}

export interface PhaseOutcome {
  readonly rate: number;
  readonly measured: PhaseSummary;
  readonly warmup: { readonly sent: number; readonly completed: number; readonly errorCount: number };
  readonly scheduler: OpenLoopResult;
}

const PROGRESS_INTERVAL_MS = 1000;

export async function runPhase(driver: LoadDriver, options: PhaseOptions): Promise<PhaseOutcome> {
  const beganMs = performance.now();
  const measureFromMs = beganMs + options.warmupS * 1000;
  const loop = new EventLoopProbe();
  const warmup = new PhaseMetrics(beganMs, Math.max(options.warmupS, 1e-3));
  const measured = new PhaseMetrics(measureFromMs, options.durationS, loop);
  const metricsFor = (dueMs: number) => (dueMs < measureFromMs ? warmup : measured);
  // The warm-up's readings are dropped: the timeline's first second starts clean.
  const measureStart = setTimeout(() => loop.take(), measureFromMs - beganMs);
  // Seconds of the timeline already shown: a line names a stall in any second completed since the
  // previous line, since a timer may fire a little early (libuv's loop clock is in whole ms) and
  // so two seconds can complete between lines.
  const shown: Shown = { metrics: undefined, seconds: 0 };
  const timer = setInterval(() => {
    const nowMs = performance.now();
    measured.advance(nowMs);
    options.progress(progressLine(options, nowMs - beganMs, nowMs < measureFromMs ? warmup : measured, driver.inFlight, shown));
  }, PROGRESS_INTERVAL_MS);
  let scheduler: OpenLoopResult;
  try {
    scheduler = await runOpenLoop({
      rate: options.rate,
      durationMs: (options.warmupS + options.durationS) * 1000,
      arrival: options.arrival,
      inFlightMax: options.inFlightMax,
      seed: options.seed,
      start: (arrival) => driver.send(arrival, metricsFor(arrival.dueMs)),
      overflow: (arrival) => driver.overflow(arrival, metricsFor(arrival.dueMs)),
    });
    // The tail: intervals up to the last completion, the partial one included.
    measured.advance(Math.ceil((performance.now() - measureFromMs) / 1000) * 1000 + measureFromMs);
  } finally {
    clearInterval(timer);
    clearTimeout(measureStart);
    loop.stop();
  }
  const warm = warmup.summary();
  return {
    rate: options.rate,
    measured: measured.summary(),
    warmup: { sent: warm.sent, completed: warm.completed, errorCount: warm.errorCount },
    scheduler,
  };
}

/** The seconds of one phase's timeline (warm-up or measured) that a progress line has shown. */
interface Shown {
  metrics: PhaseMetrics | undefined;
  seconds: number;
}

function progressLine(options: PhaseOptions, elapsedMs: number, metrics: PhaseMetrics, inFlight: number, shown: Shown): string {
  const summary = metrics.summary();
  const last = summary.timeline[summary.timeline.length - 1];
  if (shown.metrics !== metrics) Object.assign(shown, { metrics, seconds: 0 });
  const fresh = summary.timeline.slice(shown.seconds);
  shown.seconds = summary.timeline.length;
  const stallMs = Math.max(0, ...fresh.map((second) => second.loopDelayMaxMs));
  const stage = elapsedMs < options.warmupS * 1000 ? 'warm-up' : 'measure';
  return [
    `${options.label ? `${options.label} ` : ''}[${stage} ${(elapsedMs / 1000).toFixed(0).padStart(3)} s]`,
    `rate ${options.rate}/s`,
    `sent ${summary.sent}`,
    `done ${summary.completed}`,
    `approved ${summary.outcomes.approved}`,
    `in flight ${inFlight}`,
    `last second: ${last ? `${last.completed}/s p50 ${last.p50Ms} ms p99 ${last.p99Ms} ms` : '-'}`,
    `errors ${summary.errorCount}`,
    // Named only when it stalled: a quiet loop is the usual case and the line is long enough.
    ...(stallMs >= LOOP_STALL_MS ? [`event loop stalled ${Math.round(stallMs)} ms`] : []),
  ].join('  ');
}
