/**
 * The GatewayService methods as async functions over the actor clients. Every method asks an actor
 * (or runs a flow of several asks); the gateway keeps no state of its own. Keys follow
 * core/flows/clients.ts: ledger by account id when known, else by the payment id; terminal by
 * terminal id; association by capture id.
 */
import { randomUUID } from 'node:crypto';
import type {
  DeleteEnrollmentRequest, DeleteEnrollmentResponse, EnrollRequest, EnrollResponse, IdentifyRequest, IdentifyResponse,
} from '../../proto/gen/biopay/v1/biometrics.js';
import type {
  Account, CaptureRequest, Credential, DepositRequest, GetAccountRequest, GetPolicyRequest, OpenAccountRequest,
  PaymentState, RefundRequest, SetPolicyRequest, Statement, StatementRequest, VoidRequest,
} from '../../proto/gen/biopay/v1/ledger.js';
import type {
  GetTerminalRequest, PaymentResult, PayRequest, RegisterTerminalRequest, Terminal,
} from '../../proto/gen/biopay/v1/payment.js';
import type { ActorClient, ActorSystem } from '../../core/actors/index.js';
import { BiopayError, ErrorCode } from '../../core/errors.js';
import * as flows from '../../core/flows/index.js';
import { requireId, type FlowClients } from '../../core/flows/index.js';
import { ActorKind, TerminalProtocol } from '../../core/protocols.js';
import { nonNegativeAmount, positiveAmount, positiveMoney } from './validate.js';

/** How long one call may take; the call's own deadline when it is shorter. */
export interface CallContext {
  readonly timeoutMs: number;
}

export interface GatewayHandlers {
  openAccount(request: OpenAccountRequest, context: CallContext): Promise<Account>;
  deposit(request: DepositRequest, context: CallContext): Promise<Account>;
  getAccount(request: GetAccountRequest, context: CallContext): Promise<Account>;
  getStatement(request: StatementRequest, context: CallContext): Promise<Statement>;
  enroll(request: EnrollRequest, context: CallContext): Promise<EnrollResponse>;
  deleteEnrollment(request: DeleteEnrollmentRequest, context: CallContext): Promise<DeleteEnrollmentResponse>;
  identify(request: IdentifyRequest, context: CallContext): Promise<IdentifyResponse>;
  pay(request: PayRequest, context: CallContext): Promise<PaymentResult>;
  getPolicy(request: GetPolicyRequest, context: CallContext): Promise<Credential>;
  setPolicy(request: SetPolicyRequest, context: CallContext): Promise<Credential>;
  capture(request: CaptureRequest, context: CallContext): Promise<PaymentState>;
  void(request: VoidRequest, context: CallContext): Promise<PaymentState>;
  refund(request: RefundRequest, context: CallContext): Promise<PaymentState>;
  registerTerminal(request: RegisterTerminalRequest, context: CallContext): Promise<Terminal>;
  getTerminal(request: GetTerminalRequest, context: CallContext): Promise<Terminal>;
}

export function gatewayHandlers(system: ActorSystem): GatewayHandlers {
  const clients = flows.flowClients(system);
  const terminal = system.client(ActorKind.Terminal, TerminalProtocol);
  return { ...ledgerHandlers(clients), ...biometricHandlers(clients), ...terminalHandlers(terminal) };
}

type LedgerMethods = 'openAccount' | 'deposit' | 'getAccount' | 'getStatement' | 'capture' | 'void' | 'refund';

function ledgerHandlers({ ledger }: FlowClients): Pick<GatewayHandlers, LedgerMethods> {
  return {
    // The account id does not exist yet: keyed by the idempotency key, so a retry meets its first try.
    openAccount: (request, { timeoutMs }) =>
      ledger.ask(request.idempotencyKey || randomUUID(), 'openAccount', request, { timeoutMs }),
    deposit: (request, { timeoutMs }) => {
      positiveAmount(request.amountMinor, 'amount_minor');
      return ledger.ask(requireId(request.accountId, 'account_id'), 'deposit', request, { timeoutMs });
    },
    getAccount: (request, { timeoutMs }) =>
      ledger.ask(requireId(request.accountId, 'account_id'), 'getAccount', request, { timeoutMs }),
    getStatement: (request, { timeoutMs }) => {
      nonNegativeAmount(request.afterSequence, 'after_sequence');
      return ledger.ask(requireId(request.accountId, 'account_id'), 'statement', request, { timeoutMs });
    },
    capture: (request, { timeoutMs }) => {
      nonNegativeAmount(request.amountMinor, 'amount_minor');
      return ledger.ask(requireId(request.paymentId, 'payment_id'), 'capture', request, { timeoutMs });
    },
    void: (request, { timeoutMs }) => ledger.ask(requireId(request.paymentId, 'payment_id'), 'void', request, { timeoutMs }),
    refund: (request, { timeoutMs }) => {
      nonNegativeAmount(request.amountMinor, 'amount_minor');
      requireId(request.refundId, 'refund_id');
      return ledger.ask(requireId(request.paymentId, 'payment_id'), 'refund', request, { timeoutMs });
    },
  };
}

type BiometricMethods = 'enroll' | 'deleteEnrollment' | 'identify' | 'getPolicy' | 'setPolicy';

function biometricHandlers(clients: FlowClients): Pick<GatewayHandlers, BiometricMethods> {
  return {
    enroll: (request, context) => flows.enroll(clients, request, context),
    deleteEnrollment: (request, context) => flows.deleteEnrollment(clients, request.credentialId, context),
    identify: (request, { timeoutMs }) => {
      if (!request.capture) throw new BiopayError(ErrorCode.BadRequest, 'capture is required');
      return clients.association.ask(request.capture.captureId || randomUUID(), 'identify', request, { timeoutMs });
    },
    getPolicy: (request, context) => flows.getPolicy(clients, request, context),
    setPolicy: (request, context) => flows.setPolicy(clients, request, context),
  };
}

function terminalHandlers(terminal: ActorClient<typeof TerminalProtocol>): Pick<GatewayHandlers, 'pay' | 'registerTerminal' | 'getTerminal'> {
  return {
    pay: (request, { timeoutMs }) => {
      const terminalId = requireId(request.terminalId, 'terminal_id');
      positiveMoney(request.amount, 'amount');
      if (!request.capture) throw new BiopayError(ErrorCode.BadRequest, 'capture is required');
      // Without a payment id there is no retry safety; the gateway names the payment itself then.
      const paymentId = request.paymentId || `pay_${randomUUID()}`;
      const capture = { ...request.capture, captureId: request.capture.captureId || paymentId, terminalId };
      return terminal.ask(terminalId, 'pay', { ...request, paymentId, capture }, { timeoutMs });
    },
    registerTerminal: (request, { timeoutMs }) => {
      if (!request.terminal) throw new BiopayError(ErrorCode.BadRequest, 'terminal is required');
      requireId(request.terminal.merchantAccountId, 'terminal.merchant_account_id');
      return terminal.ask(requireId(request.terminal.terminalId, 'terminal.terminal_id'), 'registerTerminal', request, { timeoutMs });
    },
    getTerminal: (request, { timeoutMs }) =>
      terminal.ask(requireId(request.terminalId, 'terminal_id'), 'getTerminal', request, { timeoutMs }),
  };
}
