import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { synthCommand } from '../../../cli/synth.js';
import { parseIsoRecord, writeIsoRecord } from '../../../core/biometrics/iso.js';
import { generatePopulation } from '../../../core/biometrics/synthetic/index.js';

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { stdout: (s: string) => void out.push(s), stderr: (s: string) => void err.push(s) }, out, err };
}

const folders: string[] = [];
function tempFolder(): string {
  const dir = mkdtempSync(join(tmpdir(), 'biopay-synth-'));
  folders.push(dir);
  return dir;
}

afterEach(() => {
  for (const dir of folders.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('biopay synth', () => {
  it('writes FVC-named ISO records, byte for byte the population of the seed', async () => {
    const out = join(tempFolder(), 'db');
    const { io, out: stdout } = capture();
    expect(await synthCommand(['--fingers', '3', '--impressions', '2', '--seed', '42', '--out', out, '--json'], io)).toBe(0);
    expect(readdirSync(out).sort()).toEqual(['1_1.iso', '1_2.iso', '2_1.iso', '2_2.iso', '3_1.iso', '3_2.iso']);
    for (const { fingerId, impression, record } of generatePopulation({ fingers: 3, impressionsPerFinger: 2, seed: 42 })) {
      const bytes = new Uint8Array(readFileSync(join(out, `${fingerId}_${impression}.iso`)));
      expect(bytes).toEqual(writeIsoRecord(record));
      expect(parseIsoRecord(bytes).views[0]!.minutiae.length).toBe(record.views[0]!.minutiae.length);
    }
    const summary = JSON.parse(stdout.join(''));
    expect(summary).toMatchObject({ out, seed: 42, fingers: 3, impressionsPerFinger: 2, records: 6 });
    expect(summary.recordsPerSecond).toBeGreaterThan(0);
  });

  it('reports progress on stderr for long runs', async () => {
    const out = tempFolder();
    const { io, err, out: stdout } = capture();
    expect(await synthCommand(['--fingers', '1100', '--impressions', '2', '--seed', '1', '--out', out], io)).toBe(0);
    expect(readdirSync(out)).toHaveLength(2200);
    expect(err.some((line) => /^synth: \d+\/2200 records$/.test(line))).toBe(true);
    expect(stdout.join('')).toMatch(/^2200 records/);
  });

  it('refuses to mix populations in one folder unless forced', async () => {
    const out = tempFolder();
    writeFileSync(join(out, '1_1.iso'), 'old');
    const refused = capture();
    expect(await synthCommand(['--fingers', '1', '--impressions', '1', '--seed', '3', '--out', out], refused.io)).toBe(2);
    expect(refused.err.join('')).toMatch(/--force/);
    expect(await synthCommand(['--fingers', '1', '--impressions', '1', '--seed', '3', '--out', out, '--force'], capture().io)).toBe(0);
    expect(() => parseIsoRecord(new Uint8Array(readFileSync(join(out, '1_1.iso'))))).not.toThrow();
  });

  it('prints help, and refuses missing or bad flags with a usage error', async () => {
    const help = capture();
    expect(await synthCommand(['--help'], help.io)).toBe(0);
    expect(help.out.join('')).toMatch(/Usage: biopay synth/);
    const out = tempFolder();
    for (const argv of [
      ['--impressions', '1', '--seed', '1', '--out', out],
      ['--fingers', '0', '--impressions', '1', '--seed', '1', '--out', out],
      ['--fingers', '2', '--impressions', '1.5', '--seed', '1', '--out', out],
      ['--fingers', '2', '--impressions', '1', '--seed', '-4', '--out', out],
      ['--fingers', '2', '--impressions', '1', '--seed', '1'],
      ['--fingers', '2', '--impressions', '1', '--seed', '1', '--out', out, '--colour', 'red'],
    ]) {
      const run = capture();
      expect(await synthCommand(argv, run.io)).toBe(2);
      expect(run.err.join('')).toMatch(/^biopay synth: /);
    }
    expect(readdirSync(out)).toEqual([]);
  });
});
