/**
 * The self-contained HTML report of a load run: headline numbers, latency percentiles and
 * throughput over time as inline SVG, stage latencies, outcomes and errors by code, how each
 * workload category ended, the ramp's steps and the ledger check. No scripts, no external assets.
 */
import { cpuByComponentRows, switchesByComponentRows } from './cpu-breakdown.js';
import type { LatencySummary } from './histogram.js';
import { LOOP_STALL_MS, STAGES, type TimelinePoint } from './metrics.js';
import type { LoadReport } from './run.js';
import { describeNodes } from '../status/node-status.js';
import { barChart, escapeHtml, lineChart, type Series } from './svg-chart.js';

export function renderHtmlReport(report: LoadReport): string {
  const run = report.run;
  const verdict = report.passed
    ? '<p class="ok">Ledger check passed: every approved payment captured once, no hold left open, money conserved.</p>'
    : `<p class="fail">LEDGER CHECK FAILED: ${report.ledgerCheck.problemCount} problem(s). This run lost or made money.</p>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>biopay load report ${escapeHtml(report.runId)}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}.ok{color:#176117;font-weight:bold}
.fail{color:#b00;font-weight:bold;font-size:1.2em}code{background:#f6f6f6;padding:1px 4px}
</style></head><body>
<h1>biopay load report</h1>
<p>Run <code>${escapeHtml(report.runId)}</code> against ${escapeHtml(report.target)}, ${escapeHtml(report.startedAt)} to ${escapeHtml(report.finishedAt)}.</p>
<p>${escapeHtml(report.workload)}</p>
${report.nodes ? `<p>Network: ${escapeHtml(describeNodes(report.nodes))}.</p>` : ''}
${verdict}
<h2>Headline</h2>
${table(['rate offered', 'approved/s', 'completed/s', 'p50 ms', 'p90 ms', 'p99 ms', 'p99.9 ms', 'max ms', 'errors'],
    [[`${report.rate}/s`, run.approvedPerSecond, run.completedPerSecond, run.p50Ms, run.p90Ms, run.p99Ms, run.p999Ms, run.maxMs, run.errorCount]])}
<h2>Over time</h2>
${lineChart({
    title: 'End-to-end latency per second (from when each payment was due)', xLabel: 'seconds into the measurement', yLabel: 'ms',
    series: [over(run, 'p50', '#1f77b4', 'p50Ms'), over(run, 'p90', '#ff7f0e', 'p90Ms'), over(run, 'p99', '#d62728', 'p99Ms')],
  })}
${lineChart({
    title: 'Throughput per second', xLabel: 'seconds into the measurement', yLabel: 'payments/s',
    series: [
      over(run, 'sent', '#7f7f7f', 'sent'), over(run, 'completed', '#1f77b4', 'completed'),
      over(run, 'approved', '#2ca02c', 'approved'), over(run, 'errors', '#d62728', 'errors'),
    ],
  })}
${lineChart({
    title: report.network
      ? 'Event loop of this process per second (every node role runs on it): longest delay'
      : "The load tool's own event loop per second: longest delay (a stall here delays its sends and result stamps)",
    xLabel: 'seconds into the measurement', yLabel: 'ms',
    series: [over(run, 'longest delay', '#9467bd', 'loopDelayMaxMs')],
  })}
<p>Busy ${Math.round(run.eventLoop.utilizationMean * 100)}% of the time on average; longest delay ${run.eventLoop.delayMaxMs} ms (second
${run.eventLoop.delayMaxAtS}); ${run.eventLoop.stalledSeconds} second(s) with a delay of ${LOOP_STALL_MS} ms or more.</p>
${report.ramp ? rampSection(report) : ''}
${costsSection(report)}
<h2>Latency by stage</h2>
${table(['stage', 'count', 'mean ms', 'p50 ms', 'p90 ms', 'p99 ms', 'p99.9 ms', 'max ms'], [
    latencyRow('end to end (from due)', run.latency.endToEnd),
    latencyRow('from publish', run.latency.fromPublish),
    ...STAGES.map((stage) => latencyRow(stage === 'terminal' ? 'terminal total' : stage, run.latency.stages[stage])),
  ])}
${table(['templates compared in full per identify (mean)', 'when the payer was found', 'when nobody was found (NO_MATCH)'], [[
    run.identifyComparisons?.perIdentify ?? '', run.identifyComparisons?.whenMatched ?? '', run.identifyComparisons?.whenNoMatch ?? '']])}
<h2>Outcomes</h2>
${table(['approved', 'refused', 'voided', 'error'], [[run.outcomes.approved, run.outcomes.refused, run.outcomes.voided, run.outcomes.error]])}
${table(['refusal code', 'count'], entries(run.refusals))}
${table(['error code', 'count', 'first message'], entries(run.errors).map(([code, count]) => [code, count, run.errorSamples[code] ?? '']))}
${table(['error cause', 'count'], entries(run.errorCauses ?? {}))}
<h2>Workload categories</h2>
${table(['category', 'weight', 'sent', 'as expected', 'endings'], Object.entries(run.categories).map(([category, counts]) => [
    category, report.mix[category as keyof typeof report.mix], counts.sent, counts.asExpected,
    Object.entries(counts.endings).map(([ending, count]) => `${ending} ${count}`).join(', '),
  ]))}
<h2>Ledger check</h2>
${table(['check', 'value'], [
    ['approved payments checked', report.ledgerCheck.approvedChecked],
    ['captured exactly once', report.ledgerCheck.capturedOnce],
    ['voided payments checked', report.ledgerCheck.voidedChecked],
    ['payments without a result checked', report.ledgerCheck.unresolvedChecked],
    ['accounts reconciled', report.ledgerCheck.accountsChecked],
    ['captures reconciled with business records', report.ledgerCheck.businessStepsChecked],
    ['open holds after settlement', report.ledgerCheck.openHolds],
    ['ledger invariant problems', report.ledgerCheck.ledgerProblems.length],
    ['problems', report.ledgerCheck.problemCount],
  ])}
${report.ledgerCheck.problems.length ? `<ul>${report.ledgerCheck.problems.map((text) => `<li>${escapeHtml(text)}</li>`).join('')}</ul>` : ''}
<h2>Setup and configuration</h2>
${table(['setting', 'value'], [...Object.entries(report.setup), ...Object.entries(report.config), ...Object.entries(report.network ?? {}), ...Object.entries(report.machine)]
    .map(([key, value]) => [key, typeof value === 'object' ? JSON.stringify(value) : String(value)]))}
</body></html>
`;
}

