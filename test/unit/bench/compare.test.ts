import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compareReports, numericLeaves, preferredDirection, renderComparison } from '../../../bench/compare.js';

const base = {
  startedAt: '2026-12-04T10:00:00Z',
  machine: { cpuModel: 'AMD EPYC', cpus: 2, node: 'v20.20.2' },
  runs: 5,
  suites: {
    ledger: { 'postgres.groupCommitPairsPerSecond': 10_000, 'postgres.groupCommitRuns': [9_000, 10_000, 11_000] },
    match: { usPerComparison: 7.3, comparisons: 25_600, kernel: 'native' },
    e2e: { p99Ms: 40, approved: 100, errorCount: 0, onlyBefore: 1 },
  },
};
const next = {
  ...base,
  startedAt: '2026-12-04T11:00:00Z',
  runs: 3,
  suites: {
    ledger: { 'postgres.groupCommitPairsPerSecond': 9_000, 'postgres.groupCommitRuns': [9_000] },
    match: { usPerComparison: 7.0, comparisons: 25_600, kernel: 'native' },
    e2e: { p99Ms: 30, approved: 120, errorCount: '0', onlyAfter: 2 },
  },
};

describe('bench compare', () => {
  it('reads which way is better from the metric name, and nothing from names that do not say', () => {
    expect(['approvedPerSecond', 'groupCommitPairsPerCpuSecond', 'speedup', 'rank1', 'tpir'].map(preferredDirection)).toEqual(Array(5).fill('higher'));
    expect(['p99Ms', 'cpuMsPerSearch', 'usPerComparison', 'indexBytesPerTemplate', 'outMsgs', 'fpir', 'machineCpuMsPerPayment', 'errorCount']
      .map(preferredDirection)).toEqual(Array(8).fill('lower'));
    expect(['items', 'approved', 'comparisons', 'mainThreadUtilization', 'kernel'].map(preferredDirection)).toEqual(Array(5).fill(undefined));
    expect(['costsPerPayment.cpuMsPerPaymentByComponent.mainThread', 'run.errors.TIMEOUT', 'run.approvedPerSecond',
      'costsPerPayment.voluntarySwitchesPerPaymentByComponent.natsServer'].map(preferredDirection))
      .toEqual(['lower', 'lower', 'higher', 'lower']);
    expect(['run.outcomes.approved', 'run.refusals.LIMIT_COUNT', 'match.selectionAcceptPercent.keptOfThree'].map(preferredDirection)).toEqual(Array(3).fill(undefined));
  });

  it('compares the numbers both reports hold, by path, past a noise band; arrays, strings and the run context are left out', () => {
    const comparison = compareReports(base, next, 0.05);
    const byPath = Object.fromEntries(comparison.metrics.map((metric) => [metric.path, metric]));
    expect(Object.keys(byPath).sort()).toEqual([
      'suites.e2e.approved', 'suites.e2e.errorCount', 'suites.e2e.p99Ms', 'suites.ledger.postgres.groupCommitPairsPerSecond',
      'suites.match.comparisons', 'suites.match.usPerComparison',
    ]);
    expect(byPath['suites.ledger.postgres.groupCommitPairsPerSecond']).toMatchObject({ base: 10_000, next: 9_000, ratio: 0.9, better: 'higher', verdict: 'worse' });
    expect(byPath['suites.e2e.p99Ms']).toMatchObject({ ratio: 0.75, verdict: 'better' });
    expect(byPath['suites.match.usPerComparison']!.verdict).toBe('within noise');
    expect(byPath['suites.e2e.approved']).toMatchObject({ better: undefined, verdict: 'changed' });
    // A bigint written as a decimal string is a number; 0 -> 0 has no ratio.
    expect(byPath['suites.e2e.errorCount']).toMatchObject({ base: 0, next: 0, ratio: undefined, verdict: 'within noise' });
    expect(comparison.onlyInBase).toEqual(['suites.e2e.onlyBefore']);
    expect(comparison.onlyInNext).toEqual(['suites.e2e.onlyAfter']);
    expect(comparison.machineWarning).toBeUndefined();
    expect(comparison.settingDifferences).toEqual(['runs: 5 / 3']);
  });

  it('names the settings two load runs differ in: they are then different experiments', () => {
    const run = (rate: number) => ({ config: { rate, arrival: 'poisson', hint: true }, workload: { enrolled: 2_000 }, approvedPerSecond: rate * 0.6 });
    const comparison = compareReports(run(300), run(350));
    expect(comparison.settingDifferences).toEqual(['config.rate: 300 / 350']);
    expect(comparison.metrics.map((metric) => metric.path)).toEqual(['approvedPerSecond']);
    expect(renderComparison(comparison, 'a', 'b')).toContain('warning: the runs were set up differently (base / next):\n  config.rate: 300 / 350');
  });

  it("names a difference in the embedded network's settings, such as the ledger's commit cadence", () => {
    const run = (commitIntervalMs: number) => ({
      config: { rate: 800 }, network: { ledgerDatabase: 'postgresql', commitIntervalMs }, approvedPerSecond: 570,
    });
    const comparison = compareReports(run(0), run(10));
    expect(comparison.settingDifferences).toEqual(['network.commitIntervalMs: 0 / 10']);
    expect(comparison.metrics.map((metric) => metric.path)).toEqual(['approvedPerSecond']);
  });

  it('warns when the reports come from different machines, and renders worse and better first', () => {
    const elsewhere = { ...next, machine: { cpuModel: 'Intel Xeon', cpus: 2, node: 'v20.20.2' } };
    const comparison = compareReports(base, elsewhere);
    expect(comparison.machineWarning).toMatch(/different machines/);
    const lines = renderComparison(comparison, 'base.json', 'next.json').split('\n');
    expect(lines).toContain('warning: different machines (AMD EPYC x 2, node v20.20.2 / Intel Xeon x 2, node v20.20.2): compare runs on one machine only');
    const firstRow = lines.findIndex((line) => line.startsWith('metric')) + 1;
    expect(lines[firstRow]).toMatch(/^suites\.ledger\.postgres\.groupCommitPairsPerSecond .* worse \(higher is better\)$/);
    expect(lines[firstRow + 1]).toMatch(/^suites\.e2e\.p99Ms .* better \(lower is better\)$/);
    expect(lines).toContain('6 metrics: 1 worse, 1 better, 1 changed, 3 within noise');
  });

  it('bounds what it reads: deep or huge reports stop at the limits instead of running away', () => {
    let deep: Record<string, unknown> = { value: 1 };
    for (let level = 0; level < 100; level++) deep = { inner: deep };
    expect(numericLeaves(deep).size).toBe(0);
    const huge = Object.fromEntries(Array.from({ length: 20_000 }, (_, index) => [`m${index}`, index]));
    expect(numericLeaves(huge).size).toBe(5_000);
    expect(() => compareReports(base, next, 1)).toThrow(RangeError);
  });

  describe('npm run bench -- compare', () => {
    const dir = mkdtempSync(join(tmpdir(), 'biopay-compare-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    // The compiled command (test/global-setup.ts builds dist/ before the suite).
    const run = (...args: string[]) => spawnSync(process.execPath, ['dist/bench/main.js', 'compare', ...args], { encoding: 'utf8', timeout: 60_000 });

    it('prints the comparison (JSON with --json) and exits 0; a report it cannot read exits 2', () => {
      writeFileSync(join(dir, 'base.json'), JSON.stringify(base));
      writeFileSync(join(dir, 'next.json'), JSON.stringify(next));
      const table = run(join(dir, 'base.json'), join(dir, 'next.json'));
      expect(table.status).toBe(0);
      expect(table.stdout).toContain('6 metrics: 1 worse, 1 better, 1 changed, 3 within noise');
      const json = run(join(dir, 'base.json'), join(dir, 'next.json'), '--json', '--noise', '0.2');
      expect(json.status).toBe(0);
      expect(JSON.parse(json.stdout)).toMatchObject({ noiseShare: 0.2, onlyInNext: ['suites.e2e.onlyAfter'] });
      writeFileSync(join(dir, 'broken.json'), '{ not json');
      const broken = run(join(dir, 'base.json'), join(dir, 'broken.json'));
      expect(broken.status).toBe(2);
      expect(broken.stderr).toContain('cannot read report');
      expect(run().status).toBe(2);
      expect(run(join(dir, 'base.json'), join(dir, 'next.json'), '--noise', '2').status).toBe(2);
    });
  });
});
