/**
 * Two JSON reports side by side, number by number: `npm run bench -- compare BASE.json [NEXT.json]`.
 * Works on any report of ours (a bench report, or a `biopay load` JSON report): every numeric leaf
 * found in both, by its path, with the ratio next / base and, where the metric's name says which
 * way is better (`...PerSecond` higher, `...Ms` lower, ...), whether it moved past the noise band.
 * Arrays (per-run samples, timelines) are skipped: their medians are reported beside them.
 */

import { leaves, leafText } from './report-leaves.js';

export type Direction = 'higher' | 'lower';
export type Verdict = 'better' | 'worse' | 'within noise' | 'changed';

export interface ComparedMetric {
  readonly path: string;
  readonly base: number;
  readonly next: number;
  /** next / base; undefined when base is 0. */
  readonly ratio: number | undefined;
  readonly better: Direction | undefined;
  readonly verdict: Verdict;
}

export interface Comparison {
  /** A change smaller than this share of the base counts as noise (the machines are noisy). */
  readonly noiseShare: number;
  readonly metrics: readonly ComparedMetric[];
  readonly onlyInBase: readonly string[];
  readonly onlyInNext: readonly string[];
  /** Set when the two reports name different machines: compare runs on one machine only. */
  readonly machineWarning: string | undefined;
  /** The run's settings (a load report's config, embedded network and workload) that differ: `path: base / next`. */
  readonly settingDifferences: readonly string[];
}

export const DEFAULT_NOISE_SHARE = 0.05;
/** Paths that describe the run rather than measure it. */
const CONTEXT_PATH = /^(machine|startedAt|finishedAt|runs|runId|config|network|workload|target)(\.|$)/;
/** Of those, the settings that make two runs different experiments when they differ. */
const SETTING_PATH = /^(config|network|workload|runs)(\.|$)/;
/** Setting differences listed at most. */
const SETTING_DIFFERENCES_MAX = 20;

/** Rates and identification rates: `approvedPerSecond`, `groupCommitPairsPerCpuSecond`, `rank1`, `tpir`. */
const HIGHER_IS_BETTER = /(PerSecond|PerCpuSecond|^speedup|Speedup|^rank1|^tpir|^throughput|Throughput)$/;
/**
 * A time, size, error, message or context switch count, whole or per something: `p99Ms`, `cpuMsPerSearch`,
 * `usPerComparison`, `indexBytesPerTemplate`, `outMsgs`, `fpir`, `voluntarySwitchesPerPaymentByComponent`. The unit starts the name or a new
 * camelCase word, so `items` is not milliseconds.
 */
const LOWER_IS_BETTER = /(^(ms|us|ns|bytes|fpir|errors?|msgs|errorCount|switches)|[a-z0-9](Ms|Us|Ns|Bytes|Fpir|Errors?|Msgs|ErrorCount|Switches))(Per[A-Z][A-Za-z]*)?$/;

/**
 * Which way is better for a metric, from its last path segment, else from the one before it (the
 * parts of a cost are costs: `cpuMsPerPaymentByComponent.mainThread`, `errors.TIMEOUT`); undefined
 * when neither says.
 */
export function preferredDirection(path: string): Direction | undefined {
  const segments = path.split('.');
  return directionOfName(segments[segments.length - 1]!) ?? (segments.length > 1 ? directionOfName(segments[segments.length - 2]!) : undefined);
}

function directionOfName(name: string): Direction | undefined {
  if (HIGHER_IS_BETTER.test(name)) return 'higher';
  if (LOWER_IS_BETTER.test(name)) return 'lower';
  return undefined;
}

/** Every finite number of a report by its dotted path (arrays skipped; bigints written as decimal strings count). */
export function numericLeaves(report: unknown): Map<string, number> {
  const numbers = new Map<string, number>();
  for (const [path, leaf] of leaves(report)) {
    if (typeof leaf === 'number' && Number.isFinite(leaf)) numbers.set(path, leaf);
    else if (typeof leaf === 'string' && /^-?\d{1,17}$/.test(leaf)) numbers.set(path, Number(leaf));
  }
  return numbers;
}

