/**
 * One SQL interface over PostgreSQL (`pg`) and PGlite, so the ledger runs the same SQL on both.
 * int8 columns come back as bigint on both; numeric (e.g. sum of int8) comes back as text.
 */
import { BiopayError, ErrorCode } from '../errors.js';

export type SqlDialect = 'postgres' | 'pglite';

export interface SqlClient {
  query<Row>(sql: string, params?: unknown[]): Promise<{ rows: Row[] }>;
  /**
   * Inside a transaction: its last statement, committed with it (on PostgreSQL the COMMIT travels
   * with the statement, one round trip for both); no statement may follow. Resolves once committed.
   * Inside a savepoint, or outside any transaction, an ordinary statement.
   */
  queryAndCommit<Row>(sql: string, params?: unknown[]): Promise<{ rows: Row[] }>;
  /**
   * A transaction; inside one, a nested call opens a savepoint that rolls back alone on error (and
   * takes the outer transaction's options).
   */
  transaction<T>(fn: (tx: SqlClient) => Promise<T>, options?: TransactionOptions): Promise<T>;
  close(): Promise<void>;
  readonly dialect: SqlDialect;
}

export interface TransactionOptions {
  /**
   * `keyLookups`: every statement of the transaction finds its rows by key (a ledger batch), so
   * each is planned once per connection, with index lookups only (see KEY_LOOKUP_SETTINGS).
   * Plans never change results, only their cost. Default: PostgreSQL plans as it likes.
   */
  readonly planning?: 'default' | 'keyLookups';
}

/**
 * What `keyLookups` sets: on PostgreSQL the session settings of the connections its transactions
 * run on (postgres.ts), on PGlite SET LOCAL in each such transaction. PostgreSQL otherwise re-plans a prepared
 * statement at every execution (custom plans), which cost a ledger batch read about as much as
 * running it; and on small or unanalyzed tables both its custom and its generic plans scan whole
 * tables and hash-join, because the id arrays are estimated at 10 rows. A key lookup is always
 * cheapest as an index lookup, so the generic plan is kept and built with scans and hash and merge
 * joins priced out (they stay possible where nothing else is).
 */
export const KEY_LOOKUP_SETTINGS: Readonly<Record<string, string>> = {
  plan_cache_mode: 'force_generic_plan',
  enable_seqscan: 'off',
  enable_hashjoin: 'off',
  enable_mergejoin: 'off',
};

const KEY_LOOKUP_STATEMENTS: readonly string[] = Object.entries(KEY_LOOKUP_SETTINGS).map(([name, value]) => `SET LOCAL ${name} = ${value}`);

/** The SET LOCAL statements of a transaction's options, or none (built once, not per transaction): PGlite's. */
export function transactionSettings(options: TransactionOptions | undefined): readonly string[] {
  return options?.planning === 'keyLookups' ? KEY_LOOKUP_STATEMENTS : [];
}

export interface OpenDatabaseOptions {
  /** postgres://... opens a pg pool; anything else (or none) opens PGlite. */
  url?: string;
  /** PGlite data folder; none means in memory. */
  dataDir?: string;
  /** Every query runs with this search_path; created when missing. */
  schema?: string;
  poolSize?: number;
}

const SCHEMA_PATTERN = /^[a-z_][a-z0-9_]{0,62}$/;

/** Schema names are interpolated into SQL, so only plain lowercase identifiers are accepted. */
export function assertSchemaName(schema: string): string {
  if (!SCHEMA_PATTERN.test(schema)) {
    throw new BiopayError(ErrorCode.BadRequest, `schema must match ${SCHEMA_PATTERN}, got "${schema}"`);
  }
  return schema;
}

/** SQLSTATE of a database error from either driver, or undefined. */
export function sqlState(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/** Serialization failure, deadlock, or a unique violation between racing inserts: safe to retry. */
export function isRetryableSqlError(error: unknown): boolean {
  const state = sqlState(error);
  return state === '40001' || state === '40P01' || state === '23505';
}

/**
 * A transaction nested in another, as a savepoint that rolls back alone when `body` fails: both
 * PGlite clients' (PostgreSQL's pool client has its own). `depth` names it (sp_1, sp_2, ...).
 */
export async function inSavepoint<T>(exec: (sql: string) => Promise<unknown>, depth: number, body: () => Promise<T>): Promise<T> {
  const savepoint = `sp_${depth}`;
  await exec(`SAVEPOINT ${savepoint}`);
  try {
    const result = await body();
    await exec(`RELEASE SAVEPOINT ${savepoint}`);
    return result;
  } catch (error) {
    await exec(`ROLLBACK TO SAVEPOINT ${savepoint}`);
    throw error;
  }
}

/** bigint parameters travel as decimal text: neither driver's array encoding takes bigint. */
export function normalizeParams(params: unknown[] | undefined): unknown[] | undefined {
  if (!params) return params;
  return params.map(normalizeParam);
}

function normalizeParam(value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (Array.isArray(value)) return value.map(normalizeParam);
  return value;
}
