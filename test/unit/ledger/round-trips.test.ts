/**
 * The statements a payment batch costs: every round trip to the database is a wake-up of its
 * backend and of ours, the largest cost of a small batch. A batch of authorizes reads in one
 * statement and writes in one; a capture adds one (its merchant, locked only to credit it); a void
 * or refund adds the read of its idempotency record (the record itself is written with the rest).
 * BEGIN travels with the first statement and COMMIT with the last (pipelined on PostgreSQL), so
 * each statement is one round trip.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Ledger } from '../../../core/ledger/index.js';
import type { SqlClient } from '../../../core/db/index.js';
import { databaseTargets } from '../../helpers/database.js';
import { openLedgerFixture, type LedgerFixture } from './fixture.js';

const targets = await databaseTargets();

/** A client counting the statements run inside its transactions, and those that commit them. */
function countingClient(db: SqlClient, counter: { statements: number; commits: number }): SqlClient {
  const wrap = (tx: SqlClient): SqlClient => ({
    dialect: tx.dialect,
    query: (sql, params) => {
      counter.statements++;
      return tx.query(sql, params);
    },
    queryAndCommit: (sql, params) => {
      counter.statements++;
      counter.commits++;
      return tx.queryAndCommit(sql, params);
    },
    transaction: (fn, options) => tx.transaction((inner) => fn(wrap(inner)), options),
    close: () => tx.close(),
  });
  return {
    dialect: db.dialect,
    query: (sql, params) => db.query(sql, params),
    queryAndCommit: (sql, params) => db.queryAndCommit(sql, params),
    transaction: (fn, options) => db.transaction((tx) => fn(wrap(tx)), options),
    close: () => db.close(),
  };
}

describe.each(targets)('round trips per payment batch on $name', (target) => {
  let f: LedgerFixture | undefined;
  afterEach(async () => {
    await f?.close();
    f = undefined;
  });

  it('authorize: 2 statements; capture: 3 (whatever the batch size); void and refund: 3; the last commits', async () => {
    f = await openLedgerFixture(target);
    const payers = await Promise.all([f.customer(10_00n), f.customer(10_00n)]);
    const merchant = await f.merchant();
    const counter = { statements: 0, commits: 0 };
    const counted = await Ledger.open(countingClient(f.opened.db, counter), { nowUnixMs: f.clock.now, groupCommit: { lingerMs: 50 } });
    try {
      const requests = payers.map((payer) => f!.authorizeRequest(payer, merchant, 3_00n));
      const reset = () => Object.assign(counter, { statements: 0, commits: 0 });
      reset();
      const holds = await Promise.all(requests.map((request) => counted.authorize(request)));
      expect(holds.map((hold) => hold.approved)).toEqual([true, true]);
      expect(counter).toEqual({ statements: 2, commits: 1 });

      reset();
      await Promise.all(requests.map((request) => counted.capture({ paymentId: request.paymentId, amountMinor: 3_00n })));
      expect(counter).toEqual({ statements: 3, commits: 1 });

      reset();
      await counted.refund({ refundId: 'refund-1', paymentId: requests[0]!.paymentId, amountMinor: 1_00n });
      // Its idempotency record lives in its own table: read, then written by the batch's last statement.
      expect(counter).toEqual({ statements: 3, commits: 1 });
      expect((await counted.getAccount(merchant)).balanceMinor).toBe(5_00n);

      const another = f.authorizeRequest(payers[1]!, merchant, 1_00n);
      expect((await counted.authorize(another)).approved).toBe(true);
      reset();
      await counted.void({ paymentId: another.paymentId, reason: 'gate jammed' });
      expect(counter).toEqual({ statements: 3, commits: 1 });
      expect(await counted.getAccount(payers[1]!.accountId)).toMatchObject({ balanceMinor: 7_00n, heldMinor: 0n });
    } finally {
      await counted.close();
    }
  });
});
