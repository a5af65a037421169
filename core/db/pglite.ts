/**
 * SqlClient over PGlite (embedded PostgreSQL in WebAssembly). PGlite is one session that runs one
 * transaction at a time, so concurrent callers are serialized by PGlite itself. openPGlite runs it
 * in a thread of its own (pglite-thread.ts); a shared instance (tests) runs in the caller's thread.
 */
import { PGlite, type Transaction } from '@electric-sql/pglite';
import { openPGliteThread } from './pglite-thread.js';
import { assertSchemaName, inSavepoint, normalizeParams, transactionSettings, type SqlClient, type TransactionOptions } from './types.js';

const INT8_OID = 20;

export interface PGliteOptions {
  dataDir?: string;
  schema?: string;
}

/**
 * A new PGlite (data folder, or memory) in a thread of its own, owned by the returned client
 * (pglite-thread.ts: its WebAssembly PostgreSQL stays off the event loop the node roles share).
 */
export async function openPGlite(options: PGliteOptions): Promise<SqlClient> {
  const schema = options.schema === undefined ? undefined : assertSchemaName(options.schema);
  return openPGliteThread({ ...(options.dataDir === undefined ? {} : { dataDir: options.dataDir }), ...(schema === undefined ? {} : { schema }) });
}

/** A PGlite with int8 as bigint; `loadDataDir` (a dumpDataDir() tarball) skips the slow initdb. */
export async function createPGliteInstance(dataDir?: string, loadDataDir?: Blob): Promise<PGlite> {
  return PGlite.create({ dataDir, loadDataDir, parsers: { [INT8_OID]: (text: string) => BigInt(text) } });
}

/**
 * A client for one schema of a PGlite instance that other clients share (tests: one instance,
 * a schema per test). Each statement runs in a transaction with its own search_path, so clients
 * of different schemas never see each other's tables. Closing it leaves the instance open.
 */
export async function sharedPGliteClient(instance: PGlite, schema: string): Promise<SqlClient> {
  assertSchemaName(schema);
  await instance.exec(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
  return new PGliteClient(instance, schema);
}

type Session = Pick<Transaction, 'query' | 'exec'>;

async function runQuery<Row>(session: Session, sql: string, params?: unknown[]): Promise<{ rows: Row[] }> {
  const result = await session.query<Row>(sql, normalizeParams(params));
  return { rows: result.rows };
}

/** One schema of a shared instance: every statement in a transaction that sets its search_path. */
class PGliteClient implements SqlClient {
  readonly dialect = 'pglite' as const;

  constructor(private readonly instance: PGlite, private readonly schema: string) {}

  query<Row>(sql: string, params?: unknown[]): Promise<{ rows: Row[] }> {
    return this.transaction((tx) => tx.query<Row>(sql, params));
  }

  queryAndCommit<Row>(sql: string, params?: unknown[]): Promise<{ rows: Row[] }> {
    return this.query<Row>(sql, params);
  }

  transaction<T>(fn: (tx: SqlClient) => Promise<T>, options?: TransactionOptions): Promise<T> {
    const settings = [`SET LOCAL search_path TO ${this.schema}`, ...transactionSettings(options)];
    return this.instance.transaction(async (tx) => {
      await tx.exec(settings.join('; '));
      return fn(new PGliteTransaction(tx));
    });
  }

  /** The instance is the caller's: it stays open. */
  async close(): Promise<void> {}
}

class PGliteTransaction implements SqlClient {
  readonly dialect = 'pglite' as const;
  /** The last statement has run: PGlite commits when the transaction's function returns. */
  #last = false;

  constructor(private readonly tx: Transaction, private readonly depth = 0) {}

  query<Row>(sql: string, params?: unknown[]): Promise<{ rows: Row[] }> {
    if (this.#last) return Promise.reject(new Error('the transaction ran its last statement; no statement may follow'));
    return runQuery<Row>(this.tx, sql, params);
  }

  queryAndCommit<Row>(sql: string, params?: unknown[]): Promise<{ rows: Row[] }> {
    const result = this.query<Row>(sql, params);
    if (this.depth === 0) this.#last = true;
    return result;
  }

  transaction<T>(fn: (tx: SqlClient) => Promise<T>): Promise<T> {
    return inSavepoint((sql) => this.tx.exec(sql), this.depth + 1, () => fn(new PGliteTransaction(this.tx, this.depth + 1)));
  }

  async close(): Promise<void> {
    throw new Error('close() is not available inside a transaction');
  }
}
