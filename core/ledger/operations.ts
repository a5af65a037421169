/**
 * The money-moving requests, each applied to a WorkingSet: validate everything first, then mutate.
 * A thrown BiopayError means the request changed nothing; its batch carries on without it.
 */
import {
  AccountKind,
  HoldState,
  type Account,
  type AuthorizeRequest,
  type AuthorizeResponse,
  type CaptureRequest,
  type DepositRequest,
  type PaymentState,
  type RefundRequest,
  type VoidRequest,
} from '../../proto/gen/biopay/v1/ledger.js';
import type { Refusal } from '../../proto/gen/biopay/v1/common.js';
import { BiopayError, ErrorCode } from '../errors.js';
import { formatAmount } from '../money.js';
import { checkPolicy, isUnrestricted } from '../policy/index.js';
import { accountMessage, fundingAccountId, paymentStateMessage, type AccountRow, type PaymentRow } from './rows.js';
import { insufficientFundsMessage, type WorkingSet } from './working-set.js';

export interface OperationContext {
  holdTimeoutMsDefault: number;
}

export async function applyAuthorize(ws: WorkingSet, request: AuthorizeRequest, context: OperationContext): Promise<AuthorizeResponse> {
  if (ws.payment(request.paymentId)) {
    // Only a row written without its authorize record (by an older version) gets here.
    throw new BiopayError(ErrorCode.InvalidState, `payment ${request.paymentId} already exists`);
  }
  const payer = requireAccount(ws.lockedAccount(request.accountId), request.accountId);
  const merchant = requireAccount(ws.account(request.merchantAccountId), request.merchantAccountId);
  if (merchant.kind === AccountKind.ACCOUNT_KIND_FUNDING || merchant.accountId === payer.accountId) {
    throw new BiopayError(ErrorCode.BadRequest, `account ${merchant.accountId} cannot receive this payment`);
  }
  const amountMinor = request.amount!.amountMinor;
  const atUnixMs = request.context && request.context.atUnixMs > 0n ? Number(request.context.atUnixMs) : ws.nowUnixMs;
  const refusals = await refusalsOf(ws, request, payer, merchant, atUnixMs);
  const approved = refusals.length === 0;
  const holdTimeoutMs = request.holdTimeoutMs > 0 ? request.holdTimeoutMs : context.holdTimeoutMsDefault;
  if (approved) ws.hold(payer.accountId, amountMinor);
  ws.addPayment({
    paymentId: request.paymentId,
    accountId: payer.accountId,
    credentialId: request.credentialId,
    merchantAccountId: merchant.accountId,
    currency: payer.currency,
    state: approved ? HoldState.HOLD_STATE_AUTHORIZED : HoldState.HOLD_STATE_REFUSED,
    authorizedMinor: amountMinor,
    capturedMinor: 0n,
    refundedMinor: 0n,
    atUnixMs,
    createdUnixMs: ws.nowUnixMs,
    expiresUnixMs: ws.nowUnixMs + holdTimeoutMs,
  });
  return {
    paymentId: request.paymentId,
    approved,
    refusals,
    state: approved ? HoldState.HOLD_STATE_AUTHORIZED : HoldState.HOLD_STATE_REFUSED,
    availableMinor: payer.balanceMinor - payer.heldMinor,
    firstAnswer: true,
  };
}

/** Every reason to refuse, not just the first: the person at the terminal is told all of them. */
async function refusalsOf(
  ws: WorkingSet,
  request: AuthorizeRequest,
  payer: AccountRow,
  merchant: AccountRow,
  atUnixMs: number,
): Promise<Refusal[]> {
  const amount = request.amount!;
  if (amount.currency !== payer.currency || merchant.currency !== payer.currency) {
    return [{
      code: ErrorCode.CurrencyMismatch,
      message: `payment in ${amount.currency}, payer account in ${payer.currency}, merchant account in ${merchant.currency}`,
    }];
  }
  const refusals: Refusal[] = [];
  const credential = ws.credential(request.credentialId);
  if (!credential || credential.accountId !== payer.accountId) {
    refusals.push({ code: ErrorCode.UnknownCredential, message: `credential ${request.credentialId} does not belong to account ${payer.accountId}` });
  } else if (!isUnrestricted(credential.policy)) {
    const usage = await ws.usage(credential.credentialId, credential.policy, atUnixMs, payer.timeZone);
    refusals.push(...checkPolicy({
      policy: credential.policy,
      amountMinor: amount.amountMinor,
      currency: payer.currency,
      context: { terminalId: '', merchantId: '', location: undefined, ...request.context, atUnixMs: BigInt(atUnixMs) },
      accountTimeZone: payer.timeZone,
      usage,
    }));
  }
  if (payer.balanceMinor - payer.heldMinor < amount.amountMinor) {
    refusals.push({ code: ErrorCode.InsufficientFunds, message: insufficientFundsMessage(payer, amount.amountMinor) });
  }
  return refusals;
}

export function applyCapture(ws: WorkingSet, request: CaptureRequest): PaymentState {
  const payment = requirePayment(ws, request.paymentId);
  requireState(payment, HoldState.HOLD_STATE_AUTHORIZED, 'captured');
  if (payment.expiresUnixMs <= ws.nowUnixMs) {
    throw new BiopayError(ErrorCode.InvalidState, `payment ${payment.paymentId}: the hold expired and can no longer be captured`);
  }
  const amountMinor = request.amountMinor === 0n ? payment.authorizedMinor : request.amountMinor;
  if (amountMinor > payment.authorizedMinor) {
    throw new BiopayError(
      ErrorCode.AmountOutOfRange,
      `capture of ${formatAmount(amountMinor, payment.currency)} exceeds the ${formatAmount(payment.authorizedMinor, payment.currency)} authorized`,
    );
  }
  captureHold(ws, payment, amountMinor, request.amountMinor);
  return paymentStateMessage(payment);
}

