/**
 * Database targets for tests: PGlite always, PostgreSQL when reachable (DATABASE_URL, else
 * 127.0.0.1:5432 database `test`). Each open() gives a fresh schema and a cleanup that drops it.
 * With BIOPAY_REQUIRE_POSTGRES=1 an unreachable PostgreSQL fails loudly instead of being skipped.
 */
import { randomBytes } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { PGlite } from '@electric-sql/pglite';
import { createPGliteInstance, dropSchema, openDatabase, probePostgres, sharedPGliteClient, type SqlClient } from '../../core/db/index.js';

export const DEFAULT_POSTGRES_URL = 'postgres://postgres@127.0.0.1:5432/test';
const PROBE_TIMEOUT_MS = 1_500;

export interface OpenedDatabase {
  db: SqlClient;
  schema: string;
  /** Another client on the same schema (for PostgreSQL a separate pool, as a second node would have). */
  openAnother(): Promise<SqlClient>;
  cleanup(): Promise<void>;
}

export interface DatabaseTarget {
  name: 'pglite' | 'postgres';
  open(): Promise<OpenedDatabase>;
}

export function postgresUrl(): string {
  return process.env.DATABASE_URL || DEFAULT_POSTGRES_URL;
}

export function isPostgresReachable(url = postgresUrl()): Promise<boolean> {
  return probePostgres(url, PROBE_TIMEOUT_MS);
}

export async function databaseTargets(): Promise<DatabaseTarget[]> {
  const targets: DatabaseTarget[] = [{ name: 'pglite', open: openPGliteSchema }];
  const url = postgresUrl();
  if (await isPostgresReachable(url)) {
    targets.push({ name: 'postgres', open: () => openPostgresSchema(url) });
  } else if (process.env.BIOPAY_REQUIRE_POSTGRES === '1') {
    throw new Error(`BIOPAY_REQUIRE_POSTGRES=1 but PostgreSQL is unreachable at ${url.replace(/:[^:@/]*@/, ':***@')}`);
  }
  return targets;
}

export function freshSchemaName(): string {
  return `t_${randomBytes(6).toString('hex')}`;
}

/** One PGlite per test process: creating one costs seconds (initdb), a schema costs milliseconds. */
let sharedInstance: Promise<PGlite> | undefined;

function pgliteInstance(): Promise<PGlite> {
  sharedInstance ??= createTestPGlite();
  return sharedInstance;
}

/**
 * initdb takes 5-20 s on a busy two-core machine; loading a data folder dumped right after initdb
 * takes 2-3 s. The dump is cached in the temporary folder per PGlite version.
 */
async function createTestPGlite(): Promise<PGlite> {
  const cachePath = await pgliteDumpPath();
  const cached = await readFile(cachePath).catch(() => undefined);
  if (cached) {
    try {
      return await createPGliteInstance(undefined, new Blob([cached]));
    } catch {
      // A damaged cache is rebuilt below.
    }
  }
  const instance = await createPGliteInstance();
  const dump = await instance.dumpDataDir('none');
  const partial = `${cachePath}.${process.pid}`;
  await writeFile(partial, Buffer.from(await dump.arrayBuffer()));
  await rename(partial, cachePath); // atomic: a concurrent test process reads the whole dump or none
  return instance;
}

async function pgliteDumpPath(): Promise<string> {
  const require = createRequire(import.meta.url);
  let version = 'unknown';
  try {
    const entry = require.resolve('@electric-sql/pglite');
    const manifest = JSON.parse(await readFile(join(dirname(entry), '..', 'package.json'), 'utf8')) as { version?: string };
    version = manifest.version ?? version;
  } catch {
    // An unknown version still caches; it just never shares the dump across upgrades.
  }
  return join(tmpdir(), `biopay-pglite-${version}-${process.getuid?.() ?? 0}.tar`);
}

async function openPGliteSchema(): Promise<OpenedDatabase> {
  const instance = await pgliteInstance();
  const schema = freshSchemaName();
  const clients: SqlClient[] = [await sharedPGliteClient(instance, schema)];
  return {
    db: clients[0]!,
    schema,
    async openAnother() {
      const client = await sharedPGliteClient(instance, schema);
      clients.push(client);
      return client;
    },
    async cleanup() {
      for (const client of clients) await client.close();
      await instance.exec(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    },
  };
}

async function openPostgresSchema(url: string): Promise<OpenedDatabase> {
  const schema = freshSchemaName();
  const clients: SqlClient[] = [await openDatabase({ url, schema, poolSize: 8 })];
  return {
    db: clients[0]!,
    schema,
    async openAnother() {
      const client = await openDatabase({ url, schema, poolSize: 8 });
      clients.push(client);
      return client;
    },
    async cleanup() {
      for (const client of clients) await client.close();
      await dropSchema(url, schema);
    },
  };
}
