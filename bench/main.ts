/**
 * `npm run bench [-- <suite...>] [--runs N] [--json] [--enrolled N]`: runs the benchmark suites
 * (match, index, ledger, actors, e2e; identify and community when named: they take minutes), prints a table per suite
 * and writes one JSON report to bench-results/, so numbers can be compared from one change to the
 * next. Each suite states its workload and takes the median of several runs: the machines are noisy.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { arch, cpus, loadavg, platform, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runActorBench } from './actors.js';
import { compareReports, DEFAULT_NOISE_SHARE, renderComparison } from './compare.js';
import { runCommunityBench } from './community.js';
import { runE2eBench } from './e2e.js';
import { runEmbeddingBench } from './embeddings.js';
import { runIdentifyBench, runSyntheticCalibration } from './identify.js';
import { runIndexBench } from './index-search.js';
import { runLedgerBench } from './ledger.js';
import { leaves, leafText } from './report-leaves.js';
import { runMatchBench } from './match.js';

/** Options every suite receives; `enrolled` sets the gallery of identify and embeddings, `exhaustive` only matters to identify. */
interface SuiteOptions {
  json: boolean;
  runs: number;
  enrolled?: number;
  exhaustive?: boolean;
}

type Suite = (options: SuiteOptions) => Promise<Record<string, unknown>>;

const SUITES: Record<string, Suite> = {
  match: runMatchBench,
  index: runIndexBench,
  ledger: runLedgerBench,
  actors: runActorBench,
  e2e: runE2eBench,
  embeddings: runEmbeddingBench,
  identify: (options) => runIdentifyBench({ ...options, compareExhaustive: options.exhaustive === true }),
  community: runCommunityBench,
  'calibrate-1n': runSyntheticCalibration,
};

/** Suites run when none is named: identify and calibrate-1n take minutes, so only on request. */
const DEFAULT_SUITES = ['match', 'index', 'ledger', 'actors', 'e2e'];
const maxEnrolled = 2_000_000;

const HELP = `Usage: npm run bench -- [${Object.keys(SUITES).join('|')} ...] [--runs N] [--json] [--out DIR]
                       [--enrolled N] [--exhaustive]
       npm run bench -- compare BASE.json [NEXT.json] [--noise SHARE] [--json]

Runs the named benchmark suites (match, index, ledger, actors and e2e when none is named), prints their numbers and writes a JSON
report to DIR (default bench-results/). --json prints the report on stdout instead of tables.
index, identify, embeddings, community: --enrolled sets the synthetic gallery size (default 100000; index and
community 10000, community's in communities of 1000 searched with their hint, whole and through the index);
identify's --exhaustive also measures
rank-1 with every template compared (slow: about a second per probe at 100000).
calibrate-1n: regenerates core/biometrics/identification-calibration-data.ts (synthetic impostor
tail for 1:N thresholds; a few minutes), to run after any change to the matcher.
compare: every number of two JSON reports (bench reports, or \`biopay load\` JSON reports) side by
side with next/base and, where the name says which way is better (...PerSecond higher, ...Ms
lower), better or worse beyond the noise band (--noise, default ${DEFAULT_NOISE_SHARE}: 5%). NEXT
defaults to DIR/latest.json (the last bench run). Runs nothing; exit 2 when a report cannot be read.`;

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      runs: { type: 'string', default: '5' },
      json: { type: 'boolean', default: false },
      out: { type: 'string', default: 'bench-results' },
      help: { type: 'boolean', default: false },
      enrolled: { type: 'string' },
      exhaustive: { type: 'boolean', default: false },
      noise: { type: 'string' },
    },
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  if (positionals[0] === 'compare') return compare(positionals.slice(1), values);
  const names = positionals.length > 0 ? positionals : DEFAULT_SUITES;
  const unknown = names.filter((name) => !(name in SUITES));
  const runs = Number(values.runs);
  const enrolled = values.enrolled === undefined ? undefined : Number(values.enrolled);
  const badEnrolled = enrolled !== undefined && (!Number.isInteger(enrolled) || enrolled < 1 || enrolled > maxEnrolled);
  if (unknown.length > 0 || !Number.isInteger(runs) || runs < 1 || runs > 50 || badEnrolled) {
    process.stderr.write(`unknown suite(s) ${unknown.join(', ')}, bad --runs or bad --enrolled\n${HELP}\n`);
    return 2;
  }
  const report: Record<string, unknown> = {
    startedAt: new Date().toISOString(),
    machine: { platform: platform(), arch: arch(), cpus: cpus().length, cpuModel: cpus()[0]?.model, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version, loadAverage1m: loadavg()[0] },
    runs,
    suites: {},
  };
  for (const name of names) {
    process.stderr.write(`\n== bench ${name} (median of ${runs} runs)\n`);
    const result = await SUITES[name]!({ json: values.json, runs, exhaustive: values.exhaustive, ...(enrolled === undefined ? {} : { enrolled }) });
    (report.suites as Record<string, unknown>)[name] = result;
    if (!values.json) process.stdout.write(`${renderTable(name, result)}\n`);
  }
  mkdirSync(values.out, { recursive: true });
  const file = join(values.out, `bench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  const text = JSON.stringify(report, (_key, value) => (typeof value === 'bigint' ? value.toString() : value), 2);
  writeFileSync(file, text);
  writeFileSync(join(values.out, 'latest.json'), text);
  if (values.json) process.stdout.write(`${text}\n`);
  process.stderr.write(`\nreport written to ${file}\n`);
  return 0;
}

/** `compare BASE [NEXT]`: prints the comparison of two reports (JSON with --json). */
function compare(files: string[], values: { out: string; json: boolean; noise?: string }): number {
  const noiseShare = values.noise === undefined ? DEFAULT_NOISE_SHARE : Number(values.noise);
  if (files.length < 1 || files.length > 2 || !(noiseShare >= 0 && noiseShare < 1)) {
    process.stderr.write(`compare takes BASE.json and optionally NEXT.json, and --noise in [0, 1)\n${HELP}\n`);
    return 2;
  }
  const [baseFile, nextFile = join(values.out, 'latest.json')] = files as [string, string?];
  const reports = [baseFile, nextFile].map(readReport);
  if (reports.some((report) => report === undefined)) return 2;
  const comparison = compareReports(reports[0], reports[1], noiseShare);
  process.stdout.write(values.json ? `${JSON.stringify(comparison, null, 2)}\n` : `${renderComparison(comparison, baseFile, nextFile)}\n`);
  return 0;
}

function readReport(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    process.stderr.write(`cannot read report ${file}: ${(error as Error).message}\n`);
    return undefined;
  }
}

function renderTable(name: string, result: Record<string, unknown>): string {
  const rows = leaves(result);
  const width = Math.max(...rows.map(([key]) => key.length));
  return [`${name}:`, ...rows.map(([key, value]) => `  ${key.padEnd(width)}  ${leafText(value)}`)].join('\n');
}

main().then(
  (code) => { process.exitCode = code; },
  (error: unknown) => {
    process.stderr.write(`bench failed: ${String((error as Error)?.stack ?? error)}\n`);
    process.exitCode = 1;
  },
);
