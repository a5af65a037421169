/**
 * Builds dist/ once before the suite: integration tests start nodes as separate processes with the
 * compiled CLI, and piscina workers load compiled JavaScript. Type errors do not stop the emit
 * (`npm test` type-checks first and fails on them); here they are only reported.
 */
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export default function setup(): void {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..');
  const startedMs = Date.now();
  const build = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], {
    cwd: root,
    encoding: 'utf8',
  });
  if (build.status !== 0) {
    process.stderr.write(`[biopay] dist/ built with type errors:\n${build.stdout.split('\n').slice(0, 10).join('\n')}\n`);
  }
  process.stderr.write(`[biopay] built dist/ in ${Date.now() - startedMs} ms\n`);
}
