/**
 * Clean process shutdown: on SIGTERM or SIGINT, run the registered handlers (last registered first,
 * so a node stops taking work before its dependencies close) within a deadline, then exit.
 */
import { stderrLogger } from './actors/log.js';

export interface ShutdownOptions {
  /** Time allowed for all handlers together; the default is 30 s. */
  readonly timeoutMs?: number;
}

const DEFAULT_SHUTDOWN_TIMEOUT_MS = 30_000;
const SIGNALS = ['SIGTERM', 'SIGINT'] as const;

const handlers: (() => Promise<void>)[] = [];
let timeoutMs = DEFAULT_SHUTDOWN_TIMEOUT_MS;
let installed = false;
let shuttingDown: Promise<number> | undefined;

export function onShutdown(handler: () => Promise<void>, options: ShutdownOptions = {}): void {
  handlers.push(handler);
  if (options.timeoutMs !== undefined) timeoutMs = options.timeoutMs;
  if (installed) return;
  installed = true;
  for (const signal of SIGNALS) {
    process.on(signal, () => {
      // A second signal while stopping changes nothing: the deadline already bounds the wait.
      void shutdown(signal).then((code) => process.exit(code));
    });
  }
}

/** Runs the handlers once (reverse order, one deadline for all); resolves with the exit code. */
export function shutdown(reason = 'requested'): Promise<number> {
  shuttingDown ??= runHandlers(reason);
  return shuttingDown;
}

async function runHandlers(reason: string): Promise<number> {
  stderrLogger('info', 'shutdown.started', { reason, handlers: handlers.length });
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs);
  });
  const outcome = await Promise.race([runInReverse(), deadline]);
  clearTimeout(timer);
  const code = outcome === 'ok' ? 0 : 1;
  stderrLogger(code === 0 ? 'info' : 'error', 'shutdown.finished', { outcome });
  return code;
}

async function runInReverse(): Promise<'ok' | 'failed'> {
  let outcome: 'ok' | 'failed' = 'ok';
  for (const handler of [...handlers].reverse()) {
    try {
      await handler();
    } catch (error) {
      outcome = 'failed';
      stderrLogger('error', 'shutdown.handler_failed', { message: error instanceof Error ? error.message : String(error) });
    }
  }
  return outcome;
}
