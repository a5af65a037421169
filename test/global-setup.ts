/**
 * Builds dist/ once before the suite: integration tests start nodes as separate processes with the
 * compiled CLI, and piscina workers load compiled JavaScript.
 */
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export default function setup(): void {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..');
  const startedMs = Date.now();
  execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], {
    cwd: root,
    stdio: 'inherit',
  });
  process.stderr.write(`[biopay] built dist/ in ${Date.now() - startedMs} ms\n`);
}
