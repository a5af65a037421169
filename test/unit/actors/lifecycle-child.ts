/** A process for lifecycle.test.ts: registers handlers per argv, prints "ready", waits for a signal. */
import { onShutdown } from '../../../core/lifecycle.js';

const mode = process.argv[2] ?? 'ok';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

onShutdown(async () => {
  process.stdout.write('first\n');
}, { timeoutMs: 500 });
onShutdown(async () => {
  await sleep(mode === 'slow' ? 5_000 : 50);
  if (mode === 'fail') throw new Error('handler failed');
  process.stdout.write('second\n');
});
setInterval(() => undefined, 1_000);
process.stdout.write('ready\n');
