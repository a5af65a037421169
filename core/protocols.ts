/**
 * The actor protocols of the node roles: for each kind, its methods and their protobuf request and
 * response types. Callers and the nodes serving a kind share these, on NATS and in process.
 */
import type { Protocol } from './actors/types.js';
import {
  DeleteEnrollmentRequest, DeleteEnrollmentResponse, EnrollRequest, EnrollResponse, IdentifyRequest,
  IdentifyResponse,
} from '../proto/gen/biopay/v1/biometrics.js';
import { BusinessRecord, GetBusinessRecordRequest } from '../proto/gen/biopay/v1/business.js';
import {
  Account, AuthorizeRequest, AuthorizeResponse, CaptureRequest, CheckLedgerRequest, CheckLedgerResponse, Credential,
  DepositRequest, GetAccountRequest, GetPaymentRequest,
  GetPolicyRequest, OpenAccountRequest, PaymentState, RefundRequest, RegisterCredentialRequest,
  RemoveCredentialRequest, RemoveCredentialResponse, SetPolicyRequest, Statement, StatementRequest, VoidRequest,
} from '../proto/gen/biopay/v1/ledger.js';
import {
  GetTerminalRequest, PaymentResult, PayRequest, RegisterTerminalRequest, Terminal,
} from '../proto/gen/biopay/v1/payment.js';

/** Kind `ledger`, keyed by account id (the payer's for payments). Served by account nodes. */
export const LedgerProtocol = {
  openAccount: { request: OpenAccountRequest, response: Account },
  deposit: { request: DepositRequest, response: Account },
  getAccount: { request: GetAccountRequest, response: Account },
  statement: { request: StatementRequest, response: Statement },
  registerCredential: { request: RegisterCredentialRequest, response: Credential },
  removeCredential: { request: RemoveCredentialRequest, response: RemoveCredentialResponse },
  getPolicy: { request: GetPolicyRequest, response: Credential },
  setPolicy: { request: SetPolicyRequest, response: Credential },
  authorize: { request: AuthorizeRequest, response: AuthorizeResponse },
  capture: { request: CaptureRequest, response: PaymentState },
  void: { request: VoidRequest, response: PaymentState },
  refund: { request: RefundRequest, response: PaymentState },
  getPayment: { request: GetPaymentRequest, response: PaymentState },
  /** Not keyed by account: any key reaches a ledger node, which checks the whole ledger. */
  checkLedger: { request: CheckLedgerRequest, response: CheckLedgerResponse },
} as const satisfies Protocol;

/** Kind `association`, keyed by capture id or account id. Served by association nodes. */
export const AssociationProtocol = {
  identify: { request: IdentifyRequest, response: IdentifyResponse },
  enroll: { request: EnrollRequest, response: EnrollResponse },
  deleteEnrollment: { request: DeleteEnrollmentRequest, response: DeleteEnrollmentResponse },
} as const satisfies Protocol;

/** Kind `business`, keyed by payment id: the record of a business execution. */
export const BusinessProtocol = {
  getRecord: { request: GetBusinessRecordRequest, response: BusinessRecord },
} as const satisfies Protocol;

/** Kind `terminal`, keyed by terminal id. Served by terminal nodes. */
export const TerminalProtocol = {
  pay: { request: PayRequest, response: PaymentResult },
  registerTerminal: { request: RegisterTerminalRequest, response: Terminal },
  getTerminal: { request: GetTerminalRequest, response: Terminal },
} as const satisfies Protocol;

export const ActorKind = {
  Ledger: 'ledger',
  Association: 'association',
  Business: 'business',
  Terminal: 'terminal',
} as const;
