/**
 * What a load phase measured: end-to-end latency (from when each payment was due, so a late start
 * counts against the system), the network's own stage timings, outcomes by code, errors by code,
 * how each workload category ended, and a per-second timeline for the charts.
 */
import { PaymentOutcome, type PaymentResult } from '../../proto/gen/biopay/v1/payment.js';
import { describeOutcome } from '../terminal/outcome.js';
import { LatencyHistogram, type LatencySummary } from './histogram.js';
import type { LoopSample } from './loop-probe.js';
import { CATEGORIES, EXPECTED, isErrorCode, type Category } from './mix.js';

export const STAGES = ['identify', 'authorize', 'business', 'settle', 'terminal'] as const;
export type Stage = (typeof STAGES)[number];

export interface TimelinePoint {
  /** Seconds since the phase began (the end of this one-second interval). */
  readonly tS: number;
  readonly sent: number;
  readonly completed: number;
  readonly approved: number;
  readonly errors: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** This process's event loop in the interval (loop-probe.ts); 0 when the phase had no probe. */
  readonly loopDelayMaxMs: number;
  readonly loopUtilization: number;
}

/** What the timeline reads at each interval's end: the event loop since the previous one. */
export interface LoopSampler {
  take(): LoopSample;
}

export interface CategoryCounts {
  sent: number;
  asExpected: number;
  /** `approved`, `refused:CODE`, `voided:CODE` or `error:CODE`. */
  endings: Record<string, number>;
}

/**
 * Templates compared in full per identify (mean), the matcher's main cost per payment: a search that
 * finds the payer usually stops after a few, one that finds nobody compares every candidate.
 */
export interface IdentifyComparisons {
  readonly perIdentify: number;
  /** Identifies that named a payer. */
  readonly whenMatched: number;
  /** Identifies that found nobody (NO_MATCH). */
  readonly whenNoMatch: number;
}

export interface PhaseSummary {
  readonly durationS: number;
  readonly sent: number;
  readonly completed: number;
  readonly approvedPerSecond: number;
  readonly completedPerSecond: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  readonly maxMs: number;
  readonly latency: { readonly endToEnd: LatencySummary; readonly fromPublish: LatencySummary; readonly stages: Record<Stage, LatencySummary> };
  readonly outcomes: { approved: number; refused: number; voided: number; error: number };
  readonly refusals: Record<string, number>;
  readonly errors: Record<string, number>;
  /** The first message seen for each error code, to tell what failed. */
  readonly errorSamples: Record<string, string>;
  /** Errors by code and cause (the message with its numbers blanked), so causes sharing a code are told apart. */
  readonly errorCauses: Record<string, number>;
  readonly errorCount: number;
  readonly categories: Record<Category, CategoryCounts>;
  readonly identifyComparisons: IdentifyComparisons;
  readonly eventLoop: EventLoopSummary;
  readonly timeline: readonly TimelinePoint[];
}

/** A stall of this process's event loop worth naming in the summary: about a p99 of a payment. */
export const LOOP_STALL_MS = 100;

/** This process's event loop over the measurement, from the timeline (loop-probe.ts). */
export interface EventLoopSummary {
  /** The longest delay seen, and the second it ended in (0 and 0 without a probe). */
  readonly delayMaxMs: number;
  readonly delayMaxAtS: number;
  /** Seconds with a delay of LOOP_STALL_MS or more. */
  readonly stalledSeconds: number;
  /** Mean busy share over the measured seconds, 0..1. */
  readonly utilizationMean: number;
}

/** Error codes of the load tool itself (the network gave no answer in time, or the bound was hit). */
export const LoadErrorCode = { NoResult: 'NO_RESULT', Overflow: 'OVERFLOW' } as const;

const ERROR_CAUSES_MAX = 24;

