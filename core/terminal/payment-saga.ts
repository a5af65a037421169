/**
 * One payment from one capture: identify -> authorize (hold) -> business step -> capture or void.
 * Every step is idempotent on the payment id, so a retry after any failure converges to one
 * outcome; what a vanished terminal leaves open, the account node settles at the hold's expiry by
 * the business step's record (captured when it ran, released when not: core/ledger/expiry.ts).
 */
import type { IdentifyRequest, IdentifyResponse } from '../../proto/gen/biopay/v1/biometrics.js';
import type { BusinessCommand, BusinessRecord } from '../../proto/gen/biopay/v1/business.js';
import type { Refusal } from '../../proto/gen/biopay/v1/common.js';
import type {
  AuthorizeRequest, AuthorizeResponse, CaptureRequest, PaymentState, VoidRequest,
} from '../../proto/gen/biopay/v1/ledger.js';
import {
  PaymentOutcome, type PaymentResult, type PaymentTimings, type PayRequest, type Terminal,
} from '../../proto/gen/biopay/v1/payment.js';
import { asBiopayError, BiopayError, ErrorCode, isBiopayError } from '../errors.js';
import { assertPositiveAmount } from '../money.js';

/** The calls a payment makes; the terminal node binds them to actors and JetStream. */
export interface PaymentPorts {
  identify(request: IdentifyRequest, timeoutMs: number): Promise<IdentifyResponse>;
  authorize(accountId: string, request: AuthorizeRequest, timeoutMs: number): Promise<AuthorizeResponse>;
  business(command: BusinessCommand, timeoutMs: number): Promise<BusinessRecord>;
  /** The business node's record of a payment, waited for up to `waitMs`; undefined when there is none by then. */
  businessRecord(paymentId: string, waitMs: number): Promise<BusinessRecord | undefined>;
  capture(accountId: string, request: CaptureRequest, timeoutMs: number): Promise<PaymentState>;
  void(accountId: string, request: VoidRequest, timeoutMs: number): Promise<PaymentState>;
}

export interface PaymentTimeouts {
  readonly identifyMs: number;
  readonly authorizeMs: number;
  /**
   * The business step's deadline, from when its command is issued. The business node starts a
   * command only while 500 ms of it are left (EXECUTION_START_MARGIN_MS in nodes/business), so it
   * must be well above that.
   */
  readonly businessMs: number;
  readonly settleMs: number;
  /** Attempts of capture and void; they are idempotent, so retrying is safe. */
  readonly settleAttemptsMax: number;
  /**
   * After a business step that gave no answer by its deadline: how long to wait for the record of
   * an execution already under way at the deadline (the business node starts none in its last
   * 500 ms), so that goods handed out at the last moment are captured, not voided.
   */
  readonly lateRecordWaitMs: number;
}

export const DEFAULT_PAYMENT_TIMEOUTS: PaymentTimeouts = {
  identifyMs: 2_000, authorizeMs: 2_000, businessMs: 3_000, settleMs: 2_000, settleAttemptsMax: 3, lateRecordWaitMs: 1_000,
};

export const RefusalCode = {
  NoMatch: 'NO_MATCH',
  /** The touch carried too little of a finger to search (the matcher refused the template): touch again. */
  PoorCapture: 'POOR_CAPTURE',
  IdentifyFailed: 'IDENTIFY_FAILED',
  AuthorizeFailed: 'AUTHORIZE_FAILED',
  BusinessFailed: 'BUSINESS_FAILED',
  BusinessTimeout: 'BUSINESS_TIMEOUT',
} as const;

export async function runPayment(
  ports: PaymentPorts, terminal: Terminal, request: PayRequest, timeouts: PaymentTimeouts = DEFAULT_PAYMENT_TIMEOUTS,
): Promise<PaymentResult> {
  const clock = new StageClock();
  const amount = request.amount;
  if (!amount) throw new BiopayError(ErrorCode.BadRequest, 'a payment needs an amount');
  assertPositiveAmount(amount.amountMinor);
  const result = (outcome: PaymentOutcome, refusals: Refusal[], who?: IdentifyResponse): PaymentResult => ({
    paymentId: request.paymentId, outcome, refusals, amount,
    accountId: who?.accountId ?? '', credentialId: who?.credentialId ?? '', matchScore: who?.score ?? 0,
    timings: clock.timings(), candidatesCompared: who?.candidatesSearched ?? 0,
  });

  let who: IdentifyResponse;
  try {
    who = await clock.stage('identifyUs', () =>
      ports.identify({ capture: withTerminalHint(request, terminal), targetFmr: 0 }, timeouts.identifyMs));
  } catch (error) {
    // A bad capture is the customer's cue to touch again, not a failure of the network.
    if (isBiopayError(error, ErrorCode.InvalidTemplate)) return result(PaymentOutcome.PAYMENT_OUTCOME_REFUSED, [poorCapture(error)]);
    throw error;
  }
  if (!who.matched) return result(PaymentOutcome.PAYMENT_OUTCOME_REFUSED, [noMatch()], who);

  const authorizeRequest: AuthorizeRequest = {
    paymentId: request.paymentId,
    accountId: who.accountId,
    credentialId: who.credentialId,
    merchantAccountId: terminal.merchantAccountId,
    amount,
    context: {
      terminalId: terminal.terminalId,
      merchantId: terminal.merchantAccountId,
      location: request.context?.location ?? terminal.location,
      atUnixMs: request.context?.atUnixMs || BigInt(Date.now()),
    },
    holdTimeoutMs: 0,
  };
  let authorization: AuthorizeResponse;
  try {
    authorization = await clock.stage('authorizeUs', () =>
      ports.authorize(who.accountId, authorizeRequest, timeouts.authorizeMs));
  } catch (error) {
    // Only when the answer was lost may a hold exist that nobody will use: release it. A typed
    // refusal (say IDEMPOTENCY_CONFLICT) must not void a payment that another request owns.
    if (isLostAnswer(error)) {
      await settle(() => ports.void(who.accountId, { paymentId: request.paymentId, reason: 'authorize answer lost' }, timeouts.settleMs), timeouts, true);
    }
    throw error;
  }
  if (!authorization.approved) return result(PaymentOutcome.PAYMENT_OUTCOME_REFUSED, authorization.refusals, who);

  const record = await clock.stage('businessUs', () => runBusiness(ports, terminal, request, timeouts, authorization.firstAnswer));
  if (!record.succeeded) {
    await clock.stage('settleUs', () =>
      settle(() => ports.void(who.accountId, { paymentId: request.paymentId, reason: record.detail }, timeouts.settleMs), timeouts, false));
    return result(PaymentOutcome.PAYMENT_OUTCOME_VOIDED, [businessRefusal(record)], who);
  }
  await clock.stage('settleUs', () =>
    settle(() => ports.capture(who.accountId, { paymentId: request.paymentId, amountMinor: 0n }, timeouts.settleMs), timeouts, false));
  return result(PaymentOutcome.PAYMENT_OUTCOME_APPROVED, [], who);
}

