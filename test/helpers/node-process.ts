/**
 * Starts `biopay node <role>` from the compiled CLI as a separate process and waits for its ready
 * line; stops it with SIGTERM (the node drains) and reports how it exited.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CLI_PATH = join(REPO_ROOT, 'dist', 'cli', 'bin.js');

const READY_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 15_000;
const OUTPUT_KEPT_CHARS = 20_000;

export interface NodeProcess {
  readonly role: string;
  readonly ready: Record<string, unknown>;
  readonly child: ChildProcess;
  /** Everything the process wrote to stderr (its JSON logs), most recent part. */
  logs(): string;
  /** SIGTERM and wait; resolves with the exit code (null when killed by a signal). */
  stop(): Promise<number | null>;
}

export async function startNodeProcess(role: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<NodeProcess> {
  const child = spawn(process.execPath, [CLI_PATH, 'node', role, '--json', ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, BIOPAY_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-OUTPUT_KEPT_CHARS);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const ready = await new Promise<Record<string, unknown>>((resolve, reject) => {
    let stdout = '';
    const timer = setTimeout(() => reject(new Error(`${role} node not ready within ${READY_TIMEOUT_MS} ms:\n${stderr}`)), READY_TIMEOUT_MS);
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
      const line = stdout.split('\n').find((candidate) => candidate.includes('"ready"'));
      if (line) {
        clearTimeout(timer);
        resolve(JSON.parse(line) as Record<string, unknown>);
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${role} node exited with ${code} before it was ready:\n${stderr}`));
    });
  });
  return {
    role, ready, child,
    logs: () => stderr,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/**
 * The roles behind the terminals, each its own process: account (the ledger on PGlite in
 * `dataDir`, the embedded default), association (one matcher thread) and business.
 */
export function startBackOfficeProcesses(natsUrl: string, dataDir: string, env: NodeJS.ProcessEnv): Promise<NodeProcess[]> {
  const common = ['--nats', natsUrl];
  return Promise.all([
    startNodeProcess('account', [...common, '--data', join(dataDir, 'ledger'), '--database', ''], env),
    startNodeProcess('association', [...common, '--workers', '1'], env),
    startNodeProcess('business', common, env),
  ]);
}
