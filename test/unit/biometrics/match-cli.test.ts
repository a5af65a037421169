import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { matchCommand } from '../../../cli/match.js';
import { fixturesDir } from './fvc-fixtures.js';

const db4 = join(fixturesDir, 'fvc2002', 'DB4_B');
const scratch = mkdtempSync(join(tmpdir(), 'biopay-match-cli-'));

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await matchCommand(argv, { stdout: (text) => (out += `${text}\n`), stderr: (text) => (err += `${text}\n`) });
  return { code, out, err };
}

describe('biopay match', () => {
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it('prints usage', async () => {
    expect((await run(['--help'])).out).toMatch(/eval-fvc/);
    expect((await run(['eval-fvc', '--help'])).code).toBe(0);
    expect((await run(['nonsense'])).code).toBe(2);
  });

  it('evaluates an FVC folder and draws the DET curve', async () => {
    const det = join(scratch, 'det.svg');
    const { code, out } = await run(['eval-fvc', db4, '--det', det, '--json']);
    expect(code).toBe(0);
    const summary = JSON.parse(out);
    expect(summary.databases).toHaveLength(1);
    expect(summary.databases[0].allImpostors.genuine).toBe(280);
    expect(summary.databases[0].allImpostors.impostor).toBe(2880);
    expect(summary.databases[0].fvcProtocol.impostor).toBe(45);
    expect(summary.meanEerAllImpostors).toBeLessThan(0.05);
    expect(readFileSync(det, 'utf8')).toMatch(/^<svg[\s\S]*polyline[\s\S]*<\/svg>/);
  });

  it('writes every score as CSV', async () => {
    const csv = join(scratch, 'scores.csv');
    expect((await run(['scores', '--gallery', db4, '--probes', db4, '--out', csv])).code).toBe(0);
    const lines = readFileSync(csv, 'utf8').trim().split('\n');
    expect(lines[0]).toBe('probe,gallery,score');
    expect(lines).toHaveLength(1 + 80 * 80);
  });

  it('identifies probes against a gallery', async () => {
    const { code, out } = await run(['identify', '--gallery', db4, '--probes', db4, '--top', '2', '--workers', '0', '--json']);
    expect(code).toBe(0);
    const result = JSON.parse(out);
    expect(result.results).toHaveLength(80);
    expect(result.results.every((entry: { probe: string; candidates: { id: string }[]; match: boolean }) => entry.candidates[0]!.id === entry.probe && entry.match)).toBe(true);
  });

  it('calibrates thresholds from impostor scores', async () => {
    const out = join(scratch, 'calibration-data.ts');
    const { code, out: printed } = await run(['calibrate', db4, '--out', out, '--json']);
    expect(code).toBe(0);
    const calibration = JSON.parse(printed);
    expect(calibration.impostorPairs).toBe(2880);
    expect(calibration.points.map((point: { fmr: number }) => point.fmr)).toEqual([1e-3, 1e-4, 1e-5]);
    expect(readFileSync(out, 'utf8')).toMatch(/export const calibration: Calibration/);
  });
});
