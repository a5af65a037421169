/**
 * SqlClient over a PGlite that runs in a thread of its own (pglite-host.ts), so that its
 * WebAssembly PostgreSQL does not take the event loop the node roles share. PGlite is one session:
 * the client keeps a transaction's statements together by letting one caller at a time talk to
 * the thread (a transaction holds that turn from BEGIN to COMMIT), as PGlite's own transaction()
 * does in its thread. One statement is in flight at a time; the callers' own limits bound the
 * turns waiting (the ledger's group commit queues its requests before it asks for one).
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { BiopayError, ErrorCode } from '../errors.js';
import type { HostReply, HostRequest, PGliteHostOptions, SerializedError } from './pglite-protocol.js';
import { inSavepoint, normalizeParams, transactionSettings, type SqlClient, type TransactionOptions } from './types.js';

interface Pending {
  resolve(rows: unknown[]): void;
  reject(error: Error): void;
}

/** Starts the thread and opens PGlite in it (a new data folder takes PGlite's initdb, about 6 s). */
export async function openPGliteThread(options: PGliteHostOptions): Promise<SqlClient> {
  const host = new PGliteHost(options);
  try {
    await host.opened;
  } catch (error) {
    // Nobody will hold a client to close it: the thread ends here.
    await host.terminate();
    throw error;
  }
  return new ThreadClient(host);
}

class PGliteHost {
  readonly opened: Promise<void>;
  readonly #worker: Worker;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #turn: Promise<unknown> = Promise.resolve();
  #stopped: Error | undefined;

