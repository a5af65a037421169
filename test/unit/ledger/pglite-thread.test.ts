import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, sqlState, type SqlClient } from '../../../core/db/index.js';
import { isBiopayError } from '../../../core/errors.js';
import { PGLITE_THREAD_NAME } from '../../../core/thread-names.js';

/** The embedded ledger's PGlite runs in a thread of its own (core/db/pglite-thread.ts). */
describe('PGlite in its own thread', () => {
  let db: SqlClient;
  beforeAll(async () => {
    db = await openDatabase({ schema: 'biopay_thread_test' });
    await db.query('CREATE TABLE t (id int8 PRIMARY KEY, note text NOT NULL)');
    await db.query('CREATE TABLE counter (n int8 NOT NULL)');
    await db.query('INSERT INTO counter VALUES (0)');
  }, 60_000);
  afterAll(async () => {
    await db?.close();
  });

  it('runs in a thread named for it, not on the event loop', () => {
    if (process.platform !== 'linux') return;
    const names = readdirSync('/proc/self/task').map((tid) => readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim());
    expect(names).toContain(PGLITE_THREAD_NAME);
  });

  it('answers rows with int8 as bigint, and errors with their SQLSTATE and fields', async () => {
    await db.query('INSERT INTO t VALUES ($1, $2)', [9_007_199_254_740_993n, 'past 2^53']);
    expect((await db.query('SELECT id, note FROM t WHERE id = $1', [9_007_199_254_740_993n])).rows).toEqual([{ id: 9_007_199_254_740_993n, note: 'past 2^53' }]);
    const duplicate = await db.query('INSERT INTO t VALUES ($1, $2)', [9_007_199_254_740_993n, 'again']).catch((error: unknown) => error);
    expect(sqlState(duplicate)).toBe('23505');
    expect(duplicate).toMatchObject({ constraint: 't_pkey' });
    expect(String((duplicate as Error).message)).toMatch(/duplicate key/);
  });

  it('rolls a failed transaction back whole, and a failed savepoint alone', async () => {
    await expect(db.transaction(async (tx) => {
      await tx.query('INSERT INTO t VALUES (1, $1)', ['rolled back']);
      throw new Error('the caller gave up');
    })).rejects.toThrow('the caller gave up');
    const kept = await db.transaction(async (tx) => {
      await tx.query('INSERT INTO t VALUES (2, $1)', ['kept']);
      await expect(tx.transaction((inner) => inner.query('INSERT INTO t VALUES (2, $1)', ['twice']))).rejects.toMatchObject({ code: '23505' });
      return tx.queryAndCommit<{ note: string }>('SELECT note FROM t WHERE id IN (1, 2) ORDER BY id');
    }, { planning: 'keyLookups' });
    expect(kept.rows).toEqual([{ note: 'kept' }]);
    // The last statement, which carries the COMMIT, fails: the transaction is rolled back and the
    // session takes the next one.
    await expect(db.transaction(async (tx) => {
      await tx.query('INSERT INTO t VALUES (3, $1)', ['not kept']);
      return tx.queryAndCommit('INSERT INTO t VALUES (2, $1)', ['twice']);
    })).rejects.toMatchObject({ code: '23505' });
    expect((await db.query('SELECT count(*)::int8 AS n FROM t WHERE id = 3')).rows).toEqual([{ n: 0n }]);
    await db.transaction((tx) => tx.queryAndCommit('INSERT INTO t VALUES (4, $1)', ['after']));
    expect((await db.query('SELECT note FROM t WHERE id = 4')).rows).toEqual([{ note: 'after' }]);
  });

  it('keeps each transaction whole while many run at once: no update is lost', async () => {
    // Read, then write what was read plus one: two transactions interleaving would lose one.
    await Promise.all(Array.from({ length: 40 }, () => db.transaction(async (tx) => {
      const { rows } = await tx.query<{ n: bigint }>('SELECT n FROM counter');
      await tx.queryAndCommit('UPDATE counter SET n = $1', [rows[0]!.n + 1n]);
    })));
    expect((await db.query<{ n: bigint }>('SELECT n FROM counter')).rows[0]!.n).toBe(40n);
  });

  it('does not hold a process open when nobody closed it', async () => {
    const script = `import { openDatabase } from ${JSON.stringify(new URL('../../../dist/core/db/index.js', import.meta.url).href)};
      const db = await openDatabase({});
      console.log((await db.query('SELECT 41 + 1 AS n')).rows[0].n);`;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
    // It answered while a statement was out, then exited on its own: never closed, never killed.
    expect(child.signal, child.stderr).toBeNull();
    expect(child.stdout.trim()).toBe('42');
    expect(child.status).toBe(0);
  }, 60_000);

  it('ends its thread when PGlite cannot open', async () => {
    const threads = () => readdirSync('/proc/self/task').filter((tid) => readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim() === PGLITE_THREAD_NAME).length;
    const before = process.platform === 'linux' ? threads() : 0;
    // A data folder where a file stands: PGlite cannot make it.
    const file = join(mkdtempSync(join(tmpdir(), 'biopay-pglite-')), 'a-file');
    writeFileSync(file, 'not a folder');
    await expect(openDatabase({ dataDir: file })).rejects.toThrow();
    if (process.platform === 'linux') expect(threads()).toBe(before);
  }, 60_000);

  it('refuses statements once closed, as UNAVAILABLE', async () => {
    const other = await openDatabase({});
    await other.close();
    const refused = await other.query('SELECT 1').catch((error: unknown) => error);
    expect(isBiopayError(refused)).toBe(true);
    expect(refused).toMatchObject({ code: 'UNAVAILABLE' });
    await other.close();
  }, 60_000);
});
