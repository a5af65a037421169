/**
 * Starts a `nats-server` child process on free ports, used by `biopay demo` / `biopay dev` for the
 * embedded network and by the test helpers. Readiness is checked on the monitoring endpoint
 * (`/healthz`), which in nats-server 2.9 also waits for JetStream (and, in a cluster, its meta leader).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants as fsConstants, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { BiopayError, ErrorCode } from '../errors.js';

export interface NatsServerProcessOptions {
  /** Client port; a free one when omitted. */
  readonly port?: number;
  readonly jetstream?: boolean;
  /** JetStream store folder; a temporary one (removed on stop) when omitted. */
  readonly storeDir?: string;
  readonly serverName?: string;
  readonly cluster?: NatsClusterOptions;
  /** Time allowed for the server to become healthy. */
  readonly readyTimeoutMs?: number;
  /** Path of the binary; BIOPAY_NATS_SERVER, /usr/sbin/nats-server or `nats-server` on PATH when omitted. */
  readonly binary?: string;
  /**
   * Threads the server's Go runtime runs code on at once (GOMAXPROCS); Go's default, one per core,
   * when omitted. A server sharing a small machine with the nodes it serves spends less CPU with
   * one: its idle threads stop spinning for work (see cli/embedded.ts).
   */
  readonly goMaxProcs?: number;
}

export interface NatsClusterOptions {
  readonly name: string;
  /** Route listen port of this server. */
  readonly port: number;
  /** Route URLs of the other servers (nats://127.0.0.1:PORT). */
  readonly routes: readonly string[];
}

export interface NatsServerProcess {
  readonly url: string;
  readonly port: number;
  readonly monitorPort: number;
  readonly pid: number;
  /** Resolves when the process has exited (for any reason). */
  readonly exited: Promise<void>;
  /** SIGTERM, then SIGKILL after a grace period; removes a temporary store folder. */
  stop(): Promise<void>;
  /** SIGKILL at once (failover tests); a temporary store folder is removed on stop(). */
  kill(): void;
}

const HOST = '127.0.0.1';
const STOP_GRACE_MS = 5_000;
const READY_TIMEOUT_MS = 20_000;
const READY_POLL_MS = 50;
const LOG_LINES_MAX = 40;
const START_ATTEMPTS_MAX = 3;
const GO_MAX_PROCS_MAX = 1_024;

const liveChildren = new Set<ChildProcess>();
let exitHookInstalled = false;

/** Starts nats-server and waits until it is healthy; retries on a port race. */
export async function startNatsServerProcess(options: NatsServerProcessOptions = {}): Promise<NatsServerProcess> {
  const env = options.goMaxProcs === undefined ? process.env : { ...process.env, GOMAXPROCS: String(goMaxProcs(options.goMaxProcs)) };
  let lastError: unknown;
  for (let attempt = 0; attempt < START_ATTEMPTS_MAX; attempt++) {
    try {
      return await startOnce(options, env);
    } catch (error) {
      lastError = error;
      // A fixed port that failed will fail again; only free ports are worth retrying.
      if (options.port !== undefined) break;
    }
  }
  throw lastError;
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, HOST, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export function findNatsServerBinary(): string {
  const candidates = [process.env.BIOPAY_NATS_SERVER, '/usr/sbin/nats-server', '/usr/local/bin/nats-server'];
  for (const dir of (process.env.PATH ?? '').split(delimiter)) if (dir) candidates.push(join(dir, 'nats-server'));
  for (const candidate of candidates) {
    if (candidate && isExecutable(candidate)) return candidate;
  }
  throw new BiopayError(
    ErrorCode.Unavailable,
    'nats-server not found: install it (apt-get install nats-server) or set BIOPAY_NATS_SERVER',
  );
}

function goMaxProcs(threads: number): number {
  if (!Number.isSafeInteger(threads) || threads < 1 || threads > GO_MAX_PROCS_MAX) {
    throw new BiopayError(ErrorCode.BadRequest, `goMaxProcs must be an integer in 1..${GO_MAX_PROCS_MAX}, got ${threads}`);
  }
  return threads;
}

async function startOnce(options: NatsServerProcessOptions, env: NodeJS.ProcessEnv): Promise<NatsServerProcess> {
  const port = options.port ?? (await freePort());
  const monitorPort = await freePort();
  const ownStore = options.jetstream && !options.storeDir ? mkdtempSync(join(tmpdir(), 'biopay-nats-')) : undefined;
  const storeDir = options.storeDir ?? ownStore;
  const args = serverArgs(options, port, monitorPort, storeDir);
  const child = spawn(options.binary ?? findNatsServerBinary(), args, { stdio: ['ignore', 'ignore', 'pipe'], env });
  track(child);
  const log = captureLog(child);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const removeStore = () => {
    if (ownStore) rmSync(ownStore, { recursive: true, force: true });
  };
  const handle: NatsServerProcess = {
    url: `nats://${HOST}:${port}`,
    port,
    monitorPort,
    pid: child.pid ?? -1,
    exited,
    stop: async () => {
      await stopChild(child, exited);
      removeStore();
    },
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
  try {
    await waitHealthy(monitorPort, exited, options.readyTimeoutMs ?? READY_TIMEOUT_MS);
  } catch (error) {
    await handle.stop();
    throw new BiopayError(ErrorCode.Unavailable, `nats-server did not start: ${log().join(' | ')}`, { cause: error });
  }
  return handle;
}

function serverArgs(options: NatsServerProcessOptions, port: number, monitorPort: number, storeDir?: string): string[] {
  const args = ['-a', HOST, '-p', String(port), '-m', String(monitorPort)];
  if (options.serverName) args.push('-n', options.serverName);
  if (options.jetstream) args.push('-js', '-sd', storeDir ?? '');
  if (options.cluster) {
    args.push('--cluster_name', options.cluster.name, '--cluster', `nats://${HOST}:${options.cluster.port}`);
    if (options.cluster.routes.length > 0) args.push('--routes', options.cluster.routes.join(','));
  }
  return args;
}

async function waitHealthy(monitorPort: number, exited: Promise<void>, timeoutMs: number): Promise<void> {
  let hasExited = false;
  void exited.then(() => {
    hasExited = true;
  });
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (hasExited) throw new BiopayError(ErrorCode.Unavailable, 'nats-server exited during start');
    if (await isHealthy(monitorPort)) return;
    await sleep(READY_POLL_MS);
  }
  throw new BiopayError(ErrorCode.Timeout, `nats-server not healthy after ${timeoutMs} ms`);
}

async function isHealthy(monitorPort: number): Promise<boolean> {
  try {
    const response = await fetch(`http://${HOST}:${monitorPort}/healthz`, { signal: AbortSignal.timeout(1_000) });
    await response.body?.cancel();
    return response.ok;
  } catch {
    return false;
  }
}

async function stopChild(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
  await exited;
  clearTimeout(timer);
}

/** Keeps the last lines of stderr so a failed start can say why. */
function captureLog(child: ChildProcess): () => string[] {
  const lines: string[] = [];
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    for (const line of chunk.split('\n')) {
      if (!line) continue;
      lines.push(line);
      if (lines.length > LOG_LINES_MAX) lines.shift();
    }
  });
  return () => lines.slice(-5);
}

/** Children die with this process, even when a test run is interrupted. */
function track(child: ChildProcess): void {
  liveChildren.add(child);
  child.once('exit', () => liveChildren.delete(child));
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const c of liveChildren) c.kill('SIGKILL');
  });
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