function rampSection(report: LoadReport): string {
  const ramp = report.ramp!;
  const steps = [...ramp.steps].sort((a, b) => a.rate - b.rate);
  return `<h2>Ramp (target p99 &lt;= ${ramp.p99MsMax} ms, no errors)</h2>
<p>Highest passing rate: <b>${ramp.bestRate === undefined ? 'none' : `${ramp.bestRate}/s`}</b>. The charts above show that step.</p>
${lineChart({
    title: 'p99 and completed rate by offered rate', xLabel: 'offered payments/s', yLabel: 'ms, payments/s',
    series: [
      { name: 'p99 ms', color: '#d62728', points: steps.map((step) => [step.rate, step.p99Ms]) },
      { name: 'completed/s', color: '#1f77b4', points: steps.map((step) => [step.rate, step.completedPerSecond]) },
    ],
  })}
${table(['step', 'rate', 'passed', 'p50 ms', 'p99 ms', 'approved/s', 'completed/s', 'errors', 'machine CPU ms per payment', 'why'],
    ramp.steps.map((step, index) => [index + 1, step.rate, step.passed ? 'yes' : 'no', step.p50Ms, step.p99Ms, step.approvedPerSecond, step.completedPerSecond, step.errorCount,
      step.machineCpuMsPerPayment ?? '', step.reason]))}`;
}