/** Moves `amountMinor` of an authorized hold to the merchant and releases the whole hold. */
function captureHold(ws: WorkingSet, payment: PaymentRow, amountMinor: bigint, captureRequestMinor: bigint): void {
  ws.transfer({
    fromId: payment.accountId,
    toId: payment.merchantAccountId,
    amountMinor,
    kind: 'capture',
    reference: payment.paymentId,
    transferId: `capture:${payment.paymentId}`,
    releaseHeldMinor: payment.authorizedMinor,
  });
  ws.changePayment(payment, { state: HoldState.HOLD_STATE_CAPTURED, capturedMinor: amountMinor, captureRequestMinor });
}

/** Voiding what holds nothing already (voided, expired, refused) answers its state unchanged. */
export function applyVoid(ws: WorkingSet, request: VoidRequest): PaymentState {
  const payment = requirePayment(ws, request.paymentId);
  if (payment.state === HoldState.HOLD_STATE_CAPTURED) {
    throw new BiopayError(ErrorCode.InvalidState, `payment ${payment.paymentId} is captured: refund it instead of voiding`);
  }
  if (payment.state === HoldState.HOLD_STATE_AUTHORIZED) releaseHold(ws, payment, HoldState.HOLD_STATE_VOIDED);
  return paymentStateMessage(payment);
}

/**
 * A due hold settled at its expiry (expiry.ts): captured in full when its business step ran,
 * released (EXPIRED) otherwise; a payment no longer authorized is left as it is. Returns its state.
 */
export function applyExpiry(ws: WorkingSet, payment: PaymentRow, businessStepRan: boolean): HoldState {
  if (payment.state !== HoldState.HOLD_STATE_AUTHORIZED) return payment.state;
  if (businessStepRan) captureHold(ws, payment, payment.authorizedMinor, 0n);
  else releaseHold(ws, payment, HoldState.HOLD_STATE_EXPIRED);
  return payment.state;
}

function releaseHold(ws: WorkingSet, payment: PaymentRow, state: HoldState): void {
  ws.release(payment.accountId, payment.authorizedMinor);
  ws.changePayment(payment, { state });
}

export function applyRefund(ws: WorkingSet, request: RefundRequest): PaymentState {
  const payment = requirePayment(ws, request.paymentId);
  requireState(payment, HoldState.HOLD_STATE_CAPTURED, 'refunded');
  const refundableMinor = payment.capturedMinor - payment.refundedMinor;
  if (request.amountMinor > refundableMinor) {
    throw new BiopayError(
      ErrorCode.AmountOutOfRange,
      `refund of ${formatAmount(request.amountMinor, payment.currency)} exceeds the ${formatAmount(refundableMinor, payment.currency)} still refundable`,
    );
  }
  ws.transfer({
    fromId: payment.merchantAccountId,
    toId: payment.accountId,
    amountMinor: request.amountMinor,
    kind: 'refund',
    reference: request.refundId,
    transferId: `refund:${request.refundId}`,
  });
  ws.changePayment(payment, { refundedMinor: payment.refundedMinor + request.amountMinor });
  ws.addRefund({ refundId: request.refundId, paymentId: payment.paymentId, amountMinor: request.amountMinor });
  return paymentStateMessage(payment);
}

export function applyDeposit(ws: WorkingSet, request: DepositRequest, transferKey: string): Account {
  const account = requireAccount(ws.lockedAccount(request.accountId), request.accountId);
  if (account.kind === AccountKind.ACCOUNT_KIND_FUNDING) {
    throw new BiopayError(ErrorCode.BadRequest, `cannot deposit into funding account ${account.accountId}`);
  }
  ws.transfer({
    fromId: fundingAccountId(account.currency),
    toId: account.accountId,
    amountMinor: request.amountMinor,
    kind: 'deposit',
    reference: request.idempotencyKey || transferKey,
    transferId: `deposit:${transferKey}`,
  });
  return accountMessage(account);
}

function requireAccount(account: AccountRow | undefined, accountId: string): AccountRow {
  if (!account) throw new BiopayError(ErrorCode.UnknownAccount, `unknown account ${accountId}`);
  return account;
}

function requirePayment(ws: WorkingSet, paymentId: string): PaymentRow {
  const payment = ws.payment(paymentId);
  if (!payment) throw new BiopayError(ErrorCode.UnknownPayment, `unknown payment ${paymentId}`);
  return payment;
}

const STATE_WORDS: Record<number, string> = {
  [HoldState.HOLD_STATE_AUTHORIZED]: 'authorized',
  [HoldState.HOLD_STATE_CAPTURED]: 'captured',
  [HoldState.HOLD_STATE_VOIDED]: 'voided',
  [HoldState.HOLD_STATE_REFUSED]: 'refused',
  [HoldState.HOLD_STATE_EXPIRED]: 'expired',
};

function requireState(payment: PaymentRow, state: HoldState, verb: string): void {
  if (payment.state !== state) {
    throw new BiopayError(
      ErrorCode.InvalidState,
      `payment ${payment.paymentId} is ${STATE_WORDS[payment.state] ?? 'in an unknown state'} and cannot be ${verb}`,
    );
  }
}
