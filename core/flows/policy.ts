/**
 * Reading and changing a credential's spending policy, the credential named by id or found by its
 * biometric. A change is authorized only by a biometric match: the gateway never takes a client's word
 * for which credential authorizes (authorized_by_credential_id from outside is ignored); the ledger
 * then checks that the match is an unrestricted credential of the same account.
 */
import { Credential, GetPolicyRequest, SetPolicyRequest } from '../../proto/gen/biopay/v1/ledger.js';
import { BiopayError, ErrorCode } from '../errors.js';
import { validatePolicy } from '../policy/index.js';
import { FlowDeadline, requireId, type FlowClients, type FlowOptions } from './clients.js';
import { resolveCredentialByBiometric } from './identify.js';

interface Target {
  readonly credentialId: string;
  /** Known when the target was found by its biometric; the ledger key then. */
  readonly accountId: string | undefined;
}

/** Exactly one of the credential id and the template names the credential. */
async function resolveTarget(
  clients: FlowClients, credentialId: string, isoTemplate: Uint8Array, deadline: FlowDeadline,
): Promise<Target> {
  const byId = credentialId !== '';
  const byTemplate = isoTemplate.length > 0;
  if (byId === byTemplate) {
    throw new BiopayError(ErrorCode.BadRequest, 'name the credential by credential_id or by iso_template (exactly one)');
  }
  if (byId) return { credentialId: requireId(credentialId, 'credential_id'), accountId: undefined };
  const found = await resolveCredentialByBiometric(clients, isoTemplate, deadline);
  return { credentialId: found.credentialId, accountId: found.accountId };
}

export async function getPolicy(clients: FlowClients, request: GetPolicyRequest, options: FlowOptions = {}): Promise<Credential> {
  const deadline = new FlowDeadline(options);
  const target = await resolveTarget(clients, request.credentialId, request.isoTemplate, deadline);
  return clients.ledger.ask(target.accountId ?? target.credentialId, 'getPolicy',
    GetPolicyRequest.fromPartial({ credentialId: target.credentialId }), deadline.next('getPolicy'));
}

export async function setPolicy(clients: FlowClients, request: SetPolicyRequest, options: FlowOptions = {}): Promise<Credential> {
  if (!request.policy) throw new BiopayError(ErrorCode.BadRequest, 'policy is required');
  validatePolicy(request.policy);
  if (request.authorizingIsoTemplate.length === 0) {
    throw new BiopayError(ErrorCode.NotAuthorized, 'a policy change needs the authorizing fingerprint of an unrestricted credential of the account');
  }
  const deadline = new FlowDeadline(options);
  const target = await resolveTarget(clients, request.credentialId, request.isoTemplate, deadline);
  const authorizer = await resolveCredentialByBiometric(clients, request.authorizingIsoTemplate, deadline)
    .catch((error: unknown) => {
      if (error instanceof BiopayError && error.code === ErrorCode.NotFound) {
        throw new BiopayError(ErrorCode.NotAuthorized, 'the authorizing fingerprint matches no enrolled credential', { cause: error });
      }
      throw error;
    });
  // Keyed by the target's account when known; else by the authorizer's, the only account a change
  // can be authorized for (the ledger refuses any other).
  return clients.ledger.ask(target.accountId ?? authorizer.accountId, 'setPolicy', SetPolicyRequest.fromPartial({
    credentialId: target.credentialId,
    policy: request.policy,
    authorizedByCredentialId: authorizer.credentialId,
    idempotencyKey: request.idempotencyKey,
  }), deadline.next('setPolicy'));
}
