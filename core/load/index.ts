/** The load tool: open-loop payments against a running network, measured and checked. */
export { LatencyHistogram, type LatencySummary } from './histogram.js';
export { runOpenLoop, interArrivalMs, realClock, type Arrival, type ArrivalProcess, type Clock, type OpenLoopOptions, type OpenLoopResult } from './scheduler.js';
export { CATEGORIES, DEFAULT_MIX, parseMix, type Category, type Mix } from './mix.js';
export { planPopulation, type PopulationPlan, type PopulationSpec } from './population.js';
export { DEFAULT_ENROLL_IMPRESSIONS, setupPopulation, type Population } from './setup.js';
export { LOOP_STALL_MS, PhaseMetrics, type EventLoopSummary, type LoopSampler, type PhaseSummary, type TimelinePoint } from './metrics.js';
export { EventLoopProbe, LOOP_PROBE_PERIOD_MS, type LoopSample } from './loop-probe.js';
export { checkLedger, type LedgerCheckReport } from './ledger-check.js';
export { judgeStep, nextRate, type RampResult, type RampStep } from './ramp.js';
export { describeCpuByComponent, describeNodeProcessCpu, describeSwitchesByComponent, type CpuByComponent } from './cpu-breakdown.js';
export { runLoad, type LoadOptions, type LoadReport, type LoadTarget } from './run.js';
export { renderHtmlReport } from './report-html.js';
export { reportJson, writeReports } from './report.js';
