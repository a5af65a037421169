import { describe, expect, it } from 'vitest';
import { NATS_OPTION_HELP } from '../../../cli/io.js';
import { nodeCommand } from '../../../cli/node.js';
import { sensorCommand } from '../../../cli/sensor.js';
import { statusCommand } from '../../../cli/status.js';

/** `biopay node`'s flags are checked before anything starts: a bad value is a usage error (exit 2). */
describe('biopay node flags', () => {
  const run = async (args: string[]) => {
    const out: string[] = [];
    const code = await nodeCommand(args, { stdout: (text) => out.push(text), stderr: (text) => out.push(text) });
    return { code, text: out.join('\n') };
  };

  it('names the ledger commit cadence in --help with its default', async () => {
    const { code, text } = await run(['--help']);
    expect(code).toBe(0);
    expect(text).toMatch(/--commit-interval-ms N[\s\S]*default 10\)/);
  });

  it('refuses a commit interval that is not a whole number of milliseconds in 0..1000', async () => {
    for (const value of ['-1', '1001', '2.5', 'soon']) {
      const { code, text } = await run(['account', `--commit-interval-ms=${value}`]);
      expect(code).toBe(2);
      expect(text).toContain('--commit-interval-ms must be an integer from 0 to 1000');
    }
  });

  it('offers the terminal role an identify wait target of 1-200 ms, 50 by default, and refuses others', async () => {
    const { text: help } = await run(['--help']);
    expect(help).toMatch(/--identify-wait-target-ms N[\s\S]*\(1-200; default 50/);
    for (const value of ['0', '201', '2.5', 'soon']) {
      const { code, text } = await run(['terminal', `--identify-wait-target-ms=${value}`]);
      expect(code).toBe(2);
      expect(text).toContain('--identify-wait-target-ms must be an integer from 1 to 200');
    }
  });

  it('offers the association role brownout as a switch, and refuses a value for it', async () => {
    const { text: help } = await run(['--help']);
    expect(help).toMatch(/\[--brownout\][\s\S]*--brownout {8}association role: once the oldest identify in flight has waited over/);
    // A parse error, which `biopay` (cli/main.ts) answers with the usage exit code.
    await expect(run(['association', '--brownout=yes'])).rejects.toMatchObject({ code: expect.stringMatching(/^ERR_PARSE_ARGS/) });
  });
});

describe('the --nats flag', () => {
  it('reads the same in every command that joins a running network', async () => {
    for (const command of [nodeCommand, sensorCommand, statusCommand]) {
      const out: string[] = [];
      expect(await command(['--help'], { stdout: (text) => out.push(text), stderr: (text) => out.push(text) })).toBe(0);
      expect(out.join('\n')).toContain(NATS_OPTION_HELP);
    }
    expect(NATS_OPTION_HELP).toContain('env BIOPAY_NATS_URL; default nats://127.0.0.1:4222');
  });
});