/** What a payment cost: NATS messages and CPU, by where the CPU ran when /proc tells it. */
function costsSection(report: LoadReport): string {
  const costs = report.costsPerPayment;
  const byComponent = costs.cpuMsPerPaymentByComponent ? cpuByComponentRows(costs.cpuMsPerPaymentByComponent) : [];
  const byNodeProcess = Object.entries(costs.cpuMsPerPaymentByNodeProcess ?? {});
  const rows: Array<Array<string | number>> = [
    ['this process (all threads)', costs.processCpuMsPerPayment],
    ...(costs.machineCpuMsPerPayment === undefined ? [] : [['whole machine', costs.machineCpuMsPerPayment]]),
    ...byComponent.map(([label, ms]) => [`of it, ${label}`, ms]),
    ...byNodeProcess.map(([name, ms]) => [`of the node processes, ${name}`, ms]),
  ];
  const chart = byComponent.length === 0 ? '' : barChart({
    title: 'CPU per payment by where it ran', unit: 'ms',
    bars: [...byComponent, ...byNodeProcess].map(([label, ms]) => ({ label, value: ms })),
  });
  return `<h2>Costs per payment</h2>
<p>${costs.payments} payments; the main thread's event loop was busy ${Math.round(costs.mainThreadUtilization * 100)}% of the phase.
NATS messages per payment: load tool out ${costs.load.outMsgs}, in ${costs.load.inMsgs}${costs.nodes ? `; nodes out ${costs.nodes.outMsgs}, in ${costs.nodes.inMsgs}` : ''}.${costs.ledger
    ? ` Ledger: ${costs.ledger.transactionsPerPayment} transactions per payment, ${costs.ledger.operationsPerTransaction} requests per transaction (group commit).` : ''}${costs.identifiesBrownedOut
    ? ` Identifies browned out (fewer candidates while the matcher queue stood): ${costs.identifiesBrownedOut}.` : ''}</p>
${chart}
${table(['CPU', 'ms per payment'], rows)}
${switchesTable(costs)}`;
}

/** Context switches per payment where each part ran, most first: wake-ups (voluntary) and preemptions. */
function switchesTable(costs: LoadReport['costsPerPayment']): string {
  const voluntary = costs.voluntarySwitchesPerPaymentByComponent;
  const involuntary = costs.involuntarySwitchesPerPaymentByComponent;
  if (!voluntary || !involuntary) return '';
  const rows = switchesByComponentRows({ voluntary, involuntary });
  return `<p>Context switches per payment: a thread that waited (for a socket, a lock, a timer) is woken
again (voluntary); one that had to give up its core was preempted (involuntary). Each costs kernel time
that the CPU above spreads over every part.</p>
${table(['where', 'woken per payment', 'preempted per payment'], rows)}`;
}

/**
 * One timeline field as a chart series over the measured seconds. The timeline's last interval may
 * be the partial one after the measurement (late completions): a rate over a fraction of a second
 * would draw a fall that did not happen, so the charts stop at the measurement's end (the totals
 * count those completions).
 */
function over(run: LoadReport['run'], name: string, color: string, field: Exclude<keyof TimelinePoint, 'tS'>): Series {
  return { name, color, points: run.timeline.filter((point) => point.tS <= run.durationS).map((point) => [point.tS, point[field]]) };
}

function latencyRow(name: string, summary: LatencySummary): Array<string | number> {
  return [name, summary.count, summary.meanMs, summary.p50Ms, summary.p90Ms, summary.p99Ms, summary.p999Ms, summary.maxMs];
}

function entries(counts: Record<string, number>): Array<Array<string | number>> {
  const rows = Object.entries(counts).sort((a, b) => b[1] - a[1]);
  return rows.length ? rows : [['(none)', 0]];
}

function table(headers: readonly string[], rows: ReadonlyArray<ReadonlyArray<string | number | undefined>>): string {
  const head = `<tr>${headers.map((header) => `<th>${escapeHtml(header)}</th>`).join('')}</tr>`;
  const body = rows.map((row) => `<tr>${row.map((cell) => `<td>${escapeHtml(String(cell ?? ''))}</td>`).join('')}</tr>`).join('\n');
  return `<table>${head}\n${body}</table>`;
}
