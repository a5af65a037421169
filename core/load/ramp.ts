/**
 * Ramp mode: find the highest rate whose p99 end-to-end latency stays under a target with no
 * errors (every arrival either ends or is an error, so a rate the network cannot take shows up as
 * NO_RESULT or OVERFLOW errors, or as latency). The rate grows by RAMP_FACTOR until a step
 * fails, then the gap between the best passing and the first failing rate is halved a few times.
 */
import { BiopayError, ErrorCode } from '../errors.js';
import type { PhaseOutcome } from './phase.js';

export interface RampOptions {
  readonly startRate: number;
  readonly p99MsMax: number;
  /** Steps at most, growth and halving together. */
  readonly stepsMax: number;
  readonly rateMax: number;
}

export interface RampStep {
  readonly rate: number;
  readonly passed: boolean;
  readonly reason: string;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly errorCount: number;
  readonly approvedPerSecond: number;
  readonly completedPerSecond: number;
  /** The whole machine's CPU per payment at this step (Linux): it falls as the rate rises and work batches. */
  readonly machineCpuMsPerPayment?: number;
}

export interface RampResult {
  readonly p99MsMax: number;
  readonly bestRate: number | undefined;
  readonly steps: readonly RampStep[];
}

const RAMP_FACTOR = 1.5;
/** Halving stops once the failing rate is within this ratio of the passing one. */
const RAMP_RESOLUTION = 1.1;

export function judgeStep(phase: PhaseOutcome, p99MsMax: number): RampStep {
  // Not judged on completed/offered: Poisson arrivals in a short step vary by several percent.
  const measured = phase.measured;
  const reasons: string[] = [];
  if (measured.errorCount > 0) reasons.push(`${measured.errorCount} errors`);
  if (measured.p99Ms > p99MsMax) reasons.push(`p99 ${measured.p99Ms} ms > ${p99MsMax} ms`);
  return {
    rate: phase.rate, passed: reasons.length === 0, reason: reasons.join('; ') || 'ok',
    p50Ms: measured.p50Ms, p99Ms: measured.p99Ms, errorCount: measured.errorCount,
    approvedPerSecond: measured.approvedPerSecond, completedPerSecond: measured.completedPerSecond,
  };
}

/** Runs steps through `step` (one phase at a rate) and returns every step and the best rate. */
export async function ramp(options: RampOptions, step: (rate: number) => Promise<PhaseOutcome>): Promise<{ result: RampResult; best: PhaseOutcome | undefined; first: PhaseOutcome }> {
  if (!(options.startRate > 0) || !(options.p99MsMax > 0) || options.stepsMax < 1) {
    throw new BiopayError(ErrorCode.BadRequest, 'ramp needs a start rate > 0, a p99 target > 0 and at least one step');
  }
  const steps: RampStep[] = [];
  let best: PhaseOutcome | undefined;
  let first: PhaseOutcome | undefined;
  let failedRate: number | undefined;
  let rate = options.startRate;
  while (steps.length < options.stepsMax) {
    const phase = await step(rate);
    first ??= phase;
    const judged = judgeStep(phase, options.p99MsMax);
    steps.push(judged);
    if (judged.passed) best = phase;
    else failedRate = Math.min(failedRate ?? rate, rate);
    const next = nextRate(best?.rate, failedRate, options);
    if (next === undefined) break;
    rate = next;
  }
  return { result: { p99MsMax: options.p99MsMax, bestRate: best?.rate, steps }, best, first: first! };
}

/** Grow while nothing failed; then halve between the best pass and the lowest failure. */
export function nextRate(passedRate: number | undefined, failedRate: number | undefined, options: RampOptions): number | undefined {
  if (failedRate === undefined) {
    const grown = Math.round((passedRate ?? options.startRate) * RAMP_FACTOR);
    return grown > options.rateMax ? undefined : grown;
  }
  const low = passedRate ?? 0;
  if (low === 0 && failedRate <= 1) return undefined;
  if (low > 0 && failedRate / low <= RAMP_RESOLUTION) return undefined;
  const middle = Math.round((low + failedRate) / 2);
  return middle <= low || middle >= failedRate ? undefined : middle;
}
