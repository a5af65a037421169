/** onShutdown: handlers run once, newest first, within the deadline; the exit code tells the outcome. */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const child = fileURLToPath(new URL('./lifecycle-child.ts', import.meta.url));

async function runAndSignal(mode: string, signals: NodeJS.Signals[]): Promise<{ code: number | null; lines: string[] }> {
  const proc = spawn(process.execPath, ['--import', 'tsx', child, mode], { stdio: ['ignore', 'pipe', 'ignore'] });
  let out = '';
  proc.stdout.setEncoding('utf8');
  const ready = new Promise<void>((resolve) =>
    proc.stdout.on('data', (chunk: string) => {
      out += chunk;
      if (out.includes('ready\n')) resolve();
    }),
  );
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  await ready;
  for (const signal of signals) proc.kill(signal);
  const code = await exited;
  return { code, lines: out.trim().split('\n').slice(1) };
}

it('runs handlers newest first and exits 0, once even on repeated signals', async () => {
  const { code, lines } = await runAndSignal('ok', ['SIGTERM', 'SIGINT', 'SIGTERM']);
  expect(code).toBe(0);
  expect(lines).toEqual(['second', 'first']);
});

it('exits 1 when a handler fails, after running the others', async () => {
  const { code, lines } = await runAndSignal('fail', ['SIGINT']);
  expect(code).toBe(1);
  expect(lines).toEqual(['first']);
});

it('exits 1 when the handlers overrun the deadline', async () => {
  // The slow handler would print after 5 s; the 500 ms deadline exits before it (and before "first").
  const { code, lines } = await runAndSignal('slow', ['SIGTERM']);
  expect(code).toBe(1);
  expect(lines).toEqual([]);
});