/** `freshAuthorization`: the ledger placed the hold for this attempt (see BusinessCommand). */
async function runBusiness(
  ports: PaymentPorts, terminal: Terminal, request: PayRequest, timeouts: PaymentTimeouts, freshAuthorization: boolean,
): Promise<BusinessRecord> {
  const issuedUnixMs = Date.now();
  const command: BusinessCommand = {
    paymentId: request.paymentId,
    terminalId: terminal.terminalId,
    action: request.action || terminal.action || 'open-gate',
    item: request.item || terminal.item,
    issuedUnixMs: BigInt(issuedUnixMs),
    deadlineUnixMs: BigInt(issuedUnixMs + timeouts.businessMs),
    freshAuthorization,
  };
  try {
    return await ports.business(command, timeouts.businessMs);
  } catch (error) {
    const reason = asBiopayError(error);
    const timedOut = reason.code === ErrorCode.Timeout;
    // No answer by the deadline: an execution may still be finishing. Its record, if one comes,
    // decides (capture what was handed out); without one nothing ran, and the hold is voided.
    const late = timedOut ? await ports.businessRecord(request.paymentId, timeouts.lateRecordWaitMs).catch(() => undefined) : undefined;
    if (late) return late;
    return {
      paymentId: request.paymentId, terminalId: terminal.terminalId, action: command.action, succeeded: false,
      detail: timedOut ? `no answer from the business node within ${timeouts.businessMs} ms` : reason.message,
      executedUnixMs: 0n,
    };
  }
}

/** Capture and void are idempotent: retry a bounded number of times, then surface the error. */
async function settle(step: () => Promise<PaymentState>, timeouts: PaymentTimeouts, unknownIsFine: boolean): Promise<void> {
  let lastError: unknown;
  for (let attempt = 0; attempt < timeouts.settleAttemptsMax; attempt++) {
    try {
      await step();
      return;
    } catch (error) {
      if (unknownIsFine && asBiopayError(error).code === ErrorCode.UnknownPayment) return;
      lastError = error;
    }
  }
  throw new BiopayError(ErrorCode.Unavailable, `settlement failed after ${timeouts.settleAttemptsMax} attempts; the account node settles the hold at its expiry by the business step's record`, { cause: lastError });
}

/** A terminal configured with a narrowing hint (its merchant's community) sends it when the touch did not. */
function withTerminalHint(request: PayRequest, terminal: Terminal): PayRequest['capture'] {
  const capture = request.capture;
  if (!capture || capture.hint !== '' || terminal.hint === '') return capture;
  return { ...capture, hint: terminal.hint };
}

function isLostAnswer(error: unknown): boolean {
  const code = asBiopayError(error).code;
  return code === ErrorCode.Timeout || code === ErrorCode.Unavailable || code === ErrorCode.Internal;
}

function poorCapture(error: Error): Refusal {
  return { code: RefusalCode.PoorCapture, message: `touch again: ${error.message}` };
}

function noMatch(): Refusal {
  return { code: RefusalCode.NoMatch, message: 'finger not recognised: no enrolled person matches' };
}

function businessRefusal(record: BusinessRecord): Refusal {
  const timedOut = record.executedUnixMs === 0n && record.detail.startsWith('no answer');
  return {
    code: timedOut ? RefusalCode.BusinessTimeout : RefusalCode.BusinessFailed,
    message: `${record.detail}; the payment was voided`,
  };
}

class StageClock {
  private readonly startedNs = process.hrtime.bigint();
  private readonly spentUs: Omit<PaymentTimings, 'totalUs'> = { identifyUs: 0, authorizeUs: 0, businessUs: 0, settleUs: 0 };

  async stage<T>(name: keyof Omit<PaymentTimings, 'totalUs'>, run: () => Promise<T>): Promise<T> {
    const beganNs = process.hrtime.bigint();
    try {
      return await run();
    } finally {
      (this.spentUs as Record<string, number>)[name] = Number((process.hrtime.bigint() - beganNs) / 1000n);
    }
  }

  timings(): PaymentTimings {
    const { identifyUs, authorizeUs, businessUs, settleUs } = this.spentUs;
    return { identifyUs, authorizeUs, businessUs, settleUs, totalUs: Number((process.hrtime.bigint() - this.startedNs) / 1000n) };
  }
}
