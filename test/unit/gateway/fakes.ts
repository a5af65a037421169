/**
 * Small in-process stand-ins for the ledger, association and terminal kinds, registered in a real
 * ActorSystem without NATS. For the gateway's own unit tests only: they implement the protocols with
 * in-memory maps (templates match by exact bytes); the real nodes are tested in their own suites
 * and together in the cross-process integration test.
 */
import { createHash } from 'node:crypto';
import type { EnrollRequest, IdentifyRequest } from '../../../proto/gen/biopay/v1/biometrics.js';
import {
  AccountKind, HoldState, SpendingPolicy, type Account, type AuthorizeRequest, type Credential, type PaymentState,
  type StatementEntry,
} from '../../../proto/gen/biopay/v1/ledger.js';
import { PaymentOutcome, type PaymentResult, type PayRequest, type Terminal } from '../../../proto/gen/biopay/v1/payment.js';
import { ActorSystem } from '../../../core/actors/index.js';
import { BiopayError, ErrorCode } from '../../../core/errors.js';
import { formatAmount } from '../../../core/money.js';
import { ActorKind, AssociationProtocol, LedgerProtocol, TerminalProtocol } from '../../../core/protocols.js';

type Handler = (message: any) => unknown;

export interface FakeState {
  readonly accounts: Map<string, Account>;
  readonly entries: Map<string, StatementEntry[]>;
  readonly credentials: Map<string, Credential>;
  readonly payments: Map<string, PaymentState & { accountId: string }>;
  readonly gallery: Map<string, { credentialId: string; accountId: string }>;
  readonly terminals: Map<string, Terminal>;
  /** Which actor was asked with which key, per method (to check the gateway's keying). */
  readonly keys: Array<{ kind: string; method: string; key: string }>;
  /** `kind.method` names that fail once with UNAVAILABLE on their next call. */
  readonly failNext: Set<string>;
}

export function newFakeState(): FakeState {
  return {
    accounts: new Map(), entries: new Map(), credentials: new Map(), payments: new Map(), gallery: new Map(),
    terminals: new Map(), keys: [], failNext: new Set(),
  };
}

function need<T>(value: T | undefined, code: string, what: string): T {
  if (value === undefined) throw new BiopayError(code, `${what} not found`);
  return value;
}

