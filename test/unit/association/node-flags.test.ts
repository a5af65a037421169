/** `biopay node association` refuses bad decision flags with the usage exit code, before starting. */
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const bin = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'dist', 'cli', 'bin.js');

describe('biopay node association flags', () => {
  it.each([
    ['--target-fpir', '2'], ['--target-fpir', '0'], ['--target-fpir', 'often'], ['--target-fmr', '1'], ['--partition', '2/2'],
    ['--candidates', '0'], ['--hinted-candidates', '1.5'], ['--hinted-candidates', 'all'],
  ])('%s %s exits 2 and names the flag', (flag, value) => {
    const run = spawnSync(process.execPath, [bin, 'node', 'association', flag, value, '--nats', 'nats://127.0.0.1:1'], { encoding: 'utf8', timeout: 20_000 });
    expect(run.status).toBe(2);
    const expected = flag === '--partition' ? /partition/ : flag.endsWith('candidates') ? new RegExp(`${flag} must be an integer`) : new RegExp(`${flag} must be a number in \\(0, 1\\)`);
    expect(run.stderr).toMatch(expected);
  });
});
