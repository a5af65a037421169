/**
 * Whole-ledger audit: money is conserved, nothing non-funding is overdrawn, holds add up, and the
 * append-only entries agree with the balances. For tests and operators; it reads every table.
 */
import type { SqlClient } from '../db/index.js';

export interface InvariantReport {
  /** Sum of all balances per currency: zero when money is conserved (funding accounts included). */
  sumByCurrency: Map<string, bigint>;
  problems: string[];
}

const PROBLEMS_MAX = 50;

const CHECKS: readonly { sql: string; describe: (row: Record<string, unknown>) => string }[] = [
  {
    sql: `SELECT account_id, balance_minor, held_minor FROM ledger_accounts WHERE kind <> 3 AND balance_minor - held_minor < 0`,
    describe: (r) => `account ${r.account_id}: available below zero (balance ${r.balance_minor}, held ${r.held_minor})`,
  },
  {
    sql: `SELECT a.account_id, a.held_minor, coalesce(h.open, 0)::text AS open FROM ledger_accounts a
          LEFT JOIN (SELECT account_id, sum(authorized_minor) AS open FROM ledger_payments WHERE state = 1 GROUP BY account_id) h
          ON h.account_id = a.account_id WHERE a.held_minor <> coalesce(h.open, 0)`,
    describe: (r) => `account ${r.account_id}: held ${r.held_minor} but open holds sum to ${r.open}`,
  },
  {
    sql: `SELECT a.account_id, a.balance_minor, coalesce(e.total, 0)::text AS total, coalesce(e.last, 0) AS last, a.last_sequence
          FROM ledger_accounts a LEFT JOIN (SELECT account_id, sum(amount_minor) AS total, max(sequence) AS last, count(*) AS n
          FROM ledger_entries GROUP BY account_id) e ON e.account_id = a.account_id
          WHERE a.balance_minor <> coalesce(e.total, 0) OR a.last_sequence <> coalesce(e.last, 0) OR a.last_sequence <> coalesce(e.n, 0)`,
    describe: (r) => `account ${r.account_id}: balance ${r.balance_minor} / sequence ${r.last_sequence} disagree with entries (sum ${r.total}, last ${r.last})`,
  },
  {
    sql: `SELECT e.account_id, e.sequence FROM ledger_entries e
          JOIN ledger_entries p ON p.account_id = e.account_id AND p.sequence = e.sequence - 1
          WHERE e.balance_after_minor <> p.balance_after_minor + e.amount_minor`,
    describe: (r) => `account ${r.account_id}: running balance breaks at sequence ${r.sequence}`,
  },
  {
    sql: `SELECT transfer_id, sum(amount_minor)::text AS total FROM ledger_entries GROUP BY transfer_id HAVING sum(amount_minor) <> 0`,
    describe: (r) => `transfer ${r.transfer_id}: entries sum to ${r.total}, not zero`,
  },
  {
    sql: `SELECT p.payment_id, p.refunded_minor, coalesce(r.total, 0)::text AS total FROM ledger_payments p
          LEFT JOIN (SELECT payment_id, sum(amount_minor) AS total FROM ledger_refunds GROUP BY payment_id) r
          ON r.payment_id = p.payment_id WHERE p.refunded_minor <> coalesce(r.total, 0)`,
    describe: (r) => `payment ${r.payment_id}: refunded ${r.refunded_minor} but refunds sum to ${r.total}`,
  },
];

export async function checkInvariants(db: SqlClient): Promise<InvariantReport> {
  return db.transaction(async (tx) => {
    // One snapshot for every check, so concurrent payments cannot make a consistent ledger look broken.
    await tx.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ');
    const { rows } = await tx.query<{ currency: string; total: string }>(
      'SELECT currency, sum(balance_minor)::text AS total FROM ledger_accounts GROUP BY currency ORDER BY currency',
    );
    const sumByCurrency = new Map(rows.map((row) => [row.currency, BigInt(row.total)]));
    const problems: string[] = [];
    for (const [currency, total] of sumByCurrency) {
      if (total !== 0n) problems.push(`currency ${currency}: balances sum to ${total}, not zero`);
    }
    for (const check of CHECKS) {
      const result = await tx.query<Record<string, unknown>>(`${check.sql} LIMIT ${PROBLEMS_MAX}`);
      problems.push(...result.rows.map(check.describe));
    }
    return { sumByCurrency, problems };
  });
}
