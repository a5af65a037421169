/**
 * The thread that holds the embedded PGlite (started by pglite-thread.ts). PGlite runs PostgreSQL
 * compiled to WebAssembly in the thread that calls it; on the event loop every node role shares in
 * the embedded network it took about two thirds of that thread's time at 300 payments/s, so it
 * gets a thread of its own. Statements arrive one at a time (the client keeps a transaction's
 * statements together) and run in arrival order, a transaction's BEGIN with its first and its
 * COMMIT with its last (one round trip each way fewer); answers carry rows or the error's fields.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { PGlite } from '@electric-sql/pglite';
import { PGLITE_THREAD_NAME, nameThisThread } from '../thread-names.js';
import { createPGliteInstance } from './pglite.js';
import type { HostReply, HostRequest, PGliteHostOptions, SerializedError } from './pglite-protocol.js';

nameThisThread(PGLITE_THREAD_NAME);

const port = parentPort;
if (!port) throw new Error('pglite-host.ts runs as a worker thread (pglite-thread.ts starts it)');
const options = workerData as PGliteHostOptions;
let instance: PGlite | undefined;
// Requests run strictly in arrival order, each after the previous one's answer.
let queue: Promise<void> = open();

port.on('message', (request: HostRequest) => {
  queue = queue.then(() => handle(request));
});

async function open(): Promise<void> {
  try {
    instance = await createPGliteInstance(options.dataDir);
    if (options.schema !== undefined) await instance.exec(`CREATE SCHEMA IF NOT EXISTS ${options.schema}; SET search_path TO ${options.schema}`);
    post({ id: 0 });
  } catch (error) {
    post({ id: 0, error: serializeError(error) });
  }
}

async function handle(request: HostRequest): Promise<void> {
  try {
    if (!instance) throw new Error('PGlite did not open');
    if (request.close) {
      await instance.close();
      post({ id: request.id });
      port!.close();
      return;
    }
    if (request.before !== undefined) await instance.exec(request.before);
    const rows = request.exec ? (await instance.exec(request.sql), undefined) : (await instance.query(request.sql, request.params)).rows;
    if (request.after !== undefined) await instance.exec(request.after);
    post(rows === undefined ? { id: request.id } : { id: request.id, rows });
  } catch (error) {
    post({ id: request.id, error: serializeError(error) });
  }
}

function post(reply: HostReply): void {
  port!.postMessage(reply);
}

/** The message and every own field a caller reads (SQLSTATE `code`, `detail`, `constraint`, ...). */
function serializeError(error: unknown): SerializedError {
  if (!(error instanceof Error)) return { message: String(error), fields: {} };
  const fields: Record<string, string | number> = {};
  for (const [key, value] of Object.entries(error)) {
    if (typeof value === 'string' || typeof value === 'number') fields[key] = value;
  }
  return { message: error.message, fields };
}
