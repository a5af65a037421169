/** Gateway answers as the CLI's JSON objects and text lines: amounts as decimal strings. */
import { accountKindToJSON, type Account, type Statement, type StatementEntry } from '../../proto/gen/biopay/v1/ledger.js';
import { paymentOutcomeToJSON, type PaymentResult } from '../../proto/gen/biopay/v1/payment.js';
import { formatAmount } from '../../core/money.js';

/** `ACCOUNT_KIND_MERCHANT` -> `merchant`. */
function enumWord(text: string, prefix: string): string {
  return text.startsWith(prefix) ? text.slice(prefix.length).toLowerCase() : text.toLowerCase();
}

export function money(amountMinor: bigint, currency: string): string {
  return `${formatAmount(amountMinor, currency)} ${currency}`;
}

export function accountJson(account: Account): Record<string, unknown> {
  const amount = (minor: bigint) => formatAmount(minor, account.currency);
  return {
    accountId: account.accountId,
    owner: account.owner,
    kind: enumWord(accountKindToJSON(account.kind), 'ACCOUNT_KIND_'),
    currency: account.currency,
    timeZone: account.timeZone || 'UTC',
    balance: amount(account.balanceMinor),
    available: amount(account.availableMinor),
    held: amount(account.heldMinor),
  };
}

export function accountLines(account: Account): string[] {
  return [
    `account ${account.accountId} (${account.owner}, ${enumWord(accountKindToJSON(account.kind), 'ACCOUNT_KIND_')}, ${account.timeZone || 'UTC'})`,
    `balance:   ${money(account.balanceMinor, account.currency)}`,
    `available: ${money(account.availableMinor, account.currency)}`,
    `held:      ${money(account.heldMinor, account.currency)}`,
  ];
}

function entryJson(entry: StatementEntry, currency: string): Record<string, unknown> {
  return {
    sequence: entry.sequence.toString(),
    at: new Date(Number(entry.atUnixMs)).toISOString(),
    kind: entry.kind,
    reference: entry.reference,
    amount: formatAmount(entry.amountMinor, currency),
    balanceAfter: formatAmount(entry.balanceAfterMinor, currency),
  };
}

export function statementJson(statement: Statement): Record<string, unknown> {
  return {
    accountId: statement.accountId,
    currency: statement.currency,
    entries: statement.entries.map((entry) => entryJson(entry, statement.currency)),
    nextAfter: statement.nextAfterSequence.toString(),
    hasMore: statement.hasMore,
  };
}

export function statementLines(statement: Statement): string[] {
  const rows = statement.entries.map((entry) => {
    const row = entryJson(entry, statement.currency);
    return `${String(row.sequence).padStart(6)}  ${row.at}  ${String(row.amount).padStart(12)}  ${String(row.balanceAfter).padStart(12)}  ${entry.kind} ${entry.reference}`;
  });
  const more = statement.hasMore ? [`more: biopay account statement ${statement.accountId} --after ${statement.nextAfterSequence}`] : [];
  return [
    `statement of ${statement.accountId} (${statement.currency})`,
    `   seq  ${'at'.padEnd(24)}  ${'amount'.padStart(12)}  ${'balance'.padStart(12)}  what`,
    ...rows,
    ...(rows.length === 0 ? ['(no entries)'] : []),
    ...more,
  ];
}

export function paymentJson(result: PaymentResult, requested: { amountMinor: bigint; currency: string }, terminalId: string): Record<string, unknown> {
  const amount = result.amount ?? requested;
  return {
    paymentId: result.paymentId,
    terminalId,
    outcome: enumWord(paymentOutcomeToJSON(result.outcome), 'PAYMENT_OUTCOME_'),
    amount: formatAmount(amount.amountMinor, amount.currency),
    currency: amount.currency,
    accountId: result.accountId,
    credentialId: result.credentialId,
    matchScore: result.matchScore,
    refusals: result.refusals.map((refusal) => ({ code: refusal.code, message: refusal.message })),
  };
}

export function paymentLines(json: Record<string, unknown>): string[] {
  const amount = `${String(json.amount)} ${String(json.currency)}`;
  const head = json.outcome === 'approved'
    ? `approved: ${amount} charged to account ${String(json.accountId)} (credential ${String(json.credentialId)})`
    : `${String(json.outcome)}: ${amount} not charged`;
  const reasons = (json.refusals as { code: string; message: string }[]).map((refusal) => `  - ${refusal.message} [${refusal.code}]`);
  return [head, ...reasons, `payment ${String(json.paymentId)} at terminal ${String(json.terminalId)}`];
}