export class PhaseMetrics {
  readonly endToEnd = new LatencyHistogram();
  readonly fromPublish = new LatencyHistogram();
  readonly stages: Record<Stage, LatencyHistogram> = Object.fromEntries(
    STAGES.map((stage) => [stage, new LatencyHistogram()])) as Record<Stage, LatencyHistogram>;
  readonly outcomes = { approved: 0, refused: 0, voided: 0, error: 0 };
  readonly refusals: Record<string, number> = {};
  readonly errors: Record<string, number> = {};
  readonly errorSamples: Record<string, string> = {};
  readonly errorCauses: Record<string, number> = {};
  readonly categories = Object.fromEntries(
    CATEGORIES.map((category) => [category, { sent: 0, asExpected: 0, endings: {} }])) as Record<Category, CategoryCounts>;
  readonly timeline: TimelinePoint[] = [];
  private sent = 0;
  private completed = 0;
  /** Sums and counts of templates compared, for identifies that matched and that found nobody. */
  private readonly compared = { matched: 0, matchedCount: 0, noMatch: 0, noMatchCount: 0 };
  private readonly interval = { sent: 0, completed: 0, approved: 0, errors: 0, latency: new LatencyHistogram() };
  private intervalEndMs: number;

  /**
   * `originMs` is when the phase began and `durationS` how long arrivals were due in it; `loop`
   * samples this process's event loop for the timeline.
   */
  constructor(private readonly originMs: number, private readonly durationS: number, private readonly loop?: LoopSampler) {
    this.intervalEndMs = originMs + 1000;
  }

  get errorCount(): number {
    return this.outcomes.error;
  }

  recordSent(category: Category, nowMs: number): void {
    this.advance(nowMs);
    this.sent++;
    this.interval.sent++;
    this.categories[category].sent++;
  }

  recordResult(category: Category, dueMs: number, sentMs: number, result: PaymentResult, nowMs: number): void {
    this.advance(nowMs);
    const code = result.refusals[0]?.code ?? '';
    if (result.outcome !== PaymentOutcome.PAYMENT_OUTCOME_APPROVED && isErrorCode(code || 'MISSING_REFUSAL')) {
      this.recordError(category, code || 'MISSING_REFUSAL', nowMs, dueMs, result.refusals[0]?.message);
      return;
    }
    this.completed++;
    this.interval.completed++;
    const latencyUs = (nowMs - dueMs) * 1000;
    this.endToEnd.record(latencyUs);
    this.interval.latency.record(latencyUs);
    this.fromPublish.record((nowMs - sentMs) * 1000);
    const timings = result.timings;
    if (timings) {
      this.stages.identify.record(timings.identifyUs);
      if (timings.authorizeUs > 0) this.stages.authorize.record(timings.authorizeUs);
      if (timings.businessUs > 0) this.stages.business.record(timings.businessUs);
      if (timings.settleUs > 0) this.stages.settle.record(timings.settleUs);
      this.stages.terminal.record(timings.totalUs);
    }
    this.countComparisons(result, code);
    const word = describeOutcome(result.outcome);
    const ending = word === 'approved' ? word : `${word}:${code}`;
    if (word === 'approved') {
      this.outcomes.approved++;
      this.interval.approved++;
    } else if (word === 'voided') this.outcomes.voided++;
    else this.outcomes.refused++;
    if (word !== 'approved') this.refusals[code] = (this.refusals[code] ?? 0) + 1;
    this.countEnding(category, ending, result.outcome === EXPECTED[category].outcome && code === EXPECTED[category].code);
  }

  /** No usable answer: a load-side error (no result, overflow) or a network failure code. */
  recordError(category: Category, code: string, nowMs: number, dueMs?: number, message?: string): void {
    this.advance(nowMs);
    this.completed++;
    this.interval.completed++;
    this.interval.errors++;
    if (dueMs !== undefined && code !== LoadErrorCode.Overflow) this.interval.latency.record((nowMs - dueMs) * 1000);
    this.outcomes.error++;
    this.errors[code] = (this.errors[code] ?? 0) + 1;
    if (message !== undefined && this.errorSamples[code] === undefined) this.errorSamples[code] = message.slice(0, 300);
    this.countCause(code, message);
    this.countEnding(category, `error:${code}`, false);
  }

