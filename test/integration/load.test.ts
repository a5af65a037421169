/**
 * `biopay load` end to end on the embedded network: a small population, a few seconds at a low
 * rate, every workload category showing up with its expected ending, and the ledger check passing.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadCommand } from '../../cli/load.js';

const reportDir = mkdtempSync(join(tmpdir(), 'biopay-load-test-'));

afterAll(() => rmSync(reportDir, { recursive: true, force: true }));

describe('biopay load on the embedded network', () => {
  it('drives the mix, reports it, and the ledger check passes', async () => {
    const stdout: string[] = [];
    const stderr: string[] = [];
    const code = await loadCommand([
      '--rate', '12', '--duration', '6', '--warmup', '1', '--arrival', 'constant',
      '--enrolled', '60', '--accounts', '20', '--terminals', '4', '--seed', '42',
      '--mix', 'approved=40,restricted=15,insufficient=15,unknown=15,jammed=15',
      '--settle-wait', '15', '--report-dir', reportDir, '--json',
    ], { stdout: (text) => stdout.push(text), stderr: (text) => stderr.push(text) });
    const report = JSON.parse(stdout.join(''));
    expect(report.ledgerCheck.problems).toEqual([]);
    expect(code).toBe(0);
    expect(report.passed).toBe(true);
    expect(report.run.sent).toBeGreaterThanOrEqual(60);
    expect(report.errorCount).toBe(0);
    expect(report.outcomes.approved).toBeGreaterThan(0);
    expect(report.approvedPerSecond).toBeGreaterThan(0);
    expect(report.p99Ms).toBeGreaterThanOrEqual(report.p50Ms);
    expect(report.p999Ms).toBeGreaterThanOrEqual(report.p99Ms);
    // Each category ends as designed at least once: biometric misses may move a few elsewhere.
    for (const category of ['approved', 'restricted', 'insufficient', 'unknown', 'jammed']) {
      expect(report.run.categories[category].asExpected, category).toBeGreaterThan(0);
    }
    expect(report.run.refusals).toMatchObject({ MAX_PER_PAYMENT: expect.any(Number), INSUFFICIENT_FUNDS: expect.any(Number), NO_MATCH: expect.any(Number) });
    expect(report.outcomes.voided).toBeGreaterThan(0);
    expect(report.ledgerCheck.capturedOnce).toBe(report.ledgerCheck.approvedChecked);
    expect(report.ledgerCheck.openHolds).toBe(0);
    expect(report.run.latency.stages.identify.count).toBeGreaterThan(0);
    expect(report.run.timeline.length).toBeGreaterThanOrEqual(6);
    expect(stderr.some((line) => line.includes('[measure'))).toBe(true);
    const html = join(reportDir, `load-${report.startedAt.replace(/[:.]/g, '-')}-${report.runId}.html`);
    expect(existsSync(html)).toBe(true);
    expect(readFileSync(html, 'utf8')).toContain('<svg');
  });
});
