/** The ledger: accounts, holds, payments, refunds, spending policies. */
export { Ledger, HOLD_TIMEOUT_MS_DEFAULT, type LedgerOptions } from './ledger.js';
export type { RegisterCredentialRequest, PolicyChange, PolicyChangeRequest } from './credentials.js';
export { BATCH_INTERVAL_MS_MAX, GroupCommitter, GROUP_COMMIT_DEFAULTS, type CommitCounts, type GroupCommitOptions } from './group-commit.js';
export type { InvariantReport } from './invariants.js';
export type { BusinessStepLookup, ExpiredHoldsSettled } from './expiry.js';
export { STATEMENT_LIMIT_DEFAULT, STATEMENT_LIMIT_MAX } from './accounts.js';
export { fundingAccountId } from './rows.js';
export { checkLedger, readPayment } from './audit-queries.js';
