/** Finding a credential by its biometric (1:N), for requests that prove who is asking by a finger. */
import { randomUUID } from 'node:crypto';
import { Capture, IdentifyRequest } from '../../proto/gen/biopay/v1/biometrics.js';
import { BiopayError, ErrorCode } from '../errors.js';
import { FlowDeadline, type FlowClients, type FlowOptions } from './clients.js';

export interface ResolvedCredential {
  readonly credentialId: string;
  readonly accountId: string;
  readonly score: number;
}

/** Throws NOT_FOUND when no enrolled credential matches (and BAD_REQUEST for an empty template). */
export async function resolveCredentialByBiometric(
  clients: Pick<FlowClients, 'association'>, isoTemplate: Uint8Array, options: FlowOptions | FlowDeadline = {},
): Promise<ResolvedCredential> {
  if (isoTemplate.length === 0) throw new BiopayError(ErrorCode.BadRequest, 'a fingerprint template is required');
  const deadline = options instanceof FlowDeadline ? options : new FlowDeadline(options);
  const captureId = randomUUID();
  const request = IdentifyRequest.fromPartial({ capture: Capture.fromPartial({ captureId, isoTemplate: Buffer.from(isoTemplate) }) });
  const answer = await clients.association.ask(captureId, 'identify', request, deadline.next('identify'));
  if (!answer.matched || answer.credentialId === '') {
    throw new BiopayError(ErrorCode.NotFound, 'no enrolled credential matches');
  }
  return { credentialId: answer.credentialId, accountId: answer.accountId, score: answer.score };
}
