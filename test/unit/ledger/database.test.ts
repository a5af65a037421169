import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../../../core/db/index.js';
import { INT64_MAX } from '../../../core/money.js';
import { databaseTargets, type OpenedDatabase } from '../../helpers/database.js';

const targets = await databaseTargets();

describe.each(targets)('SqlClient on $name', (target) => {
  let opened: OpenedDatabase;
  beforeEach(async () => {
    opened = await target.open();
  });
  afterEach(async () => {
    await opened.cleanup();
  });

  it('returns int8 as bigint, takes bigint parameters, and keeps schemas apart', async () => {
    const { db } = opened;
    await db.query('CREATE TABLE t (id int8 PRIMARY KEY, names text[])');
    await db.query('INSERT INTO t SELECT u.id, ARRAY[u.name] FROM unnest($1::int8[], $2::text[]) AS u(id, name)', [[INT64_MAX, 1n], ['max', 'one']]);
    const { rows } = await db.query<{ id: bigint }>('SELECT id FROM t WHERE id >= $1 ORDER BY id', [1n]);
    expect(rows.map((r) => r.id)).toEqual([1n, INT64_MAX]);
    const other = await target.open();
    try {
      await expect(other.db.query('SELECT * FROM t')).rejects.toThrow(/does not exist/);
    } finally {
      await other.cleanup();
    }
  });

  it('passes arrays of awkward strings, nulls, booleans and bigints through unnest intact', async () => {
    const texts = ['', 'NULL', 'with "quotes"', 'back\\slash', '\\"', 'comma,{braces}', ' spaced ', 'ünïcode ✓', null];
    const numbers = texts.map((_t, i) => (i % 4 === 0 ? null : BigInt(i) * (INT64_MAX / 10n)));
    const flags = texts.map((_t, i) => i % 2 === 0);
    const { rows } = await opened.db.query<{ t: string | null; n: bigint | null; b: boolean }>(
      'SELECT u.t, u.n, u.b FROM unnest($1::text[], $2::int8[], $3::bool[]) WITH ORDINALITY AS u(t, n, b, i) ORDER BY u.i',
      [texts, numbers, flags],
    );
    expect(rows.map((r) => r.t)).toEqual(texts);
    expect(rows.map((r) => r.n)).toEqual(numbers);
    expect(rows.map((r) => r.b)).toEqual(flags);
  });

  it('rolls back a failed transaction, and a failed nested one alone', async () => {
    const { db } = opened;
    await db.query('CREATE TABLE t (id int PRIMARY KEY)');
    await expect(db.transaction(async (tx) => {
      await tx.query('INSERT INTO t VALUES (1)');
      throw new Error('abort');
    })).rejects.toThrow('abort');
    await db.transaction(async (tx) => {
      await tx.query('INSERT INTO t VALUES (2)');
      await expect(tx.transaction(async (inner) => {
        await inner.query('INSERT INTO t VALUES (3)');
        await inner.query('INSERT INTO t VALUES (3)');
      })).rejects.toThrow();
      await tx.query('INSERT INTO t VALUES (4)');
    });
    const { rows } = await db.query<{ id: number }>('SELECT id FROM t ORDER BY id');
    expect(rows.map((r) => r.id)).toEqual([2, 4]);
  });
});

describe('openDatabase', () => {
  let dataDir: string;
  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'biopay-pglite-'));
  });
  afterEach(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it('keeps PGlite data in its folder across reopening, in the given schema', async () => {
    const first = await openDatabase({ dataDir, schema: 'ledger' });
    expect(first.dialect).toBe('pglite');
    await first.query('CREATE TABLE kept (v int8)');
    await first.query('INSERT INTO kept VALUES ($1)', [42n]);
    await first.close();
    const second = await openDatabase({ dataDir, schema: 'ledger' });
    try {
      expect((await second.query<{ v: bigint }>('SELECT v FROM ledger.kept')).rows).toEqual([{ v: 42n }]);
    } finally {
      await second.close();
    }
  });

  it('refuses a URL it cannot serve and an unsafe schema name', async () => {
    await expect(openDatabase({ url: 'mysql://x' })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    await expect(openDatabase({ schema: 'x; DROP TABLE y' })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
  });
});
