/** Database access shared by every node: PostgreSQL when given a URL, else embedded PGlite. */
import { BiopayError, ErrorCode } from '../errors.js';
import { openPGlite } from './pglite.js';
import { openPostgres } from './postgres.js';
import type { OpenDatabaseOptions, SqlClient } from './types.js';

export type { OpenDatabaseOptions, SqlClient, SqlDialect, TransactionOptions } from './types.js';
export { isRetryableSqlError, sqlState, assertSchemaName, KEY_LOOKUP_SETTINGS } from './types.js';
export { createPGliteInstance, sharedPGliteClient } from './pglite.js';
export { dropSchema, probePostgres } from './postgres.js';

const POSTGRES_URL_PATTERN = /^postgres(ql)?:\/\//;

export async function openDatabase(options: OpenDatabaseOptions): Promise<SqlClient> {
  if (options.url && POSTGRES_URL_PATTERN.test(options.url)) {
    return openPostgres({ url: options.url, schema: options.schema, poolSize: options.poolSize });
  }
  if (options.url) {
    throw new BiopayError(ErrorCode.BadRequest, `database url must start with postgres:// or postgresql://, got "${redactUrl(options.url)}"`);
  }
  return openPGlite({ dataDir: options.dataDir, schema: options.schema });
}

/** Never print a password from a connection string. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:/@]+):[^@]*@/, '//$1:***@');
}
