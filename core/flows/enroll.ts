/**
 * Enrollment across the two tiers that must agree on it: the association tier links the template to
 * a new credential, the ledger registers the credential with its spending policy. A failure after the
 * first step undoes it, so no template stays matchable without a credential the ledger knows.
 */
import { randomUUID } from 'node:crypto';
import type {
  DeleteEnrollmentResponse, EnrollRequest, EnrollResponse,
} from '../../proto/gen/biopay/v1/biometrics.js';
import { ErrorCode, isBiopayError } from '../errors.js';
import { validatePolicy } from '../policy/index.js';
import { FlowDeadline, requireId, type FlowClients, type FlowOptions } from './clients.js';

/** Undoing runs even when the flow's deadline has passed: it gets its own. */
const COMPENSATION_TIMEOUT_MS = 5_000;

export async function enroll(clients: FlowClients, request: EnrollRequest, options: FlowOptions = {}): Promise<EnrollResponse> {
  const accountId = requireId(request.accountId, 'account_id');
  // Checked before anything is written, so a bad policy never costs an enrollment and its undo.
  if (request.policy) validatePolicy(request.policy);
  const deadline = new FlowDeadline(options);
  await clients.ledger.ask(accountId, 'getAccount', { accountId }, deadline.next('getAccount'));
  // Chosen here when the caller gave none: an enrollment that timed out can still be undone, and
  // a retry with the same id is idempotent on the association node.
  const chosen = request.credentialId === '';
  const credentialId = chosen ? `cred_${randomUUID()}` : requireId(request.credentialId, 'credential_id');
  const undo = () => clients.association.ask(credentialId, 'deleteEnrollment', { credentialId }, {
    timeoutMs: COMPENSATION_TIMEOUT_MS,
  }).then(() => undefined, () => undefined);
  let enrolled: EnrollResponse;
  try {
    enrolled = await clients.association.ask(accountId, 'enroll', { ...request, credentialId }, deadline.next('enroll'));
  } catch (error) {
    // Undo only what may be ours: a caller's id may name another account's credential.
    if (chosen && !isRefusal(error)) await undo();
    throw error;
  }
  try {
    await clients.ledger.ask(accountId, 'registerCredential', {
      accountId, credentialId, policy: request.policy,
    }, deadline.next('registerCredential'));
  } catch (error) {
    // A credential the ledger already holds is a finished enrollment being retried: keep it.
    if (!isRefusal(error)) await undo();
    throw error;
  }
  return enrolled;
}

/** Refusals that wrote nothing this flow should undo. */
function isRefusal(error: unknown): boolean {
  return isBiopayError(error, ErrorCode.AlreadyEnrolled) || isBiopayError(error, ErrorCode.InvalidTemplate) ||
    isBiopayError(error, ErrorCode.IdempotencyConflict);
}

/**
 * The ledger forgets the credential first (it may refuse, e.g. an account's last owner credential,
 * and then nothing changed); the template goes after. A crash in between leaves a template matching
 * a credential the ledger refuses, which a retry of the delete finishes.
 */
export async function deleteEnrollment(
  clients: FlowClients, credentialIdText: string, options: FlowOptions = {},
): Promise<DeleteEnrollmentResponse> {
  const credentialId = requireId(credentialIdText, 'credential_id');
  const deadline = new FlowDeadline(options);
  const removed = await clients.ledger.ask(credentialId, 'removeCredential', { credentialId }, deadline.next('removeCredential'))
    // Already gone from the ledger: a retry after a crash between the two steps.
    .catch((error: unknown) => {
      if (isBiopayError(error, ErrorCode.UnknownCredential)) return { removed: false };
      throw error;
    });
  const deleted = await clients.association.ask(credentialId, 'deleteEnrollment', { credentialId }, deadline.next('deleteEnrollment'));
  return { deleted: removed.removed || deleted.deleted };
}
