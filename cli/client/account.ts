/** `biopay account open|deposit|balance|statement`: accounts through the gateway. */
import { randomUUID } from 'node:crypto';
import {
  AccountKind, DepositRequest, GetAccountRequest, OpenAccountRequest, StatementRequest,
} from '../../proto/gen/biopay/v1/ledger.js';
import { assertCurrency, formatAmount, parseAmount } from '../../core/money.js';
import { assertTimeZone } from '../../core/policy/time-zone.js';
import { clientCommand, requiredFlag, stringFlag, usage, UsageError, type FlagValues } from './command.js';
import { accountJson, accountLines, statementJson, statementLines } from './format.js';

const KINDS: Readonly<Record<string, AccountKind>> = {
  customer: AccountKind.ACCOUNT_KIND_CUSTOMER,
  merchant: AccountKind.ACCOUNT_KIND_MERCHANT,
};
const STATEMENT_LIMIT_MAX = 1_000;
const DEFAULT_STATEMENT_LIMIT = 50;

function openRequest(values: FlagValues): OpenAccountRequest {
  const kindWord = stringFlag(values, 'kind') ?? 'customer';
  const kind = KINDS[kindWord];
  if (kind === undefined) throw new UsageError(`--kind must be customer or merchant, got "${kindWord}"`);
  const timeZone = stringFlag(values, 'tz') ?? '';
  if (timeZone !== '') usage(() => assertTimeZone(timeZone));
  return OpenAccountRequest.fromPartial({
    owner: requiredFlag(values, 'owner'),
    currency: usage(() => assertCurrency(requiredFlag(values, 'currency').toUpperCase())),
    kind,
    timeZone,
    idempotencyKey: stringFlag(values, 'idempotency-key') ?? randomUUID(),
  });
}

export const accountOpenCommand = clientCommand({
  name: 'account open',
  help: `
Usage: biopay account open --owner NAME --currency EUR [--kind customer|merchant] [--tz ZONE]

Opens an account. --tz is the IANA time zone of its quota periods (default UTC).
--idempotency-key KEY makes a retry return the first account instead of a second one.`,
  options: {
    owner: { type: 'string' }, currency: { type: 'string' }, kind: { type: 'string' }, tz: { type: 'string' },
    'idempotency-key': { type: 'string' },
  },
  validate: (values) => void openRequest(values),
  async run({ values, gateway, timeoutMs }) {
    const account = await gateway.openAccount(openRequest(values), { timeoutMs });
    return { json: { account: accountJson(account) }, lines: [`opened ${account.accountId}`, ...accountLines(account)] };
  },
});

export const accountDepositCommand = clientCommand({
  name: 'account deposit',
  help: `
Usage: biopay account deposit ACCOUNT AMOUNT [--idempotency-key KEY]

Adds AMOUNT (a decimal such as 100.00, in the account's currency) from the funding account.
With --idempotency-key a retry deposits once; without, every run deposits.`,
  options: { 'idempotency-key': { type: 'string' } },
  positionals: ['ACCOUNT', 'AMOUNT'],
  validate: (_values, [, amount]) => {
    if (!/^\d+(\.\d+)?$/.test(amount!.trim())) throw new UsageError(`AMOUNT must be a positive decimal such as 100.00, got "${amount}"`);
  },
  async run({ values, positionals: [accountId, amountText], gateway, timeoutMs }) {
    const before = await gateway.getAccount(GetAccountRequest.fromPartial({ accountId }), { timeoutMs });
    const amountMinor = usage(() => parseAmount(amountText!, before.currency));
    if (amountMinor <= 0n) throw new UsageError('AMOUNT must be more than 0');
    const account = await gateway.deposit(DepositRequest.fromPartial({
      accountId, amountMinor, idempotencyKey: stringFlag(values, 'idempotency-key') ?? randomUUID(),
    }), { timeoutMs });
    const deposited = formatAmount(amountMinor, account.currency);
    return {
      json: { deposited, account: accountJson(account) },
      lines: [`deposited ${deposited} ${account.currency}`, ...accountLines(account)],
    };
  },
});

export const accountBalanceCommand = clientCommand({
  name: 'account balance',
  help: `
Usage: biopay account balance ACCOUNT

Prints the balance, the available amount (balance minus holds) and the held amount.`,
  positionals: ['ACCOUNT'],
  async run({ positionals: [accountId], gateway, timeoutMs }) {
    const account = await gateway.getAccount(GetAccountRequest.fromPartial({ accountId }), { timeoutMs });
    return { json: { account: accountJson(account) }, lines: accountLines(account) };
  },
});

function wholeNumber(values: FlagValues, name: string, fallback: bigint, max: bigint): bigint {
  const text = stringFlag(values, name);
  if (text === undefined) return fallback;
  if (!/^\d{1,18}$/.test(text) || BigInt(text) > max) throw new UsageError(`--${name} must be a whole number 0..${max}, got "${text}"`);
  return BigInt(text);
}

function statementRequest(accountId: string, values: FlagValues): StatementRequest {
  const limit = wholeNumber(values, 'limit', BigInt(DEFAULT_STATEMENT_LIMIT), BigInt(STATEMENT_LIMIT_MAX));
  if (limit === 0n) throw new UsageError('--limit must be at least 1');
  return StatementRequest.fromPartial({
    accountId, afterSequence: wholeNumber(values, 'after', 0n, 9_223_372_036_854_775_807n), limit: Number(limit),
  });
}

export const accountStatementCommand = clientCommand({
  name: 'account statement',
  help: `
Usage: biopay account statement ACCOUNT [--after N] [--limit N]

Lists entries with their running balance, oldest first: --after N starts after sequence N (the
"nextAfter" of the previous page), --limit N entries per page (default ${DEFAULT_STATEMENT_LIMIT}, at most ${STATEMENT_LIMIT_MAX}).`,
  options: { after: { type: 'string' }, limit: { type: 'string' } },
  positionals: ['ACCOUNT'],
  validate: (values, [accountId]) => void statementRequest(accountId!, values),
  async run({ values, positionals: [accountId], gateway, timeoutMs }) {
    const statement = await gateway.getStatement(statementRequest(accountId!, values), { timeoutMs });
    return { json: { statement: statementJson(statement) }, lines: statementLines(statement) };
  },
});
