/**
 * The in-memory state of one ledger transaction: locked accounts, payments and credentials read
 * at its start, changed by the requests of the batch in order, and written back at its end.
 * Every mutation validates before it changes anything, so a refused request leaves no trace.
 */
import { AccountKind, type Period, type SpendingPolicy } from '../../proto/gen/biopay/v1/ledger.js';
import { BiopayError, ErrorCode } from '../errors.js';
import { formatAmount, INT64_MAX, INT64_MIN } from '../money.js';
import type { SqlClient } from '../db/index.js';
import { periodStartUnixMs, periodsUsed, type PolicyUsage } from '../policy/index.js';
import { usageContribution, type AccountRow, type CredentialRow, type EntryRow, type PaymentRow } from './rows.js';
import * as store from './store.js';
import { loadBatchState, type BatchReadPlan } from './batch-read.js';

export interface Transfer {
  fromId: string;
  toId: string;
  amountMinor: bigint;
  kind: string;
  reference: string;
  transferId: string;
  /** Hold released on the payer in the same step (capture). */
  releaseHeldMinor?: bigint;
}

interface UsageDelta {
  atUnixMs: number;
  amountMinor: bigint;
  count: number;
}

type PaymentChange = Partial<Pick<PaymentRow, 'state' | 'capturedMinor' | 'refundedMinor' | 'captureRequestMinor'>>;

export class WorkingSet {
  readonly #locked = new Map<string, AccountRow>();
  readonly #readOnly = new Map<string, AccountRow>();
  /** Accounts this batch only credits: read unlocked, locked at flush (hot merchants stay free). */
  readonly #creditOnly = new Set<string>();
  readonly #pendingCredits: { accountId: string; amountMinor: bigint; transfer: Transfer }[] = [];
  readonly #payments = new Map<string, PaymentRow>();
  readonly #credentials = new Map<string, CredentialRow>();
  readonly #dirtyAccounts = new Set<string>();
  readonly #newPayments = new Set<string>();
  readonly #changedPayments = new Set<string>();
  readonly #entries: EntryRow[] = [];
  readonly #refunds: { refundId: string; paymentId: string; amountMinor: bigint; atUnixMs: number }[] = [];
  readonly #usageDeltas = new Map<string, UsageDelta[]>();
  readonly #usageBase = new Map<string, Promise<{ amountMinor: bigint; count: number }>>();

  constructor(readonly tx: SqlClient, readonly nowUnixMs: number) {}

  // ---- loading (callers respect the lock order: payments, then accounts)

  async loadDuePayments(limit: number): Promise<PaymentRow[]> {
    const rows = await store.loadDuePayments(this.tx, this.nowUnixMs, limit);
    for (const row of rows) this.#payments.set(row.paymentId, row);
    return rows;
  }

