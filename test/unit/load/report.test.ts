import { describe, expect, it } from 'vitest';
import { PaymentOutcome, type PaymentResult } from '../../../proto/gen/biopay/v1/payment.js';
import { PhaseMetrics } from '../../../core/load/metrics.js';
import { DEFAULT_MIX } from '../../../core/load/mix.js';
import { judgeStep, nextRate } from '../../../core/load/ramp.js';
import { renderHtmlReport } from '../../../core/load/report-html.js';
import type { LoadReport } from '../../../core/load/run.js';

function result(outcome: PaymentOutcome, code = ''): PaymentResult {
  return {
    paymentId: 'T:1', outcome, refusals: code ? [{ code, message: code }] : [], accountId: code === 'NO_MATCH' ? '' : 'a', credentialId: 'c',
    amount: { amountMinor: 100n, currency: 'EUR' }, matchScore: 0.5, candidatesCompared: code === 'NO_MATCH' ? 150 : 3,
    timings: { identifyUs: 4000, authorizeUs: code === 'NO_MATCH' ? 0 : 2000, businessUs: 3000, settleUs: 1000, totalUs: 10_000 },
  };
}

function measuredPhase(): PhaseMetrics {
  const metrics = new PhaseMetrics(0, 2);
  let nowMs = 0;
  for (let index = 0; index < 100; index++) {
    nowMs = index * 20;
    metrics.recordSent('approved', nowMs);
    metrics.recordResult('approved', nowMs, nowMs + 1, result(PaymentOutcome.PAYMENT_OUTCOME_APPROVED), nowMs + 10 + (index % 10));
  }
  metrics.recordSent('unknown', nowMs);
  metrics.recordResult('unknown', nowMs, nowMs, result(PaymentOutcome.PAYMENT_OUTCOME_REFUSED, 'NO_MATCH'), nowMs + 5);
  metrics.recordSent('jammed', nowMs);
  metrics.recordResult('jammed', nowMs, nowMs, result(PaymentOutcome.PAYMENT_OUTCOME_VOIDED, 'BUSINESS_FAILED'), nowMs + 5);
  metrics.recordSent('approved', nowMs);
  metrics.recordResult('approved', nowMs, nowMs, result(PaymentOutcome.PAYMENT_OUTCOME_REFUSED, 'TIMEOUT'), nowMs + 2000);
  metrics.recordSent('restricted', nowMs);
  metrics.recordError('restricted', 'NO_RESULT', nowMs + 15_000, nowMs);
  metrics.advance(3000);
  return metrics;
}

describe('phase metrics', () => {
  it('counts outcomes, refusals, errors and categories, and keeps a per-second timeline', () => {
    const summary = measuredPhase().summary();
    expect(summary.outcomes).toEqual({ approved: 100, refused: 1, voided: 1, error: 2 });
    expect(summary.refusals).toEqual({ NO_MATCH: 1, BUSINESS_FAILED: 1 });
    expect(summary.errors).toEqual({ TIMEOUT: 1, NO_RESULT: 1 });
    expect(summary.approvedPerSecond).toBe(50);
    expect(summary.categories.approved).toMatchObject({ sent: 101, asExpected: 100 });
    expect(summary.categories.jammed.asExpected).toBe(1);
    expect(summary.p50Ms).toBeGreaterThanOrEqual(9);
    expect(summary.p50Ms).toBeLessThanOrEqual(20);
    expect(summary.latency.stages.identify.count).toBe(102);
    // 101 identifies named a payer after 3 comparisons, 1 found nobody after 150.
    expect(summary.identifyComparisons).toEqual({ perIdentify: 4.4, whenMatched: 3, whenNoMatch: 150 });
    expect(summary.latency.stages.authorize.count).toBe(101);
    expect(summary.timeline.slice(0, 3).map((point) => point.tS)).toEqual([1, 2, 3]);
    expect(summary.timeline).toHaveLength(16);
    expect(summary.timeline[0]!.approved).toBe(50);
  });
});

describe('ramp', () => {
  const options = { startRate: 100, p99MsMax: 100, stepsMax: 10, rateMax: 1000 };
  it('grows until a failure, then halves the gap down to 10%', () => {
    expect(nextRate(undefined, undefined, options)).toBe(150);
    expect(nextRate(150, undefined, options)).toBe(225);
    expect(nextRate(150, 225, options)).toBe(188);
    expect(nextRate(200, 210, options)).toBeUndefined();
    expect(nextRate(undefined, 100, options)).toBe(50);
    expect(nextRate(900, undefined, options)).toBeUndefined();
  });

  it('fails a step on errors or on p99', () => {
    const summary = measuredPhase().summary();
    const step = judgeStep({ rate: 50, measured: summary, warmup: { sent: 0, completed: 0, errorCount: 0 }, scheduler: { arrivals: 0, overflowed: 0, lagMsMax: 0, elapsedMs: 0 } }, 100);
    expect(step.passed).toBe(false);
    expect(step.reason).toMatch(/2 errors/);
  });
});

