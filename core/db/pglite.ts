/**
 * SqlClient over PGlite (embedded PostgreSQL in WebAssembly). PGlite is one session that runs one
 * transaction at a time, so concurrent callers are serialized by PGlite itself.
 */
import { PGlite, type Transaction } from '@electric-sql/pglite';
import { assertSchemaName, normalizeParams, transactionSettings, type SqlClient, type TransactionOptions } from './types.js';

const INT8_OID = 20;

export interface PGliteOptions {
  dataDir?: string;
  schema?: string;
}

/** A new PGlite instance (data folder, or memory) owned by the returned client. */
export async function openPGlite(options: PGliteOptions): Promise<SqlClient> {
  const schema = options.schema === undefined ? undefined : assertSchemaName(options.schema);
  const instance = await createPGliteInstance(options.dataDir);
  if (schema) {
    try {
      await instance.exec(`CREATE SCHEMA IF NOT EXISTS ${schema}; SET search_path TO ${schema}`);
    } catch (error) {
      await instance.close();
      throw error;
    }
  }
  return new PGliteClient(instance, { ownsInstance: true });
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
  return new PGliteClient(instance, { ownsInstance: false, schema });
}

interface ClientMode {
  ownsInstance: boolean;
  /** Set per transaction when the instance is shared between schemas. */
  schema?: string;
}

type Session = Pick<Transaction, 'query' | 'exec'>;

async function runQuery<Row>(session: Session, sql: string, params?: unknown[]): Promise<{ rows: Row[] }> {
  const result = await session.query<Row>(sql, normalizeParams(params));
  return { rows: result.rows };
}

class PGliteClient implements SqlClient {
  readonly dialect = 'pglite' as const;
  #closed = false;

  constructor(private readonly instance: PGlite, private readonly mode: ClientMode) {}

  query<Row>(sql: string, params?: unknown[]): Promise<{ rows: Row[] }> {
    if (this.mode.schema === undefined) return runQuery<Row>(this.instance, sql, params);
    return this.transaction((tx) => tx.query<Row>(sql, params));
  }

  queryAndCommit<Row>(sql: string, params?: unknown[]): Promise<{ rows: Row[] }> {
    return this.query<Row>(sql, params);
  }

  transaction<T>(fn: (tx: SqlClient) => Promise<T>, options?: TransactionOptions): Promise<T> {
    const schema = this.mode.schema === undefined ? [] : [`SET LOCAL search_path TO ${this.mode.schema}`];
    const settings = [...schema, ...transactionSettings(options)];
    return this.instance.transaction(async (tx) => {
      if (settings.length > 0) await tx.exec(settings.join('; '));
      return fn(new PGliteTransaction(tx));
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.mode.ownsInstance) await this.instance.close();
  }
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

  async transaction<T>(fn: (tx: SqlClient) => Promise<T>): Promise<T> {
    const savepoint = `sp_${this.depth + 1}`;
    await this.tx.exec(`SAVEPOINT ${savepoint}`);
    try {
      const result = await fn(new PGliteTransaction(this.tx, this.depth + 1));
      await this.tx.exec(`RELEASE SAVEPOINT ${savepoint}`);
      return result;
    } catch (error) {
      await this.tx.exec(`ROLLBACK TO SAVEPOINT ${savepoint}`);
      throw error;
    }
  }

  async close(): Promise<void> {
    throw new Error('close() is not available inside a transaction');
  }
}