  /** Closes the one-second intervals that ended by `nowMs` (called on every event and every second). */
  advance(nowMs: number): void {
    if (nowMs < this.intervalEndMs) return;
    // One reading for every interval closed now: a stall that held the loop past several of them spans them all.
    const loop = this.loop?.take() ?? { delayMaxMs: 0, utilization: 0 };
    while (nowMs >= this.intervalEndMs) {
      const latency = this.interval.latency.summary();
      this.timeline.push({
        tS: Math.round((this.intervalEndMs - this.originMs) / 1000), sent: this.interval.sent, completed: this.interval.completed,
        approved: this.interval.approved, errors: this.interval.errors,
        p50Ms: latency.p50Ms, p90Ms: latency.p90Ms, p99Ms: latency.p99Ms, maxMs: latency.maxMs,
        loopDelayMaxMs: loop.delayMaxMs, loopUtilization: loop.utilization,
      });
      Object.assign(this.interval, { sent: 0, completed: 0, approved: 0, errors: 0 });
      this.interval.latency.reset();
      this.intervalEndMs += 1000;
    }
  }

  summary(): PhaseSummary {
    const endToEnd = this.endToEnd.summary();
    return {
      durationS: this.durationS,
      sent: this.sent,
      completed: this.completed,
      approvedPerSecond: round(this.outcomes.approved / this.durationS),
      completedPerSecond: round(this.completed / this.durationS),
      p50Ms: endToEnd.p50Ms, p90Ms: endToEnd.p90Ms, p99Ms: endToEnd.p99Ms, p999Ms: endToEnd.p999Ms, maxMs: endToEnd.maxMs,
      latency: {
        endToEnd,
        fromPublish: this.fromPublish.summary(),
        stages: Object.fromEntries(STAGES.map((stage) => [stage, this.stages[stage].summary()])) as Record<Stage, LatencySummary>,
      },
      outcomes: { ...this.outcomes },
      refusals: { ...this.refusals },
      errors: { ...this.errors },
      errorSamples: { ...this.errorSamples },
      errorCauses: { ...this.errorCauses },
      errorCount: this.outcomes.error,
      categories: this.categories,
      identifyComparisons: this.comparisons(),
      // The measured seconds only, as the charts: the tail's partial second has no load behind it.
      eventLoop: summarizeLoop(this.timeline.filter((point) => point.tS <= this.durationS)),
      timeline: [...this.timeline],
    };
  }

  /** A payment whose identify ran to an answer: one that named a payer, or NO_MATCH. */
  private countComparisons(result: PaymentResult, code: string): void {
    if (result.accountId !== '') {
      this.compared.matched += result.candidatesCompared;
      this.compared.matchedCount++;
    } else if (code === 'NO_MATCH') {
      this.compared.noMatch += result.candidatesCompared;
      this.compared.noMatchCount++;
    }
  }

  private comparisons(): IdentifyComparisons {
    const { matched, matchedCount, noMatch, noMatchCount } = this.compared;
    const mean = (sum: number, count: number) => (count === 0 ? 0 : round(sum / count));
    return { perIdentify: mean(matched + noMatch, matchedCount + noMatchCount), whenMatched: mean(matched, matchedCount), whenNoMatch: mean(noMatch, noMatchCount) };
  }

  private countCause(code: string, message: string | undefined): void {
    let key = message === undefined ? code : `${code}: ${message.slice(0, 160).replace(/\d+/g, 'N')}`;
    // Bounded: a flood of distinct messages cannot grow the report.
    if (this.errorCauses[key] === undefined && Object.keys(this.errorCauses).length >= ERROR_CAUSES_MAX) key = `${code}: (other causes)`;
    this.errorCauses[key] = (this.errorCauses[key] ?? 0) + 1;
  }

  private countEnding(category: Category, ending: string, asExpected: boolean): void {
    const counts = this.categories[category];
    counts.endings[ending] = (counts.endings[ending] ?? 0) + 1;
    if (asExpected) counts.asExpected++;
  }
}

function summarizeLoop(timeline: readonly TimelinePoint[]): EventLoopSummary {
  let delayMaxMs = 0;
  let delayMaxAtS = 0;
  let stalledSeconds = 0;
  let utilizationSum = 0;
  for (const point of timeline) {
    if (point.loopDelayMaxMs > delayMaxMs) {
      delayMaxMs = point.loopDelayMaxMs;
      delayMaxAtS = point.tS;
    }
    if (point.loopDelayMaxMs >= LOOP_STALL_MS) stalledSeconds++;
    utilizationSum += point.loopUtilization;
  }
  const utilizationMean = timeline.length === 0 ? 0 : Math.round((utilizationSum / timeline.length) * 1000) / 1000;
  return { delayMaxMs, delayMaxAtS, stalledSeconds, utilizationMean };
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}