describe('HTML report', () => {
  it('is one self-contained page with inline SVG charts and escaped text', () => {
    const run = measuredPhase().summary();
    const report: LoadReport = {
      tool: 'biopay load', runId: 'r1', startedAt: '2026-01-01T00:00:00Z', finishedAt: '2026-01-01T00:01:00Z', target: 'embedded <test>',
      machine: { cpus: 2 }, config: { rate: 50 }, network: { commitIntervalMs: 10, matcherKernel: 'native-avx512' }, workload: 'test & workload', setup: { customers: 1 }, mix: DEFAULT_MIX,
      approvedPerSecond: run.approvedPerSecond, p50Ms: run.p50Ms, p90Ms: run.p90Ms, p99Ms: run.p99Ms, p999Ms: run.p999Ms,
      outcomes: run.outcomes, errorCount: run.errorCount, rate: 50, run, warmup: { sent: 0, completed: 0, errorCount: 0 },
      scheduler: { arrivals: 104, overflowed: 0, lagMsMax: 1, elapsedMs: 2000 }, lateResults: 0,
      costsPerPayment: {
        payments: 100, load: { outMsgs: 2, inMsgs: 1, outBytes: 900, inBytes: 200 }, processCpuMsPerPayment: 1, mainThreadUtilization: 0.5,
        machineCpuMsPerPayment: 2.5,
        cpuMsPerPaymentByComponent: { mainThread: 0.6, matcherThreads: 0.3, otherThreads: 0.1, biopayNodes: 0, natsServer: 0.7, postgres: 0.4, restOfMachine: 0.4 },
        cpuMsPerPaymentByNodeProcess: { 'biopay-assoc': 1.2 },
        voluntarySwitchesPerPaymentByComponent: { mainThread: 3.4, matcherThreads: 1.2, otherThreads: 0, biopayNodes: 0, natsServer: 9.7, postgres: 4.7 },
        involuntarySwitchesPerPaymentByComponent: { mainThread: 2.6, matcherThreads: 4.4, otherThreads: 0, biopayNodes: 0, natsServer: 1.6, postgres: 0.4 },
      },
      ramp: { p99MsMax: 100, bestRate: 50, steps: [{ rate: 50, passed: true, reason: 'ok', p50Ms: 1, p99Ms: 2, errorCount: 0, approvedPerSecond: 40, completedPerSecond: 50 }] },
      ledgerCheck: {
        passed: false, approvedChecked: 100, capturedOnce: 99, voidedChecked: 1, unresolvedChecked: 1, accountsChecked: 3, businessStepsChecked: 101, openHolds: 0,
        ledgerProblems: [], totals: [], problems: ['T:7 was approved but <captured twice>'], problemCount: 1, durationMs: 5,
      },
      passed: false,
    };
    const html = renderHtmlReport(report);
    expect(html.startsWith('<!doctype html>')).toBe(true);
    // Latency, throughput and the event loop over time, the ramp's steps, CPU by where it ran.
    expect(html.match(/<svg /g)?.length).toBe(5);
    expect(html).toContain('<polyline');
    // The over-time charts stop at the measurement's end: the timeline's partial tail second
    // (late completions) is in the totals, not drawn as a fall in throughput.
    expect(run.timeline.length).toBeGreaterThan(run.durationS);
    const overTime = [...html.matchAll(/<polyline [^>]*points="([^"]*)"/g)].slice(0, 8);
    for (const [, points] of overTime) expect(points!.split(' ')).toHaveLength(run.durationS);
    expect(html).toContain('LEDGER CHECK FAILED');
    expect(html).toContain('embedded &lt;test&gt;');
    expect(html).toContain('&lt;captured twice&gt;');
    expect(html).toContain('<td>whole machine</td><td>2.5</td>');
    // The embedded network's settings, with the settings of the run.
    expect(html).toContain('<td>matcherKernel</td><td>native-avx512</td>');
    expect(html).toContain('<th>when nobody was found (NO_MATCH)</th></tr>\n<tr><td>4.4</td><td>3</td><td>150</td>');
    expect(html.indexOf('of it, nats-server')).toBeLessThan(html.indexOf('of it, main thread'));
    expect(html).toContain('<td>of the node processes, biopay-assoc</td><td>1.2</td>');
    expect(html).toContain('aria-label="CPU per payment by where it ran"');
    expect(html).toMatch(/>nats-server<\/text>\n<rect [^>]*width="[\d.]+"/);
    // Context switches: most first, parts that never switched left out.
    expect(html).toContain('<th>woken per payment</th>');
    expect(html).toContain('<td>nats-server</td><td>9.7</td><td>1.6</td>');
    expect(html.indexOf('<td>matcher threads</td><td>1.2</td>')).toBeGreaterThan(html.indexOf('<td>main thread</td><td>3.4</td>'));
    expect(html).not.toContain('<td>other threads of this process</td><td>0</td>');
    // The embedded network's event loop is the nodes' main thread: named so, with its summary.
    expect(html).toContain('Event loop of this process per second (every node role runs on it)');
    expect(html).toContain('second(s) with a delay of 100 ms or more');
    expect(renderHtmlReport({ ...report, network: undefined })).toContain('load tool&#39;s own event loop per second');
    expect(html).not.toMatch(/<script|https?:\/\/(?!www\.w3\.org)/);
  });
});
