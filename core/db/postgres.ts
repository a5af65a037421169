/** SqlClient over a `pg` pool. int8 parses to bigint on this pool only (no global type mutation). */
import pg from 'pg';
import { assertSchemaName, normalizeParams, type SqlClient } from './types.js';

const INT8_OID = 20;
const POOL_SIZE_DEFAULT = 10;
const STATEMENT_NAMES_MAX = 500;

export interface PostgresOptions {
  url: string;
  schema?: string;
  poolSize?: number;
}

export async function openPostgres(options: PostgresOptions): Promise<SqlClient> {
  const schema = options.schema === undefined ? undefined : assertSchemaName(options.schema);
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolSize ?? POOL_SIZE_DEFAULT,
    options: schema ? `-c search_path=${schema}` : undefined,
    types: { getTypeParser: typeParser as typeof pg.types.getTypeParser },
  });
  // An idle client's socket error must not crash the process; the pool drops that client.
  pool.on('error', () => undefined);
  if (schema) await createSchema(pool, schema);
  return new PostgresClient(pool);
}

function typeParser(oid: number, format?: 'text' | 'binary'): unknown {
  if (oid === INT8_OID && format !== 'binary') return (text: string) => BigInt(text);
  return pg.types.getTypeParser(oid, format as 'text');
}

async function createSchema(pool: pg.Pool, schema: string): Promise<void> {
  try {
    await pool.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
  } catch (error) {
    // Two openers racing on CREATE SCHEMA IF NOT EXISTS: the loser sees a unique violation.
    if ((error as { code?: string }).code !== '23505') throw error;
  }
}

/** Named statements let each connection parse a hot query once. */
const statementNames = new Map<string, string>();

function statementName(sql: string): string | undefined {
  let name = statementNames.get(sql);
  if (name === undefined && statementNames.size < STATEMENT_NAMES_MAX) {
    name = `biopay_${statementNames.size}`;
    statementNames.set(sql, name);
  }
  return name;
}

type Queryable = Pick<pg.PoolClient, 'query'>;

async function runQuery<Row>(target: Queryable, sql: string, params?: unknown[]): Promise<{ rows: Row[] }> {
  const values = params?.map(toParam);
  const name = values && values.length > 0 ? statementName(sql) : undefined;
  const result = await target.query({ text: sql, values, name });
  return { rows: result.rows as Row[] };
}

/** bigint as decimal text; flat arrays of scalars as array literals, which pg would build far slower. */
function toParam(value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (!Array.isArray(value)) return value;
  return arrayLiteral(value) ?? normalizeParams(value);
}

const NEEDS_ESCAPE = /["\\]/;

function arrayLiteral(values: unknown[]): string | undefined {
  let literal = '{';
  for (let i = 0; i < values.length; i += 1) {
    const value = values[i];
    if (i > 0) literal += ',';
    if (typeof value === 'string') {
      literal += NEEDS_ESCAPE.test(value) ? `"${value.replace(/["\\]/g, '\\$&')}"` : `"${value}"`;
    } else if (typeof value === 'bigint' || (typeof value === 'number' && Number.isFinite(value))) {
      literal += value.toString();
    } else if (value === null || value === undefined) {
      literal += 'NULL';
    } else if (typeof value === 'boolean') {
      literal += value ? 't' : 'f';
    } else {
      return undefined;
    }
  }
  return `${literal}}`;
}

class PostgresClient implements SqlClient {
  readonly dialect = 'postgres' as const;
  #closed = false;

  constructor(private readonly pool: pg.Pool) {}

  query<Row>(sql: string, params?: unknown[]): Promise<{ rows: Row[] }> {
    return runQuery<Row>(this.pool as unknown as Queryable, sql, params);
  }

  async transaction<T>(fn: (tx: SqlClient) => Promise<T>): Promise<T> {
    const connection = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await connection.query('BEGIN');
      const result = await fn(new PostgresTransaction(connection));
      await connection.query('COMMIT');
      return result;
    } catch (error) {
      await connection.query('ROLLBACK').catch((rollbackError: Error) => {
        broken = rollbackError;
      });
      throw error;
    } finally {
      connection.release(broken);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.pool.end();
  }
}

class PostgresTransaction implements SqlClient {
  readonly dialect = 'postgres' as const;

  constructor(private readonly connection: pg.PoolClient, private readonly depth = 0) {}

  query<Row>(sql: string, params?: unknown[]): Promise<{ rows: Row[] }> {
    return runQuery<Row>(this.connection, sql, params);
  }

  async transaction<T>(fn: (tx: SqlClient) => Promise<T>): Promise<T> {
    const savepoint = `sp_${this.depth + 1}`;
    await this.connection.query(`SAVEPOINT ${savepoint}`);
    try {
      const result = await fn(new PostgresTransaction(this.connection, this.depth + 1));
      await this.connection.query(`RELEASE SAVEPOINT ${savepoint}`);
      return result;
    } catch (error) {
      await this.connection.query(`ROLLBACK TO SAVEPOINT ${savepoint}`);
      throw error;
    }
  }

  async close(): Promise<void> {
    throw new Error('close() is not available inside a transaction');
  }
}

/** True when a PostgreSQL answers at `url` within the timeout (for tools and tests choosing a target). */
export async function probePostgres(url: string, timeoutMs = 1_500): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: timeoutMs });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Drops a schema and everything in it (tests and benchmarks clean up their own). */
export async function dropSchema(url: string, schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS ${assertSchemaName(schema)} CASCADE`);
  } finally {
    await client.end();
  }
}
