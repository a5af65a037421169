/**
 * SqlClient over a `pg` pool. int8 parses to bigint on this pool only (no global type mutation).
 * Connections run in pg's pipeline mode, so a transaction's BEGIN leaves with its first statement
 * and its COMMIT with its last (`queryAndCommit`), in one socket write each: a ledger batch (read
 * and lock, then write) is two round trips instead of four. Each round trip is latency that the
 * ledger's one batch in flight waits for, the more so with the database across a network.
 *
 * `keyLookups` transactions run on connections of their own, opened with KEY_LOOKUP_SETTINGS as
 * session settings. PostgreSQL keeps a prepared statement's plan per connection whatever the
 * settings were when it was planned: on a shared connection, a statement first run by an ordinary
 * transaction (a credential change locks its account with the same SQL as a ledger batch) kept its
 * sequential scan in every later batch, reading the whole accounts table once per batch. Settings
 * given at connection start also cost nothing per transaction, where SET LOCAL was parsed in each.
 */
import pg from 'pg';
import { assertSchemaName, KEY_LOOKUP_SETTINGS, normalizeParams, type SqlClient, type TransactionOptions } from './types.js';

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
  const pools = {
    default: openPool(options, sessionOptions(schema, {})),
    keyLookups: openPool(options, sessionOptions(schema, KEY_LOOKUP_SETTINGS)),
  };
  if (schema) await createSchema(pools.default, schema);
  return new PostgresClient(pools);
}

type Planning = NonNullable<TransactionOptions['planning']>;

/** A pool opens its connections when first asked for them: one that is never used costs nothing. */
function openPool(options: PostgresOptions, session: string | undefined): pg.Pool {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolSize ?? POOL_SIZE_DEFAULT,
    options: session,
    pipeline: true,
    types: { getTypeParser: typeParser as typeof pg.types.getTypeParser },
  });
  // An idle client's socket error must not crash the process; the pool drops that client.
  pool.on('error', () => undefined);
  return pool;
}

/** A connection's startup settings (`-c name=value ...`): the schema, then the planning's. */
function sessionOptions(schema: string | undefined, settings: Readonly<Record<string, string>>): string | undefined {
  const all = { ...(schema === undefined ? {} : { search_path: schema }), ...settings };
  const words = Object.entries(all).map(([name, value]) => `-c ${name}=${value}`);
  return words.length === 0 ? undefined : words.join(' ');
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

  constructor(private readonly pools: Readonly<Record<Planning, pg.Pool>>) {}

  query<Row>(sql: string, params?: unknown[]): Promise<{ rows: Row[] }> {
    return runQuery<Row>(this.pools.default as unknown as Queryable, sql, params);
  }

  queryAndCommit<Row>(sql: string, params?: unknown[]): Promise<{ rows: Row[] }> {
    return this.query<Row>(sql, params);
  }

  async transaction<T>(fn: (tx: SqlClient) => Promise<T>, options?: TransactionOptions): Promise<T> {
    const connection = await this.pools[options?.planning ?? 'default'].connect();
    const state: TransactionState = { begun: false, ended: false };
    let broken: Error | undefined;
    try {
      const result = await fn(new PostgresTransaction(connection, state));
      if (state.begun && !state.ended) {
        state.ended = true;
        await connection.query('COMMIT');
      }
      return result;
    } catch (error) {
      // After a pipelined COMMIT the transaction is over either way: PostgreSQL answers a COMMIT
      // that follows a failed statement with a rollback.
      if (state.begun && !state.ended) {
        await connection.query('ROLLBACK').catch((rollbackError: Error) => {
          broken = rollbackError;
        });
      }
      throw error;
    } finally {
      connection.release(broken);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([this.pools.default.end(), this.pools.keyLookups.end()]);
  }
}

/** A transaction's progress on its connection: BEGIN is sent with the first statement. */
interface TransactionState {
  begun: boolean;
  /** COMMIT has been sent (with the last statement). */
  ended: boolean;
}

/**
 * Statements issued together on a pipelined connection, written to the socket at once. BEGIN goes
 * out this way with the first statement: were BEGIN to fail and the statement not, the statement
 * would run outside a transaction, but BEGIN fails only with the connection, which fails both.
 */
function sendTogether<T>(connection: pg.PoolClient, send: () => T): T {
  // The socket under the pooled client: corked, the messages of several statements leave in one write.
  const socket = connection.connection.stream;
  socket.cork();
  try {
    return send();
  } finally {
    socket.uncork();
  }
}

class PostgresTransaction implements SqlClient {
  readonly dialect = 'postgres' as const;

  constructor(private readonly connection: pg.PoolClient, private readonly state: TransactionState, private readonly depth = 0) {}

  query<Row>(sql: string, params?: unknown[]): Promise<{ rows: Row[] }> {
    if (this.state.ended) return Promise.reject(committedError());
    if (this.state.begun) return runQuery<Row>(this.connection, sql, params);
    this.state.begun = true;
    const [begin, statement] = sendTogether(this.connection, () => [this.connection.query('BEGIN'), runQuery<Row>(this.connection, sql, params)] as const);
    return bothSettled(begin, statement);
  }

  /**
   * The transaction's last statement, sent with its COMMIT; resolves once both are done. In a
   * savepoint it is an ordinary statement: only the outermost transaction commits.
   */
  queryAndCommit<Row>(sql: string, params?: unknown[]): Promise<{ rows: Row[] }> {
    if (this.depth > 0 || !this.state.begun || this.state.ended) return this.query<Row>(sql, params);
    this.state.ended = true;
    const [statement, commit] = sendTogether(this.connection, () => [runQuery<Row>(this.connection, sql, params), this.connection.query('COMMIT')] as const);
    return bothSettled(commit, statement);
  }

  async transaction<T>(fn: (tx: SqlClient) => Promise<T>): Promise<T> {
    const savepoint = `sp_${this.depth + 1}`;
    await this.query(`SAVEPOINT ${savepoint}`);
    try {
      const result = await fn(new PostgresTransaction(this.connection, this.state, this.depth + 1));
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

function committedError(): Error {
  return new Error('the transaction was committed with its last statement; no statement may follow');
}

/**
 * The statement's rows once the other message sent with it is answered too. Both are awaited, so
 * neither rejection goes unhandled; the statement's own error wins (it is why a COMMIT rolled back).
 */
async function bothSettled<Row>(other: Promise<unknown>, statement: Promise<{ rows: Row[] }>): Promise<{ rows: Row[] }> {
  const [otherResult, statementResult] = await Promise.allSettled([other, statement]);
  if (statementResult.status === 'rejected') throw statementResult.reason;
  if (otherResult.status === 'rejected') throw otherResult.reason;
  return statementResult.value;
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
