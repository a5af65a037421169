/**
 * Transactions through SqlClient on both drivers. On PostgreSQL BEGIN travels with a transaction's
 * first statement and COMMIT with `queryAndCommit` (pipelined), so these pin the outcomes that
 * must not change with it: all or nothing, a failing last statement rolls everything back, a
 * savepoint rolls back alone, and nothing may run after the committing statement.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { KEY_LOOKUP_SETTINGS } from '../../../core/db/index.js';
import { databaseTargets, type OpenedDatabase } from '../../helpers/database.js';

const targets = await databaseTargets();

describe.each(targets)('SqlClient transactions on $name', (target) => {
  let opened: OpenedDatabase | undefined;
  afterEach(async () => {
    await opened?.cleanup();
    opened = undefined;
  });

  async function openTable(): Promise<OpenedDatabase> {
    opened = await target.open();
    await opened.db.query('CREATE TABLE kv (k text PRIMARY KEY, v int8 NOT NULL)');
    return opened;
  }

  async function keys(o: OpenedDatabase): Promise<string[]> {
    return (await o.db.query<{ k: string }>('SELECT k FROM kv ORDER BY k')).rows.map((row) => row.k);
  }

  it('commits the statements with the last one and returns its rows', async () => {
    const o = await openTable();
    const rows = await o.db.transaction(async (tx) => {
      await tx.query('INSERT INTO kv VALUES ($1, $2)', ['a', 1]);
      return (await tx.queryAndCommit<{ k: string }>('INSERT INTO kv VALUES ($1, $2) RETURNING k', ['b', 2])).rows;
    });
    expect(rows).toEqual([{ k: 'b' }]);
    expect(await keys(o)).toEqual(['a', 'b']);
  });

  it('a failing last statement rolls back the whole transaction', async () => {
    const o = await openTable();
    await o.db.query('INSERT INTO kv VALUES ($1, $2)', ['taken', 0]);
    const failed = o.db.transaction(async (tx) => {
      await tx.query('INSERT INTO kv VALUES ($1, $2)', ['a', 1]);
      await tx.queryAndCommit('INSERT INTO kv VALUES ($1, $2)', ['taken', 2]);
    });
    await expect(failed).rejects.toMatchObject({ code: '23505' });
    expect(await keys(o)).toEqual(['taken']);
    // The connection is clean afterwards: the next transaction is its own.
    await o.db.transaction((tx) => tx.queryAndCommit('INSERT INTO kv VALUES ($1, $2)', ['c', 3]));
    expect(await keys(o)).toEqual(['c', 'taken']);
  });

  it('a failing first statement leaves nothing behind', async () => {
    const o = await openTable();
    const failed = o.db.transaction(async (tx) => {
      await tx.query('INSERT INTO kv VALUES ($1, $2::int8)', ['a', 'not a number']);
    });
    await expect(failed).rejects.toMatchObject({ code: '22P02' });
    expect(await keys(o)).toEqual([]);
  });

  it('an error thrown between statements rolls back what ran', async () => {
    const o = await openTable();
    const failed = o.db.transaction(async (tx) => {
      await tx.query('INSERT INTO kv VALUES ($1, $2)', ['a', 1]);
      throw new Error('refused in between');
    });
    await expect(failed).rejects.toThrow('refused in between');
    expect(await keys(o)).toEqual([]);
  });

  it('a transaction without statements commits nothing and succeeds', async () => {
    const o = await openTable();
    expect(await o.db.transaction(async () => 42)).toBe(42);
  });

  it('nothing may run after the committing statement', async () => {
    const o = await openTable();
    const misuse = o.db.transaction(async (tx) => {
      await tx.query('INSERT INTO kv VALUES ($1, $2)', ['a', 1]);
      await tx.queryAndCommit('INSERT INTO kv VALUES ($1, $2)', ['b', 2]);
      await tx.query('INSERT INTO kv VALUES ($1, $2)', ['c', 3]);
    });
    await expect(misuse).rejects.toThrow(/no statement may follow/);
    expect(await keys(o)).not.toContain('c');
  });

  it('in a savepoint the committing statement is ordinary and rolls back alone', async () => {
    const o = await openTable();
    await o.db.transaction(async (tx) => {
      await tx.query('INSERT INTO kv VALUES ($1, $2)', ['a', 1]);
      await expect(
        tx.transaction(async (inner) => {
          await inner.queryAndCommit('INSERT INTO kv VALUES ($1, $2)', ['b', 2]);
          throw new Error('undo the savepoint');
        }),
      ).rejects.toThrow('undo the savepoint');
      await tx.queryAndCommit('INSERT INTO kv VALUES ($1, $2)', ['c', 3]);
    });
    expect(await keys(o)).toEqual(['a', 'c']);
  });

  it('concurrent transactions each keep their own statements', async () => {
    const o = await openTable();
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        o.db.transaction(async (tx) => {
          await tx.query('INSERT INTO kv VALUES ($1, $2)', [`k${String(i).padStart(2, '0')}`, i]);
          if (i % 4 === 0) throw new Error('rolled back');
          await tx.queryAndCommit('UPDATE kv SET v = v + 100 WHERE k = $1', [`k${String(i).padStart(2, '0')}`]);
        }).catch(() => undefined),
      ),
    );
    const rows = (await o.db.query<{ k: string; v: bigint }>('SELECT k, v FROM kv ORDER BY k')).rows;
    expect(rows).toHaveLength(15);
    for (const row of rows) expect(row.v).toBe(BigInt(Number(row.k.slice(1)) + 100));
  });

  it('keyLookups planning holds for its transaction only, savepoints included', async () => {
    const o = await openTable();
    const show = async (tx: { query: OpenedDatabase['db']['query'] }) => {
      const settings: Record<string, string> = {};
      for (const name of Object.keys(KEY_LOOKUP_SETTINGS)) {
        settings[name] = (await tx.query<{ value: string }>('SELECT current_setting($1) AS value', [name])).rows[0]!.value;
      }
      return settings;
    };
    const inside = await o.db.transaction(async (tx) => ({ outer: await show(tx), savepoint: await tx.transaction((inner) => show(inner)) }), { planning: 'keyLookups' });
    expect(inside.outer).toEqual(KEY_LOOKUP_SETTINGS);
    expect(inside.savepoint).toEqual(KEY_LOOKUP_SETTINGS);
    const after = await o.db.transaction((tx) => show(tx));
    expect(after).not.toEqual(KEY_LOOKUP_SETTINGS);
    expect(after['plan_cache_mode']).toBe('auto');
  });

  it('keyLookups keeps index lookups for a statement that ordinary transactions ran first', async () => {
    const o = await openTable();
    await o.db.query('INSERT INTO kv SELECT g::text, g FROM generate_series(1, 1000) AS g');
    await o.db.query('ANALYZE kv');
    const lock = 'SELECT k, v FROM kv WHERE k = ANY($1::text[]) ORDER BY k FOR UPDATE';
    // Ordinary transactions, one after another (a pool hands back the same connection): for ten
    // keys, as PostgreSQL guesses an unbound array to hold, reading the thousand rows is cheaper
    // than ten index lookups, and past five executions that plan is kept for the statement.
    for (let run = 0; run < 8; run++) await o.db.transaction((tx) => tx.query(lock, [['1']]));
    // The backend's scan counts not yet reported (earlier transactions' may be among them).
    const counts = async (tx: { query: OpenedDatabase['db']['query'] }) => {
      const [row] = (await tx.query<{ seq_scan: bigint; idx_scan: bigint }>(
        `SELECT seq_scan, idx_scan FROM pg_stat_xact_user_tables WHERE relname = 'kv' AND schemaname = current_schema()`)).rows;
      return { seq: Number(row!.seq_scan), index: Number(row!.idx_scan) };
    };
    const scans = await o.db.transaction(async (tx) => {
      const before = await counts(tx);
      const rows = (await tx.query<{ k: string }>(lock, [['7', '42']])).rows.map((row) => row.k);
      const after = await counts(tx);
      return { rows, seqScans: after.seq - before.seq, indexScans: after.index - before.index };
    }, { planning: 'keyLookups' });
    expect(scans.rows).toEqual(['42', '7']);
    expect(scans.seqScans).toBe(0);
    expect(scans.indexScans).toBeGreaterThan(0);
  });

  it('keyLookups plans a lookup once (a generic plan, parameters unbound) as an index scan, with the same rows', async () => {
    const o = await openTable();
    await o.db.query('INSERT INTO kv SELECT g::text, g FROM generate_series(1, 500) AS g');
    const lookup = 'SELECT k, v FROM kv WHERE k = ANY($1::text[]) ORDER BY k';
    const keys = ['7', '42'];
    // A statement prepared in SQL shows the plan its executions use; EXPLAIN of a parameterised
    // query would plan it with the values bound.
    const planOf = async (tx: { query: OpenedDatabase['db']['query'] }) => {
      await tx.query(`PREPARE kv_lookup(text[]) AS ${lookup}`);
      try {
        return JSON.stringify((await tx.query<{ 'QUERY PLAN': unknown }>(`EXPLAIN (FORMAT JSON) EXECUTE kv_lookup('{7,42}')`)).rows.map((row) => row['QUERY PLAN']));
      } finally {
        await tx.query('DEALLOCATE kv_lookup');
      }
    };
    const keyed = await o.db.transaction(async (tx) => ({ plan: await planOf(tx), rows: (await tx.query<{ k: string }>(lookup, [keys])).rows }), { planning: 'keyLookups' });
    // A generic plan keeps the parameter; a custom plan (the default) is planned with its value.
    expect(keyed.plan).toContain('$1');
    expect(keyed.plan).toMatch(/Index (Only )?Scan/);
    expect(keyed.plan).not.toMatch(/Seq Scan/);
    expect(await o.db.transaction((tx) => planOf(tx))).not.toContain('$1');
    expect(keyed.rows).toEqual((await o.db.query(lookup, [keys])).rows);
    expect(keyed.rows.map((row) => row.k)).toEqual(['42', '7']);
  });
});
