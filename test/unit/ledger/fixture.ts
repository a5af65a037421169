/** Shared set-up for the ledger tests: a ledger on a fresh schema, a settable clock, and shortcuts. */
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach } from 'vitest';
import { AccountKind, SpendingPolicy, type AuthorizeRequest, type PaymentContext } from '../../../proto/gen/biopay/v1/ledger.js';
import { Ledger, type LedgerOptions } from '../../../core/ledger/index.js';
import type { DatabaseTarget, OpenedDatabase } from '../../helpers/database.js';

/** 2026-03-02 09:00 UTC, a Monday. */
export const T0_UNIX_MS = Date.UTC(2026, 2, 2, 9, 0, 0);

export class Clock {
  constructor(public nowUnixMs = T0_UNIX_MS) {}
  readonly now = (): number => this.nowUnixMs;
  advance(ms: number): void {
    this.nowUnixMs += ms;
  }
}

export interface LedgerFixture {
  ledger: Ledger;
  opened: OpenedDatabase;
  clock: Clock;
  customer(balanceMinor: bigint, options?: { currency?: string; timeZone?: string; policy?: Partial<SpendingPolicy> }): Promise<Party>;
  merchant(currency?: string): Promise<string>;
  authorizeRequest(payer: Party, merchantId: string, amountMinor: bigint, extra?: Partial<AuthorizeRequest>): AuthorizeRequest;
  close(): Promise<void>;
}

/** An account with an unrestricted owner credential, and optionally a restricted second one. */
export interface Party {
  accountId: string;
  ownerCredentialId: string;
  /** The restricted credential when a policy was given, else the owner's. */
  credentialId: string;
  currency: string;
}

export async function openLedgerFixture(target: DatabaseTarget, options: LedgerOptions = {}): Promise<LedgerFixture> {
  const opened = await target.open();
  const clock = new Clock();
  const ledger = await Ledger.open(opened.db, { nowUnixMs: clock.now, ...options });
  return {
    ledger,
    opened,
    clock,
    async customer(balanceMinor, { currency = 'EUR', timeZone = '', policy } = {}) {
      const account = await ledger.openAccount({ owner: 'customer', currency, kind: AccountKind.ACCOUNT_KIND_CUSTOMER, timeZone, idempotencyKey: '' });
      const ownerCredentialId = `cred_${randomUUID()}`;
      await ledger.registerCredential({ accountId: account.accountId, credentialId: ownerCredentialId });
      let credentialId = ownerCredentialId;
      if (policy) {
        credentialId = `cred_${randomUUID()}`;
        await ledger.registerCredential({ accountId: account.accountId, credentialId, policy: SpendingPolicy.fromPartial({ restricted: true, ...policy }) });
      }
      if (balanceMinor > 0n) await ledger.deposit({ accountId: account.accountId, amountMinor: balanceMinor, idempotencyKey: `dep_${randomUUID()}` });
      return { accountId: account.accountId, ownerCredentialId, credentialId, currency };
    },
    async merchant(currency = 'EUR') {
      const account = await ledger.openAccount({ owner: 'merchant', currency, kind: AccountKind.ACCOUNT_KIND_MERCHANT, timeZone: '', idempotencyKey: '' });
      return account.accountId;
    },
    authorizeRequest(payer, merchantId, amountMinor, extra = {}) {
      const context: PaymentContext = { terminalId: 'T1', merchantId: 'M1', location: undefined, atUnixMs: BigInt(clock.nowUnixMs) };
      return {
        paymentId: `pay_${randomUUID()}`,
        accountId: payer.accountId,
        credentialId: payer.credentialId,
        merchantAccountId: merchantId,
        amount: { amountMinor, currency: payer.currency },
        context,
        holdTimeoutMs: 0,
        ...extra,
      };
    },
    async close() {
      await ledger.close();
      await opened.cleanup();
    },
  };
}

export async function expectNoProblems(ledger: Ledger): Promise<Map<string, bigint>> {
  const report = await ledger.checkInvariants();
  if (report.problems.length > 0) throw new Error(`ledger invariants broken:\n${report.problems.join('\n')}`);
  return report.sumByCurrency;
}

/** Every rule must hold with and without group commit. */
export const LEDGER_MODES: [string, LedgerOptions][] = [
  ['one transaction per request', {}],
  ['group commit', { groupCommit: { batchSizeMax: 64, lingerMs: 1 } }],
];

/** A fresh fixture per test, checked for broken invariants and closed after it; call the getter inside tests. */
export function useLedgerFixture(target: DatabaseTarget, options: LedgerOptions): () => LedgerFixture {
  let fixture: LedgerFixture | undefined;
  beforeEach(async () => {
    fixture = await openLedgerFixture(target, options);
  });
  afterEach(async () => {
    await expectNoProblems(fixture!.ledger);
    await fixture!.close();
  });
  return () => fixture!;
}