  /** Locks `lockIds` (sorted) and reads `readIds` unlocked, in one statement. */
  async loadAccounts(lockIds: Iterable<string>, readIds: Iterable<string> = []): Promise<void> {
    // Ids also being locked are dropped by loadLockedAndRead; those locked earlier in the batch, here.
    const unlocked = [...readIds].filter((id) => !this.#locked.has(id));
    const { locked, read } = await store.loadLockedAndRead(this.tx, lockIds, unlocked);
    for (const row of locked) this.#locked.set(row.accountId, row);
    for (const row of read) this.#readOnly.set(row.accountId, row);
  }

  /**
   * Payments, accounts and credentials of a batch in one statement (batch-read.ts). A capture's
   * merchant that the batch does not lock is credit-only: money in cannot overdraw, so its lock
   * waits until flush() and is held for the writes alone, not for the whole batch.
   */
  async loadBatch(plan: BatchReadPlan): Promise<void> {
    const state = await loadBatchState(this.tx, plan);
    for (const row of state.payments) this.#payments.set(row.paymentId, row);
    for (const row of state.locked) this.#locked.set(row.accountId, row);
    for (const row of state.read) this.#readOnly.set(row.accountId, row);
    for (const row of state.credentials) this.#credentials.set(row.credentialId, row);
    const readMerchantOf = new Set(plan.readMerchantOf);
    for (const payment of state.payments) {
      if (readMerchantOf.has(payment.paymentId) && !this.#locked.has(payment.merchantAccountId)) this.#creditOnly.add(payment.merchantAccountId);
    }
  }

  // ---- reads

  lockedAccount(accountId: string): AccountRow | undefined {
    return this.#locked.get(accountId);
  }

  account(accountId: string): AccountRow | undefined {
    return this.#locked.get(accountId) ?? this.#readOnly.get(accountId);
  }

  payment(paymentId: string): PaymentRow | undefined {
    return this.#payments.get(paymentId);
  }

  credential(credentialId: string): CredentialRow | undefined {
    return this.#credentials.get(credentialId);
  }

  /** Usage of each period the policy limits, as of this point of the batch (captured + held). */
  async usage(credentialId: string, policy: SpendingPolicy, atUnixMs: number, timeZone: string): Promise<PolicyUsage> {
    const usage: PolicyUsage = { amountMinorByPeriod: new Map<Period, bigint>(), countByPeriod: new Map<Period, number>() };
    for (const period of periodsUsed(policy)) {
      const sinceUnixMs = periodStartUnixMs(period, atUnixMs, timeZone);
      const base = await this.#baseUsage(credentialId, sinceUnixMs);
      let amountMinor = base.amountMinor;
      let count = base.count;
      for (const delta of this.#usageDeltas.get(credentialId) ?? []) {
        if (delta.atUnixMs < sinceUnixMs) continue;
        amountMinor += delta.amountMinor;
        count += delta.count;
      }
      usage.amountMinorByPeriod.set(period, amountMinor);
      usage.countByPeriod.set(period, count);
    }
    return usage;
  }

  #baseUsage(credentialId: string, sinceUnixMs: number): Promise<{ amountMinor: bigint; count: number }> {
    const key = `${credentialId}\u0000${sinceUnixMs}`;
    let base = this.#usageBase.get(key);
    if (!base) {
      base = store.loadUsage(this.tx, credentialId, sinceUnixMs);
      this.#usageBase.set(key, base);
    }
    return base;
  }

  // ---- mutations

  hold(accountId: string, amountMinor: bigint): void {
    const account = this.#requireLocked(accountId);
    if (account.kind !== AccountKind.ACCOUNT_KIND_FUNDING && account.balanceMinor - account.heldMinor < amountMinor) {
      throw insufficientFunds(account, amountMinor);
    }
    account.heldMinor += amountMinor;
    this.#dirtyAccounts.add(accountId);
  }

  release(accountId: string, amountMinor: bigint): void {
    const account = this.#requireLocked(accountId);
    if (account.heldMinor < amountMinor) {
      throw new BiopayError(ErrorCode.Internal, `release of ${amountMinor} exceeds the ${account.heldMinor} held on ${accountId}`);
    }
    account.heldMinor -= amountMinor;
    this.#dirtyAccounts.add(accountId);
  }

  /** Moves money between two accounts of one currency, writing the two entries of the transfer. */
  transfer(transfer: Transfer): void {
    const from = this.#requireLocked(transfer.fromId);
    const creditLater = this.#creditOnly.has(transfer.toId);
    const to = creditLater ? this.#requireRead(transfer.toId) : this.#requireLocked(transfer.toId);
    const released = transfer.releaseHeldMinor ?? 0n;
    validateTransfer(from, to, transfer.amountMinor, released);
    from.heldMinor -= released;
    this.#post(from, -transfer.amountMinor, transfer);
    if (creditLater) this.#pendingCredits.push({ accountId: to.accountId, amountMinor: transfer.amountMinor, transfer });
    else this.#post(to, transfer.amountMinor, transfer);
  }

  addPayment(row: PaymentRow): void {
    this.#payments.set(row.paymentId, row);
    this.#newPayments.add(row.paymentId);
    this.#recordUsage(row, usageContribution(row), 1);
  }

  changePayment(row: PaymentRow, change: PaymentChange): void {
    const before = usageContribution(row);
    Object.assign(row, change);
    this.#recordUsage(row, before, -1);
    this.#recordUsage(row, usageContribution(row), 1);
    if (!this.#newPayments.has(row.paymentId)) this.#changedPayments.add(row.paymentId);
  }

  addRefund(refund: { refundId: string; paymentId: string; amountMinor: bigint }): void {
    this.#refunds.push({ ...refund, atUnixMs: this.nowUnixMs });
  }

  /**
   * Writes every change of the batch in one statement, which commits the transaction: nothing may
   * follow it. The credit-only (merchant) rows are locked just before, so they stay locked for that
   * statement and the commit only. `idempotencyRecords`: the batch's new first results, in claim
   * order (idempotency.ts recordsInClaimOrder), written by the same statement.
   */
  async flush(idempotencyRecords: store.IdempotencyRecord[] = []): Promise<void> {
    await this.#applyPendingCredits();
    const pick = (ids: Set<string>) => [...ids].map((id) => this.#payments.get(id)!);
    await store.writeBatch(this.tx, {
      nowUnixMs: this.nowUnixMs,
      idempotencyRecords,
      insertedPayments: pick(this.#newPayments),
      updatedPayments: pick(this.#changedPayments),
      refunds: this.#refunds,
      accounts: [...this.#dirtyAccounts].sort().map((id) => this.#locked.get(id)!),
      entries: this.#entries,
    });
  }

  /** Locks the credit-only accounts (sorted, like every lock) and posts their credits in batch order. */
  async #applyPendingCredits(): Promise<void> {
    if (this.#pendingCredits.length === 0) return;
    const ids = new Set(this.#pendingCredits.map((credit) => credit.accountId));
    for (const row of await store.loadAccounts(this.tx, ids, true)) this.#locked.set(row.accountId, row);
    for (const credit of this.#pendingCredits) {
      const account = this.#requireLocked(credit.accountId);
      // Checked again on the locked row: the unlocked read may be stale.
      if (account.balanceMinor + credit.amountMinor > INT64_MAX) {
        throw new BiopayError(ErrorCode.AmountOutOfRange, `balance of ${account.accountId} would exceed the int64 range`);
      }
      this.#post(account, credit.amountMinor, credit.transfer);
    }
    this.#pendingCredits.length = 0;
  }

  #post(account: AccountRow, amountMinor: bigint, transfer: Transfer): void {
    account.balanceMinor += amountMinor;
    account.lastSequence += 1n;
    this.#dirtyAccounts.add(account.accountId);
    this.#entries.push({
      accountId: account.accountId,
      sequence: account.lastSequence,
      transferId: transfer.transferId,
      atUnixMs: this.nowUnixMs,
      kind: transfer.kind,
      reference: transfer.reference,
      amountMinor,
      balanceAfterMinor: account.balanceMinor,
    });
  }

  #recordUsage(row: PaymentRow, contribution: { amountMinor: bigint; count: number }, sign: 1 | -1): void {
    if (contribution.amountMinor === 0n && contribution.count === 0) return;
    let deltas = this.#usageDeltas.get(row.credentialId);
    if (!deltas) this.#usageDeltas.set(row.credentialId, (deltas = []));
    const factor = BigInt(sign);
    deltas.push({ atUnixMs: row.atUnixMs, amountMinor: contribution.amountMinor * factor, count: contribution.count * sign });
  }

  #requireRead(accountId: string): AccountRow {
    const account = this.#readOnly.get(accountId);
    if (!account) throw new BiopayError(ErrorCode.Internal, `account ${accountId} was not read by this transaction`);
    return account;
  }

  #requireLocked(accountId: string): AccountRow {
    const account = this.#locked.get(accountId);
    if (!account) throw new BiopayError(ErrorCode.Internal, `account ${accountId} was not locked by this transaction`);
    return account;
  }
}

function validateTransfer(from: AccountRow, to: AccountRow, amountMinor: bigint, releasedMinor: bigint): void {
  if (amountMinor <= 0n) throw new BiopayError(ErrorCode.Internal, `transfer of ${amountMinor} is not positive`);
  if (from.currency !== to.currency) {
    throw new BiopayError(ErrorCode.CurrencyMismatch, `cannot move ${from.currency} into a ${to.currency} account`);
  }
  if (releasedMinor < 0n || releasedMinor > from.heldMinor) {
    throw new BiopayError(ErrorCode.Internal, `release of ${releasedMinor} exceeds the ${from.heldMinor} held on ${from.accountId}`);
  }
  const fromAvailable = from.balanceMinor - (from.heldMinor - releasedMinor);
  if (from.kind === AccountKind.ACCOUNT_KIND_FUNDING) {
    if (from.balanceMinor - amountMinor < INT64_MIN) {
      throw new BiopayError(ErrorCode.AmountOutOfRange, `funding account ${from.accountId} would leave the int64 range`);
    }
  } else if (fromAvailable < amountMinor) {
    throw insufficientFunds({ ...from, heldMinor: from.heldMinor - releasedMinor }, amountMinor);
  }
  if (to.balanceMinor + amountMinor > INT64_MAX) {
    throw new BiopayError(ErrorCode.AmountOutOfRange, `balance of ${to.accountId} would exceed the int64 range`);
  }
}

export function insufficientFunds(account: AccountRow, amountMinor: bigint): BiopayError {
  return new BiopayError(ErrorCode.InsufficientFunds, insufficientFundsMessage(account, amountMinor));
}

export function insufficientFundsMessage(account: AccountRow, amountMinor: bigint): string {
  const available = account.balanceMinor - account.heldMinor;
  return `insufficient funds: ${formatAmount(available, account.currency)} ${account.currency} available, ` +
    `${formatAmount(amountMinor, account.currency)} ${account.currency} asked`;
}