function templateKey(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function ledgerMethods(state: FakeState): Record<string, Handler> {
  let sequence = 0n;
  const account = (id: string) => need(state.accounts.get(id), ErrorCode.UnknownAccount, `account ${id}`);
  const post = (target: Account, kind: string, reference: string, amountMinor: bigint) => {
    target.balanceMinor += amountMinor;
    target.availableMinor += amountMinor;
    sequence += 1n;
    state.entries.get(target.accountId)!.push({
      sequence, atUnixMs: BigInt(Date.now()), kind, reference, amountMinor, balanceAfterMinor: target.balanceMinor,
    });
  };
  return {
    openAccount: (request) => {
      const id = `acc_${state.accounts.size + 1}`;
      const opened: Account = {
        accountId: id, owner: request.owner, currency: request.currency, kind: request.kind || AccountKind.ACCOUNT_KIND_CUSTOMER,
        timeZone: request.timeZone, balanceMinor: 0n, availableMinor: 0n, heldMinor: 0n,
      };
      state.accounts.set(id, opened);
      state.entries.set(id, []);
      return opened;
    },
    deposit: (request) => {
      const target = account(request.accountId);
      post(target, 'deposit', request.idempotencyKey, request.amountMinor);
      return target;
    },
    getAccount: (request) => account(request.accountId),
    statement: (request) => {
      const target = account(request.accountId);
      const after = state.entries.get(target.accountId)!.filter((entry) => entry.sequence > request.afterSequence);
      const page = after.slice(0, request.limit || 50);
      return {
        accountId: target.accountId, currency: target.currency, entries: page,
        nextAfterSequence: page.at(-1)?.sequence ?? request.afterSequence, hasMore: after.length > page.length,
      };
    },
    registerCredential: (request) => {
      account(request.accountId);
      const credential: Credential = { credentialId: request.credentialId, accountId: request.accountId, policy: request.policy };
      state.credentials.set(request.credentialId, credential);
      return credential;
    },
    removeCredential: (request) => {
      need(state.credentials.get(request.credentialId), ErrorCode.UnknownCredential, `credential ${request.credentialId}`);
      state.credentials.delete(request.credentialId);
      return { removed: true };
    },
    getPolicy: (request) => need(state.credentials.get(request.credentialId), ErrorCode.UnknownCredential, `credential ${request.credentialId}`),
    setPolicy: (request) => {
      const target = need(state.credentials.get(request.credentialId), ErrorCode.UnknownCredential, 'credential');
      const authorizer = state.credentials.get(request.authorizedByCredentialId);
      if (!authorizer || authorizer.accountId !== target.accountId || authorizer.policy?.restricted) {
        throw new BiopayError(ErrorCode.NotAuthorized, 'only an unrestricted credential of the same account may change a policy');
      }
      target.policy = request.policy;
      return target;
    },
    authorize: (request: AuthorizeRequest) => authorize(state, account(request.accountId), request),
    capture: (request) => {
      const payment = need(state.payments.get(request.paymentId), ErrorCode.UnknownPayment, 'payment');
      if (payment.state !== HoldState.HOLD_STATE_AUTHORIZED) throw new BiopayError(ErrorCode.InvalidState, 'payment is not authorized');
      const payer = account(payment.accountId);
      payer.heldMinor -= payment.authorizedMinor;
      payer.availableMinor += payment.authorizedMinor;
      post(payer, 'payment', request.paymentId, -payment.authorizedMinor);
      payment.state = HoldState.HOLD_STATE_CAPTURED;
      payment.capturedMinor = payment.authorizedMinor;
      return payment;
    },
    void: (request) => {
      const payment = need(state.payments.get(request.paymentId), ErrorCode.UnknownPayment, 'payment');
      if (payment.state !== HoldState.HOLD_STATE_AUTHORIZED) throw new BiopayError(ErrorCode.InvalidState, 'payment is not authorized');
      const payer = account(payment.accountId);
      payer.heldMinor -= payment.authorizedMinor;
      payer.availableMinor += payment.authorizedMinor;
      payment.state = HoldState.HOLD_STATE_VOIDED;
      return payment;
    },
    refund: (request) => {
      const payment = need(state.payments.get(request.paymentId), ErrorCode.UnknownPayment, 'payment');
      if (payment.capturedMinor - payment.refundedMinor < request.amountMinor) {
        throw new BiopayError(ErrorCode.InvalidState, 'refund beyond the captured amount');
      }
      post(account(payment.accountId), 'refund', request.refundId, request.amountMinor);
      payment.refundedMinor += request.amountMinor;
      return payment;
    },
  };
}

function authorize(state: FakeState, payer: Account, request: AuthorizeRequest) {
  const amountMinor = request.amount?.amountMinor ?? 0n;
  const policy = state.credentials.get(request.credentialId)?.policy;
  const refusals = [];
  if (policy?.restricted && policy.maxPerPaymentMinor !== 0n && amountMinor > policy.maxPerPaymentMinor) {
    refusals.push({ code: 'MAX_PER_PAYMENT', message: `at most ${formatAmount(policy.maxPerPaymentMinor, payer.currency)} ${payer.currency} per payment` });
  }
  if (payer.availableMinor < amountMinor) {
    refusals.push({ code: ErrorCode.InsufficientFunds, message: `${formatAmount(payer.availableMinor, payer.currency)} ${payer.currency} available` });
  }
  if (refusals.length === 0) {
    payer.availableMinor -= amountMinor;
    payer.heldMinor += amountMinor;
    state.payments.set(request.paymentId, {
      paymentId: request.paymentId, accountId: payer.accountId, state: HoldState.HOLD_STATE_AUTHORIZED,
      authorizedMinor: amountMinor, capturedMinor: 0n, refundedMinor: 0n, currency: payer.currency,
    });
  }
  return {
    paymentId: request.paymentId, approved: refusals.length === 0, refusals,
    state: refusals.length === 0 ? HoldState.HOLD_STATE_AUTHORIZED : HoldState.HOLD_STATE_REFUSED, availableMinor: payer.availableMinor,
  };
}

function associationMethods(state: FakeState): Record<string, Handler> {
  return {
    enroll: (request: EnrollRequest) => {
      if (request.isoTemplate.subarray(0, 4).toString('latin1') !== 'FMR\0') {
        throw new BiopayError(ErrorCode.InvalidTemplate, 'not an ISO/IEC 19794-2 record');
      }
      const named = [...state.gallery.values()].find((entry) => entry.credentialId === request.credentialId);
      if (named && named.accountId !== request.accountId) {
        throw new BiopayError(ErrorCode.AlreadyEnrolled, `credential ${request.credentialId} belongs to another account`);
      }
      const key = templateKey(request.isoTemplate);
      const existing = state.gallery.get(key);
      if (existing && existing.credentialId !== request.credentialId) {
        throw new BiopayError(ErrorCode.AlreadyEnrolled, `this finger is already enrolled as ${existing.credentialId}`);
      }
      state.gallery.set(key, { credentialId: request.credentialId, accountId: request.accountId });
      return { credentialId: request.credentialId, accountId: request.accountId, minutiaeCount: 0, impressions: 1 + request.extraImpressions.length, selectedImpression: 0 };
    },
    identify: (request: IdentifyRequest) => {
      const found = state.gallery.get(templateKey(request.capture?.isoTemplate ?? Buffer.alloc(0)));
      return {
        matched: found !== undefined, accountId: found?.accountId ?? '', credentialId: found?.credentialId ?? '',
        score: found ? 1 : 0, threshold: 0.5, candidatesSearched: state.gallery.size,
      };
    },
    deleteEnrollment: (request) => {
      for (const [key, entry] of state.gallery) {
        if (entry.credentialId === request.credentialId) {
          state.gallery.delete(key);
          return { deleted: true };
        }
      }
      return { deleted: false };
    },
  };
}

function terminalMethods(state: FakeState, system: ActorSystem): Record<string, Handler> {
  const association = system.client(ActorKind.Association, AssociationProtocol);
  const ledger = system.client(ActorKind.Ledger, LedgerProtocol);
  return {
    registerTerminal: (request) => {
      state.terminals.set(request.terminal.terminalId, request.terminal);
      return request.terminal;
    },
    getTerminal: (request) => need(state.terminals.get(request.terminalId), ErrorCode.NotFound, `terminal ${request.terminalId}`),
    pay: async (request: PayRequest): Promise<PaymentResult> => {
      const terminal = need(state.terminals.get(request.terminalId), ErrorCode.NotFound, `terminal ${request.terminalId}`);
      const base = {
        paymentId: request.paymentId, amount: request.amount, matchScore: 0, timings: undefined, accountId: '', credentialId: '', candidatesCompared: 0,
      };
      const match = await association.ask(request.capture!.captureId, 'identify', { capture: request.capture, targetFmr: 0 });
      if (!match.matched) {
        return { ...base, outcome: PaymentOutcome.PAYMENT_OUTCOME_REFUSED, refusals: [{ code: 'NO_MATCH', message: 'finger not recognized' }] };
      }
      const who = { ...base, accountId: match.accountId, credentialId: match.credentialId, matchScore: match.score };
      const authorized = await ledger.ask(match.accountId, 'authorize', {
        paymentId: request.paymentId, accountId: match.accountId, credentialId: match.credentialId,
        merchantAccountId: terminal.merchantAccountId, amount: request.amount, context: undefined, holdTimeoutMs: 0,
      });
      if (!authorized.approved) return { ...who, outcome: PaymentOutcome.PAYMENT_OUTCOME_REFUSED, refusals: authorized.refusals };
      await ledger.ask(match.accountId, 'capture', { paymentId: request.paymentId, amountMinor: 0n });
      return { ...who, outcome: PaymentOutcome.PAYMENT_OUTCOME_APPROVED, refusals: [] };
    },
  };
}

function register(system: ActorSystem, state: FakeState, kind: string, protocol: object, methods: Record<string, Handler>): void {
  system.register(kind, protocol as typeof LedgerProtocol, (key) => ({
    async receive(method, message) {
      state.keys.push({ kind, method, key });
      if (state.failNext.delete(`${kind}.${method}`)) throw new BiopayError(ErrorCode.Unavailable, `${kind}.${method} failed (injected)`);
      const handler = methods[method];
      if (!handler) throw new BiopayError(ErrorCode.BadRequest, `${kind} has no method ${method}`);
      // Copies: the caller must not share the fake's mutable state.
      return structuredClone(await handler(message));
    },
  }));
}

/** An actor system without NATS serving the three fake kinds. */
export function startFakeNetwork(state: FakeState = newFakeState()): { system: ActorSystem; state: FakeState } {
  const system = new ActorSystem({ nodeId: 'gateway-test', logger: () => undefined });
  register(system, state, ActorKind.Ledger, LedgerProtocol, ledgerMethods(state));
  register(system, state, ActorKind.Association, AssociationProtocol, associationMethods(state));
  register(system, state, ActorKind.Terminal, TerminalProtocol, terminalMethods(state, system));
  return { system, state };
}

export const UNRESTRICTED = SpendingPolicy.fromPartial({});
