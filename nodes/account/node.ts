/**
 * Account node: the ledger served as the `ledger` actor kind, keyed by account id so that one
 * account's operations are handled one at a time and in order. Holds past their expiry are settled
 * by a sweeper even when their terminal is gone: captured when their business step ran (its
 * record says so), released otherwise (core/ledger/expiry.ts).
 */
import type {
  AuthorizeRequest, CaptureRequest, DepositRequest, GetAccountRequest, GetPaymentRequest, GetPolicyRequest, OpenAccountRequest,
  RefundRequest, RegisterCredentialRequest, RemoveCredentialRequest, SetPolicyRequest, StatementRequest, VoidRequest,
} from '../../proto/gen/biopay/v1/ledger.js';
import { ActorSystem } from '../../core/actors/index.js';
import { BiopayError, ErrorCode } from '../../core/errors.js';
import type { SqlClient } from '../../core/db/index.js';
import { checkLedger, Ledger, readPayment, type BusinessStepLookup } from '../../core/ledger/index.js';
import type { Logger } from '../../core/log.js';
import { ActorKind, LedgerProtocol } from '../../core/protocols.js';

export interface AccountNodeOptions {
  readonly system: ActorSystem;
  readonly ledger: Ledger;
  /** The ledger's database, for read-only audit questions (getPayment, checkLedger). */
  readonly database: SqlClient;
  readonly log: Logger;
  /** How often expired holds are looked for. */
  readonly expirySweepIntervalMs?: number;
  /** What became of a due hold's business step; without it every due hold is released. */
  readonly businessSteps?: BusinessStepLookup;
}

export interface AccountNode {
  stop(): Promise<void>;
}

/** Expired holds settled per sweep at most, so one sweep never holds the database for long. */
const EXPIRED_HOLDS_PER_SWEEP_MAX = 1_000;

export async function startAccountNode(options: AccountNodeOptions): Promise<AccountNode> {
  const { system, ledger, database, log } = options;
  system.register(ActorKind.Ledger, LedgerProtocol, () => ({
    receive: (method, message) => dispatch(ledger, database, method, message),
  }), { idleTimeoutMs: 60_000 });
  await system.serve(ActorKind.Ledger);

  let sweeping: Promise<void> | undefined;
  const sweep = async (): Promise<void> => {
    try {
      const settled = await ledger.settleExpiredHolds(Date.now(), EXPIRED_HOLDS_PER_SWEEP_MAX, options.businessSteps);
      if (settled.captured > 0 || settled.expired > 0) log.info('expired holds settled', { captured: settled.captured, released: settled.expired });
      if (settled.undecided > 0) log.warn('expired holds left held: their business step cannot be looked up yet', { undecided: settled.undecided });
    } catch (error) {
      log.warn('hold expiry sweep failed', { error: String(error) });
    }
  };
  // One sweep at a time: a slow lookup must not start a second sweep over the same holds.
  const timer = setInterval(() => {
    sweeping ??= sweep().finally(() => { sweeping = undefined; });
  }, options.expirySweepIntervalMs ?? 1_000);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await sweeping;
    },
  };
}

function dispatch(ledger: Ledger, database: SqlClient, method: string, message: unknown): Promise<unknown> {
  switch (method) {
    case 'openAccount': return ledger.openAccount(message as OpenAccountRequest);
    case 'deposit': return ledger.deposit(message as DepositRequest);
    case 'getAccount': return ledger.getAccount((message as GetAccountRequest).accountId);
    case 'statement': return ledger.statement(message as StatementRequest);
    case 'registerCredential': return ledger.registerCredential(message as RegisterCredentialRequest);
    case 'removeCredential': return removeCredential(ledger, message as RemoveCredentialRequest);
    case 'getPolicy': return ledger.getPolicy((message as GetPolicyRequest).credentialId);
    case 'setPolicy': return ledger.setPolicy(message as SetPolicyRequest);
    case 'authorize': return ledger.authorize(message as AuthorizeRequest);
    case 'capture': return ledger.capture(message as CaptureRequest);
    case 'void': return ledger.void(message as VoidRequest);
    case 'refund': return ledger.refund(message as RefundRequest);
    case 'getPayment': return readPayment(database, (message as GetPaymentRequest).paymentId);
    case 'checkLedger': return checkLedger(database);
    default: return Promise.reject(new BiopayError(ErrorCode.BadRequest, `ledger has no method ${method}`));
  }
}

async function removeCredential(ledger: Ledger, request: RemoveCredentialRequest): Promise<{ removed: boolean }> {
  await ledger.removeCredential(request.credentialId);
  return { removed: true };
}
