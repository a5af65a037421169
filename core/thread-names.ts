/**
 * Names of this process's threads as Linux shows them (top -H, perf, /proc/PID/task/TID/comm), so
 * that per-thread tools, and `biopay load`'s CPU breakdown, can tell the matcher threads from the
 * event loop and from V8's own helpers, which all start out named after the executable.
 */
import { writeFileSync } from 'node:fs';

/** Every matcher thread (workers/match-worker.ts) takes this name. Linux keeps 15 bytes. */
export const MATCHER_THREAD_NAME = 'biopay-match';
/** The embedded ledger's PGlite thread (core/db/pglite-host.ts). */
export const PGLITE_THREAD_NAME = 'biopay-pglite';
/**
 * A `biopay node` process names its main thread, and so itself in ps and top, after its role with
 * this prefix (cli/node.ts): `biopay-account`, `biopay-assoc`, ...
 */
export const NODE_PROCESS_NAME_PREFIX = 'biopay-';

/** Renames the calling thread; false where that is not possible (no /proc: not Linux). */
export function nameThisThread(name: string): boolean {
  try {
    writeFileSync('/proc/thread-self/comm', name.slice(0, 15));
    return true;
  } catch {
    return false;
  }
}
