/**
 * The ledger of an account node: double-entry accounts, holds, payments, refunds and spending
 * policies, on PostgreSQL or PGlite. Money-moving requests are idempotent and, with group commit,
 * committed many per transaction.
 */
import {
  SpendingPolicy,
  type Account,
  type AuthorizeRequest,
  type AuthorizeResponse,
  type CaptureRequest,
  type Credential,
  type DepositRequest,
  type OpenAccountRequest,
  type PaymentState,
  type RefundRequest,
  type Statement,
  type StatementRequest,
  type VoidRequest,
} from '../../proto/gen/biopay/v1/ledger.js';
import { BiopayError, ErrorCode } from '../errors.js';
import type { SqlClient } from '../db/index.js';
import * as accounts from './accounts.js';
import { runBatch, type BatchContext } from './batch.js';
import { settleExpiredHolds, type BusinessStepLookup, type ExpiredHoldsSettled } from './expiry.js';
import * as credentials from './credentials.js';
import { GroupCommitter, type CommitCounts, type GroupCommitOptions } from './group-commit.js';
import { checkInvariants, type InvariantReport } from './invariants.js';
import type { LedgerOp, LedgerOpKind, ResultByKind } from './requests.js';
import { HOLD_TIMEOUT_MS_MAX } from './requests.js';
import { migrateLedger } from './schema.js';
import { WorkingSet } from './working-set.js';
import type { PolicyUsage } from '../policy/index.js';

export interface LedgerOptions {
  /** Hold lifetime when a request does not say; default 2 minutes. */
  holdTimeoutMs?: number;
  nowUnixMs?: () => number;
  /** Commit money-moving requests many per transaction. */
  groupCommit?: GroupCommitOptions;
}

export const HOLD_TIMEOUT_MS_DEFAULT = 120_000;
const EXPIRE_BATCH_DEFAULT = 1_000;
const EXPIRE_BATCH_MAX = 10_000;

export class Ledger {
  readonly #db: SqlClient;
  readonly #context: BatchContext;
  readonly #committer: GroupCommitter<LedgerOp> | undefined;
  #closed = false;

