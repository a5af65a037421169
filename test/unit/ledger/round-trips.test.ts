/**
 * The statements a payment batch costs: every round trip to the database is a wake-up of its
 * backend and of ours, the largest cost of a small batch. A batch of authorizes reads in one
 * statement and writes in one; a capture adds one (its merchant, locked only to credit it).
 * BEGIN and COMMIT add two more to each.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Ledger } from '../../../core/ledger/index.js';
import type { SqlClient } from '../../../core/db/index.js';
import { databaseTargets } from '../../helpers/database.js';
import { openLedgerFixture, type LedgerFixture } from './fixture.js';

const targets = await databaseTargets();

/** A client counting the statements run inside its transactions (BEGIN and COMMIT excluded). */
function countingClient(db: SqlClient, counter: { statements: number }): SqlClient {
  const wrap = (tx: SqlClient): SqlClient => ({
    dialect: tx.dialect,
    query: (sql, params) => {
      counter.statements++;
      return tx.query(sql, params);
    },
    transaction: (fn) => tx.transaction((inner) => fn(wrap(inner))),
    close: () => tx.close(),
  });
  return { dialect: db.dialect, query: (sql, params) => db.query(sql, params), transaction: (fn) => db.transaction((tx) => fn(wrap(tx))), close: () => db.close() };
}

describe.each(targets)('round trips per payment batch on $name', (target) => {
  let f: LedgerFixture | undefined;
  afterEach(async () => {
    await f?.close();
    f = undefined;
  });

  it('authorize: 2 statements; capture: 3 (whatever the batch size); refund: 4', async () => {
    f = await openLedgerFixture(target);
    const payers = await Promise.all([f.customer(10_00n), f.customer(10_00n)]);
    const merchant = await f.merchant();
    const counter = { statements: 0 };
    const counted = await Ledger.open(countingClient(f.opened.db, counter), { nowUnixMs: f.clock.now, groupCommit: { lingerMs: 50 } });
    try {
      const requests = payers.map((payer) => f!.authorizeRequest(payer, merchant, 3_00n));
      counter.statements = 0;
      const holds = await Promise.all(requests.map((request) => counted.authorize(request)));
      expect(holds.map((hold) => hold.approved)).toEqual([true, true]);
      expect(counter.statements).toBe(2);

      counter.statements = 0;
      await Promise.all(requests.map((request) => counted.capture({ paymentId: request.paymentId, amountMinor: 3_00n })));
      expect(counter.statements).toBe(3);

      counter.statements = 0;
      await counted.refund({ refundId: 'refund-1', paymentId: requests[0]!.paymentId, amountMinor: 1_00n });
      // Its idempotency record lives in its own table: read, then written beside the batch's rows.
      expect(counter.statements).toBe(4);
      expect((await counted.getAccount(merchant)).balanceMinor).toBe(5_00n);
    } finally {
      await counted.close();
    }
  });
});
