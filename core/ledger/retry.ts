/** A transaction retried a bounded number of times on deadlock, serialization failure or a key race. */
import { isRetryableSqlError, type SqlClient, type TransactionOptions } from '../db/index.js';

export const TRANSACTION_ATTEMPTS_MAX = 8;
const RETRY_DELAY_MS_MAX = 50;

export async function inTransaction<T>(db: SqlClient, fn: (tx: SqlClient) => Promise<T>, options?: TransactionOptions): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await db.transaction(fn, options);
    } catch (error) {
      if (!isRetryableSqlError(error) || attempt >= TRANSACTION_ATTEMPTS_MAX) throw error;
      // Jittered and growing, so racing transactions stop colliding.
      await new Promise((resolve) => setTimeout(resolve, Math.random() * RETRY_DELAY_MS_MAX * attempt));
    }
  }
}