  private constructor(db: SqlClient, options: LedgerOptions) {
    const holdTimeoutMs = options.holdTimeoutMs ?? HOLD_TIMEOUT_MS_DEFAULT;
    if (!Number.isInteger(holdTimeoutMs) || holdTimeoutMs <= 0 || holdTimeoutMs > HOLD_TIMEOUT_MS_MAX) {
      throw new BiopayError(ErrorCode.BadRequest, `holdTimeoutMs must be an integer in 1..${HOLD_TIMEOUT_MS_MAX}`);
    }
    this.#db = db;
    this.#context = { holdTimeoutMsDefault: holdTimeoutMs, nowUnixMs: options.nowUnixMs ?? Date.now };
    this.#committer = options.groupCommit
      ? new GroupCommitter<LedgerOp>((ops) => runBatch(this.#db, ops, this.#context), options.groupCommit)
      : undefined;
  }

  /** Opens the ledger on a database, creating or upgrading its tables (idempotent). */
  static async open(db: SqlClient, options: LedgerOptions = {}): Promise<Ledger> {
    await migrateLedger(db);
    return new Ledger(db, options);
  }

  get dialect(): SqlClient['dialect'] {
    return this.#db.dialect;
  }

  /** The group committer's transactions and requests so far (undefined without group commit). */
  get commitCounts(): CommitCounts | undefined {
    return this.#committer?.counts;
  }

  openAccount(request: OpenAccountRequest): Promise<Account> {
    return accounts.openAccount(this.#db, request, this.#now());
  }

  getAccount(accountId: string): Promise<Account> {
    return accounts.getAccount(this.#db, accountId);
  }

  statement(request: StatementRequest): Promise<Statement> {
    return accounts.statement(this.#db, request);
  }

  /** Moves money from the currency's funding account into the account. */
  deposit(request: DepositRequest): Promise<Account> {
    return this.#submit('deposit', request);
  }

  registerCredential(request: credentials.RegisterCredentialRequest): Promise<Credential> {
    return credentials.registerCredential(this.#db, request, this.#now());
  }

  getPolicy(credentialId: string): Promise<Credential> {
    return credentials.getPolicy(this.#db, credentialId);
  }

  /** Only an unrestricted credential of the same account may authorize the change (NOT_AUTHORIZED). */
  setPolicy(request: credentials.PolicyChangeRequest): Promise<Credential> {
    return credentials.setPolicy(this.#db, request, this.#now());
  }

  removeCredential(credentialId: string): Promise<void> {
    return credentials.removeCredential(this.#db, credentialId, this.#now());
  }

  /** What the credential has used of each limited period containing `atUnixMs` (captured + held). */
  async policyUsage(credentialId: string, atUnixMs = this.#now()): Promise<PolicyUsage> {
    const credential = await this.getPolicy(credentialId);
    const account = await this.getAccount(credential.accountId);
    const policy = SpendingPolicy.fromPartial(credential.policy ?? {});
    return new WorkingSet(this.#db, this.#now()).usage(credentialId, policy, atUnixMs, account.timeZone);
  }

  policyChanges(credentialId: string): Promise<credentials.PolicyChange[]> {
    return credentials.policyChanges(this.#db, credentialId);
  }

  /** Checks currency, credential, policy and balance, and places a hold when all pass. */
  authorize(request: AuthorizeRequest): Promise<AuthorizeResponse> {
    return this.#submit('authorize', request);
  }

  /** Captures all (amount 0) or part of a hold; the rest is released. */
  capture(request: CaptureRequest): Promise<PaymentState> {
    return this.#submit('capture', request);
  }

  void(request: VoidRequest): Promise<PaymentState> {
    return this.#submit('void', request);
  }

  refund(request: RefundRequest): Promise<PaymentState> {
    return this.#submit('refund', request);
  }

  /** Authorized holds past their expiry become EXPIRED (void semantics); returns how many. */
  async expireHolds(nowUnixMs = this.#now(), limit = EXPIRE_BATCH_DEFAULT): Promise<number> {
    return (await this.settleExpiredHolds(nowUnixMs, limit)).expired;
  }

  /**
   * Holds past their expiry settled by their business step's record (expiry.ts): captured in full
   * when it ran, released when it did not, left held when `businessSteps` cannot tell yet.
   */
  settleExpiredHolds(nowUnixMs = this.#now(), limit = EXPIRE_BATCH_DEFAULT, businessSteps?: BusinessStepLookup): Promise<ExpiredHoldsSettled> {
    if (!Number.isInteger(limit) || limit <= 0 || limit > EXPIRE_BATCH_MAX) {
      throw new BiopayError(ErrorCode.BadRequest, `expireHolds limit must be in 1..${EXPIRE_BATCH_MAX}`);
    }
    return settleExpiredHolds(this.#db, nowUnixMs, limit, businessSteps);
  }

  checkInvariants(): Promise<InvariantReport> {
    return checkInvariants(this.#db);
  }

  /**
   * Commits what is queued; the database stays open (the caller owns it). Due holds are settled by
   * whoever owns the ledger (the account node's sweeper), with what the business records say.
   */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#committer?.close();
  }

  async #submit<K extends LedgerOpKind>(kind: K, request: LedgerOp['request']): Promise<ResultByKind[K]> {
    if (this.#closed) throw new BiopayError(ErrorCode.Stopped, 'ledger is closed');
    const op = { kind, request } as LedgerOp;
    if (this.#committer) return this.#committer.submit<ResultByKind[K]>(op);
    const [outcome] = await runBatch(this.#db, [op], this.#context);
    if (!outcome!.ok) throw outcome!.error;
    return outcome!.value as ResultByKind[K];
  }

  #now(): number {
    return this.#context.nowUnixMs();
  }
}
