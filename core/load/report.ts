/** Writes a load report as JSON and as self-contained HTML, side by side. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderHtmlReport } from './report-html.js';
import type { LoadReport } from './run.js';

/** JSON with bigint as decimal strings. */
export function reportJson(report: LoadReport): string {
  return JSON.stringify(report, (_key, value) => (typeof value === 'bigint' ? value.toString() : value), 2);
}

export function writeReports(report: LoadReport, directory: string): { json: string; html: string } {
  mkdirSync(directory, { recursive: true });
  const stem = join(directory, `load-${report.startedAt.replace(/[:.]/g, '-')}-${report.runId}`);
  const files = { json: `${stem}.json`, html: `${stem}.html` };
  writeFileSync(files.json, `${reportJson(report)}\n`);
  writeFileSync(files.html, renderHtmlReport(report));
  return files;
}