  constructor(options: PGliteHostOptions) {
    const here = fileURLToPath(import.meta.url);
    // From source (tests, development) the entry is TypeScript: the thread registers tsx's require
    // hook itself (`--import tsx` does not reach a thread's entry in time) and loads it through it.
    const fromSource = here.endsWith('.ts');
    const entry = join(dirname(here), fromSource ? 'pglite-host.ts' : 'pglite-host.js');
    // None of this process's Node flags: some (--input-type, --eval's) stop a thread from starting.
    this.#worker = fromSource
      ? new Worker(`require('tsx/cjs/api').register(); require(${JSON.stringify(entry)});`, { eval: true, workerData: options, execArgv: [] })
      : new Worker(entry, { workerData: options, execArgv: [] });
    this.opened = new Promise<unknown[]>((resolve, reject) => this.#pending.set(0, { resolve, reject })).then(() => undefined);
    this.#worker.on('message', (reply: HostReply) => this.#settle(reply));
    this.#worker.on('error', (error) => this.#stop(new BiopayError(ErrorCode.Unavailable, 'the PGlite thread failed', { cause: error })));
    this.#worker.on('exit', (code) => this.#stop(new BiopayError(ErrorCode.Unavailable, `the PGlite thread stopped (exit code ${code})`)));
  }

  /** One statement (or script, with `exec`) and the scripts around it; the caller must hold the turn. */
  request(sql: string, params?: unknown[], exec = false, around: { before?: string; after?: string } = {}): Promise<unknown[]> {
    return this.#send({ sql, params: normalizeParams(params), exec, ...around });
  }

  /** Runs `work` when every earlier turn has ended: nobody else's statements interleave with it. */
  turn<T>(work: () => Promise<T>): Promise<T> {
    const result = this.#turn.then(work);
    this.#turn = result.catch(() => undefined);
    return result;
  }

  async close(): Promise<void> {
    if (this.#stopped) return;
    await this.turn(() => this.#send({ sql: '', close: true }));
    await this.terminate();
  }

  /** Ends the thread now, whatever it holds (after close(), or when PGlite never opened). */
  async terminate(): Promise<void> {
    await this.#worker.terminate();
  }

  #send(request: Omit<HostRequest, 'id'>): Promise<unknown[]> {
    if (this.#stopped) return Promise.reject(this.#stopped);
    const id = this.#nextId++;
    return new Promise<unknown[]>((resolve, reject) => {
      // The thread keeps the process alive while a statement is out, like a socket with a query on
      // it, and not when idle: a client nobody closed does not hold the process open.
      if (this.#pending.size === 0) this.#worker.ref();
      this.#pending.set(id, { resolve, reject });
      this.#worker.postMessage({ ...request, id });
    });
  }

  #settle(reply: HostReply): void {
    const pending = this.#pending.get(reply.id);
    if (!pending) return;
    this.#pending.delete(reply.id);
    if (this.#pending.size === 0) this.#worker.unref();
    if (reply.error) pending.reject(rebuildError(reply.error));
    else pending.resolve(reply.rows ?? []);
  }

  #stop(error: Error): void {
    this.#stopped ??= error;
    for (const pending of this.#pending.values()) pending.reject(error);
    this.#pending.clear();
  }
}

/** The database's error as the caller knows it: its message, SQLSTATE `code` and other fields. */
function rebuildError(serialized: SerializedError): Error {
  return Object.assign(new Error(serialized.message), serialized.fields);
}

class ThreadClient implements SqlClient {
  readonly dialect = 'pglite' as const;
  #closed = false;

  constructor(private readonly host: PGliteHost) {}

  async query<Row>(sql: string, params?: unknown[]): Promise<{ rows: Row[] }> {
    const rows = await this.host.turn(() => this.host.request(sql, params));
    return { rows: rows as Row[] };
  }

  queryAndCommit<Row>(sql: string, params?: unknown[]): Promise<{ rows: Row[] }> {
    return this.query<Row>(sql, params);
  }

  transaction<T>(fn: (tx: SqlClient) => Promise<T>, options?: TransactionOptions): Promise<T> {
    const state = new TransactionState(this.host, ['BEGIN', ...transactionSettings(options)].join('; '));
    return this.host.turn(async () => {
      let result: T;
      try {
        result = await fn(new ThreadTransaction(state));
      } catch (error) {
        // A failed rollback leaves nothing worse: the session's next BEGIN warns, PGlite carries on.
        if (state.begun && !state.committed) await this.host.request('ROLLBACK', undefined, true).catch(() => undefined);
        throw error;
      }
      // Committed with its last statement (queryAndCommit), or here; a transaction that ran no
      // statement never began.
      if (state.begun && !state.committed) await this.host.request('COMMIT', undefined, true);
      return result;
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.host.close();
  }
}

/**
 * Where a transaction stands in the thread: BEGIN goes with its first request and COMMIT with its
 * last statement (queryAndCommit), so a ledger batch (read, write) is two round trips, not four.
 */
class TransactionState {
  begun = false;
  committed = false;

  constructor(private readonly host: PGliteHost, private readonly begin: string) {}

  async request(sql: string, params: unknown[] | undefined, exec: boolean, commit = false): Promise<unknown[]> {
    const before = this.begun ? undefined : this.begin;
    this.begun = true;
    const rows = await this.host.request(sql, params, exec, { ...(before === undefined ? {} : { before }), ...(commit ? { after: 'COMMIT' } : {}) });
    // Only once it succeeded: a statement that failed skipped its COMMIT, and the rollback follows.
    if (commit) this.committed = true;
    return rows;
  }
}

class ThreadTransaction implements SqlClient {
  readonly dialect = 'pglite' as const;
  /** The last statement has run (and committed the transaction): no statement may follow. */
  #last = false;

  constructor(private readonly state: TransactionState, private readonly depth = 0) {}

  async query<Row>(sql: string, params?: unknown[]): Promise<{ rows: Row[] }> {
    return this.#run<Row>(sql, params, false);
  }

  queryAndCommit<Row>(sql: string, params?: unknown[]): Promise<{ rows: Row[] }> {
    // Inside a savepoint an ordinary statement: the outer transaction commits.
    return this.#run<Row>(sql, params, this.depth === 0);
  }

  transaction<T>(fn: (tx: SqlClient) => Promise<T>): Promise<T> {
    return inSavepoint((sql) => this.state.request(sql, undefined, true), this.depth + 1, () => fn(new ThreadTransaction(this.state, this.depth + 1)));
  }

  async close(): Promise<void> {
    throw new Error('close() is not available inside a transaction');
  }

  async #run<Row>(sql: string, params: unknown[] | undefined, commit: boolean): Promise<{ rows: Row[] }> {
    if (this.#last) throw new Error('the transaction ran its last statement; no statement may follow');
    if (commit) this.#last = true;
    return { rows: (await this.state.request(sql, params, false, commit)) as Row[] };
  }
}