export function compareReports(base: unknown, next: unknown, noiseShare = DEFAULT_NOISE_SHARE): Comparison {
  if (!(noiseShare >= 0 && noiseShare < 1)) throw new RangeError('noise share must be in [0, 1)');
  const before = numericLeaves(base);
  const after = numericLeaves(next);
  const metrics: ComparedMetric[] = [];
  for (const [path, baseValue] of before) {
    const nextValue = after.get(path);
    if (nextValue === undefined || CONTEXT_PATH.test(path)) continue;
    const ratio = baseValue === 0 ? undefined : nextValue / baseValue;
    const better = preferredDirection(path);
    metrics.push({ path, base: baseValue, next: nextValue, ratio, better, verdict: verdictOf(baseValue, nextValue, better, noiseShare) });
  }
  return {
    noiseShare,
    metrics,
    onlyInBase: [...before.keys()].filter((path) => !after.has(path) && !CONTEXT_PATH.test(path)),
    onlyInNext: [...after.keys()].filter((path) => !before.has(path) && !CONTEXT_PATH.test(path)),
    machineWarning: machineWarning(base, next),
    settingDifferences: settingDifferences(base, next),
  };
}

function settingDifferences(base: unknown, next: unknown): string[] {
  const settings = (report: unknown) => new Map(leaves(report)
    .filter(([path]) => SETTING_PATH.test(path))
    .map(([path, leaf]) => [path, leafText(leaf)]));
  const [before, after] = [settings(base), settings(next)];
  const paths = [...new Set([...before.keys(), ...after.keys()])].sort();
  return paths
    .filter((path) => before.get(path) !== after.get(path))
    .slice(0, SETTING_DIFFERENCES_MAX)
    .map((path) => `${path}: ${before.get(path) ?? '(none)'} / ${after.get(path) ?? '(none)'}`);
}

function verdictOf(base: number, next: number, better: Direction | undefined, noiseShare: number): Verdict {
  const change = next - base;
  if (Math.abs(change) <= noiseShare * Math.abs(base)) return 'within noise';
  if (better === undefined) return 'changed';
  return (change > 0) === (better === 'higher') ? 'better' : 'worse';
}

function machineWarning(base: unknown, next: unknown): string | undefined {
  const describe = (report: unknown) => {
    const machine = (report as { machine?: unknown } | null)?.machine;
    if (machine === undefined || machine === null) return undefined;
    if (typeof machine === 'string') return machine;
    const { cpuModel, cpus, node } = machine as { cpuModel?: unknown; cpus?: unknown; node?: unknown };
    return `${String(cpuModel)} x ${String(cpus)}, node ${String(node)}`;
  };
  const [a, b] = [describe(base), describe(next)];
  return a !== undefined && b !== undefined && a !== b ? `different machines (${a} / ${b}): compare runs on one machine only` : undefined;
}

/** The comparison as a table a person reads: changed metrics first, then the rest. */
export function renderComparison(comparison: Comparison, baseName: string, nextName: string): string {
  const order: Record<Verdict, number> = { worse: 0, better: 1, changed: 2, 'within noise': 3 };
  const rows = [...comparison.metrics].sort((a, b) => order[a.verdict] - order[b.verdict] || a.path.localeCompare(b.path));
  const width = Math.max(6, ...rows.map((row) => row.path.length));
  const number = (value: number) => (Number.isInteger(value) ? String(value) : value.toPrecision(4));
  const lines = [
    `base: ${baseName}`,
    `next: ${nextName}`,
    ...(comparison.machineWarning ? [`warning: ${comparison.machineWarning}`] : []),
    ...(comparison.settingDifferences.length > 0
      ? ['warning: the runs were set up differently (base / next):', ...comparison.settingDifferences.map((line) => `  ${line}`)]
      : []),
    `noise band: ±${(comparison.noiseShare * 100).toFixed(0)}%`,
    '',
    `${'metric'.padEnd(width)}  ${'base'.padStart(12)}  ${'next'.padStart(12)}  ${'next/base'.padStart(9)}  verdict`,
    ...rows.map((row) => `${row.path.padEnd(width)}  ${number(row.base).padStart(12)}  ${number(row.next).padStart(12)}  ${(row.ratio === undefined ? '-' : row.ratio.toFixed(3)).padStart(9)}  ${row.verdict}${row.better ? ` (${row.better} is better)` : ''}`),
  ];
  const counts = (['worse', 'better', 'changed', 'within noise'] as const).map((verdict) => `${rows.filter((row) => row.verdict === verdict).length} ${verdict}`);
  lines.push('', `${rows.length} metrics: ${counts.join(', ')}`);
  if (comparison.onlyInBase.length > 0) lines.push(`only in base: ${comparison.onlyInBase.length} (${comparison.onlyInBase.slice(0, 5).join(', ')}${comparison.onlyInBase.length > 5 ? ', ...' : ''})`);
  if (comparison.onlyInNext.length > 0) lines.push(`only in next: ${comparison.onlyInNext.length} (${comparison.onlyInNext.slice(0, 5).join(', ')}${comparison.onlyInNext.length > 5 ? ', ...' : ''})`);
  return lines.join('\n');
}
