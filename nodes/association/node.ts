/**
 * Association node: enrolls biometric templates (linked to an account and a credential) and
 * identifies a capture 1:N in a worker pool. Enrollments are sealed and appended to the enrollment
 * stream; every association node replays it into its own gallery.
 */
import { randomUUID } from 'node:crypto';
import type { NatsConnection } from '@nats-io/transport-node';
import {
  Modality, type DeleteEnrollmentRequest, type DeleteEnrollmentResponse, type EnrollmentRecord, type EnrollRequest,
  type EnrollResponse, type IdentifyRequest, type IdentifyResponse,
} from '../../proto/gen/biopay/v1/biometrics.js';
import { ActorSystem } from '../../core/actors/index.js';
import { EnrollmentLog } from '../../core/association/enrollment-log.js';
import { TemplateSealer } from '../../core/association/template-crypto.js';
import { MatchEngine } from '../../core/biometrics/match-engine.js';
import { BiopayError, ErrorCode } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import { ActorKind, AssociationProtocol } from '../../core/protocols.js';

export interface AssociationNodeOptions {
  readonly nc: NatsConnection;
  readonly system: ActorSystem;
  readonly sealer: TemplateSealer;
  readonly log: Logger;
  /** Worker threads matching; 0 matches on the node's own thread. */
  readonly workers?: number;
  /** False match rate the identification decision targets when a request names none. */
  readonly defaultTargetFmr?: number;
}

export interface AssociationNode {
  readonly engine: MatchEngine;
  stop(): Promise<void>;
}

interface Enrolled {
  readonly accountId: string;
  readonly hint: string;
}

export const DEFAULT_TARGET_FMR = 1e-4;
const ASSOCIATION_IDLE_TIMEOUT_MS = 2_000;

export async function startAssociationNode(options: AssociationNodeOptions): Promise<AssociationNode> {
  const { nc, system, sealer, log } = options;
  const engine = await MatchEngine.create({ workers: options.workers ?? 2 });
  const enrolled = new Map<string, Enrolled>();
  const enrollmentLog = await EnrollmentLog.open(nc);
  await enrollmentLog.follow(
    (records) => applyRecords(records, { engine, enrolled, sealer, log }),
    (error) => log.warn('malformed enrollment record skipped', { error: String(error) }),
  );
  log.info('gallery replayed', { enrolled: engine.size });

  const service = new AssociationService(engine, enrolled, sealer, enrollmentLog, options.defaultTargetFmr ?? DEFAULT_TARGET_FMR);
  // Identify is keyed by capture id: one short-lived actor per capture, passivated soon after.
  system.register(ActorKind.Association, AssociationProtocol, () => ({
    receive: (method, message) => service.receive(method, message),
  }), { idleTimeoutMs: ASSOCIATION_IDLE_TIMEOUT_MS });
  await system.serve(ActorKind.Association);
  return {
    engine,
    async stop() {
      await enrollmentLog.close();
      await engine.close();
    },
  };
}

/** Applies a batch in stream order: enrollments are converted in bulk by the workers. */
async function applyRecords(
  records: readonly EnrollmentRecord[],
  target: { engine: MatchEngine; enrolled: Map<string, Enrolled>; sealer: TemplateSealer; log: Logger },
): Promise<void> {
  let pending: EnrollmentRecord[] = [];
  const flush = async () => {
    if (pending.length === 0) return;
    const batch = pending;
    pending = [];
    const entries = batch.flatMap((record) => {
      try {
        const isoBytes = target.sealer.open(record.sealedTemplate, record.credentialId);
        return [{ id: record.credentialId, isoBytes, hint: record.hint || undefined }];
      } catch (error) {
        target.log.warn('enrollment record not loaded', { credentialId: record.credentialId, error: String(error) });
        return [];
      }
    });
    const { refused } = await target.engine.addMany(entries);
    const refusedIds = new Set(refused.map((entry) => entry.id));
    for (const entry of refused) {
      // Logged by id only: never the template.
      target.log.warn('enrollment record not loaded', { credentialId: entry.id, error: entry.reason });
    }
    const loadedIds = new Set(entries.map((entry) => entry.id).filter((id) => !refusedIds.has(id)));
    for (const record of batch) {
      if (loadedIds.has(record.credentialId)) target.enrolled.set(record.credentialId, { accountId: record.accountId, hint: record.hint });
    }
  };
  for (const record of records) {
    if (!record.deleted) {
      pending.push(record);
      continue;
    }
    await flush();
    target.engine.remove(record.credentialId);
    target.enrolled.delete(record.credentialId);
  }
  await flush();
}

class AssociationService {
  constructor(
    private readonly engine: MatchEngine,
    private readonly enrolled: Map<string, Enrolled>,
    private readonly sealer: TemplateSealer,
    private readonly enrollmentLog: EnrollmentLog,
    private readonly defaultTargetFmr: number,
  ) {}

  async receive(method: string, message: unknown): Promise<unknown> {
    switch (method) {
      case 'identify': return this.identify(message as IdentifyRequest);
      case 'enroll': return this.enroll(message as EnrollRequest);
      case 'deleteEnrollment': return this.deleteEnrollment(message as DeleteEnrollmentRequest);
      default: throw new BiopayError(ErrorCode.BadRequest, `association has no method ${method}`);
    }
  }

  private async identify(request: IdentifyRequest): Promise<IdentifyResponse> {
    const template = request.capture?.isoTemplate;
    if (!template || template.length === 0) {
      throw new BiopayError(ErrorCode.BadRequest, 'identify needs a fingerprint template in the capture');
    }
    const targetFmr = request.targetFmr > 0 ? request.targetFmr : this.defaultTargetFmr;
    const threshold = this.engine.thresholdForFmr(targetFmr);
    const { candidates, searched } = await this.engine.identify(template, { topK: 1, hint: request.capture?.hint || undefined });
    const best = candidates[0];
    const who = best ? this.enrolled.get(best.id) : undefined;
    const matched = best !== undefined && who !== undefined && best.score >= threshold;
    return {
      matched,
      accountId: matched ? who.accountId : '',
      credentialId: matched ? best.id : '',
      score: best?.score ?? 0,
      threshold,
      candidatesSearched: searched,
    };
  }

  private async enroll(request: EnrollRequest): Promise<EnrollResponse> {
    if (!request.accountId) throw new BiopayError(ErrorCode.BadRequest, 'enroll needs an account id');
    if (request.modality !== Modality.MODALITY_UNSPECIFIED && request.modality !== Modality.MODALITY_FINGERPRINT) {
      throw new BiopayError(ErrorCode.BadRequest, 'only fingerprint enrollment is supported by this node');
    }
    const credentialId = request.credentialId || `cred_${randomUUID()}`;
    const existing = this.enrolled.get(credentialId);
    if (existing) {
      if (existing.accountId !== request.accountId) {
        throw new BiopayError(ErrorCode.AlreadyEnrolled, `credential ${credentialId} belongs to another account`);
      }
      return { credentialId, accountId: request.accountId, minutiaeCount: 0 };
    }
    await this.refuseDuplicate(request.isoTemplate);
    // add() parses strictly and throws INVALID_TEMPLATE before anything is stored.
    this.engine.add(credentialId, request.isoTemplate, { hint: request.hint || undefined });
    this.enrolled.set(credentialId, { accountId: request.accountId, hint: request.hint });
    try {
      await this.enrollmentLog.append({
        credentialId, accountId: request.accountId, modality: Modality.MODALITY_FINGERPRINT,
        sealedTemplate: this.sealer.seal(request.isoTemplate, credentialId), deleted: false,
        changedUnixMs: BigInt(Date.now()), hint: request.hint,
      }, `enroll:${credentialId}`);
    } catch (error) {
      this.engine.remove(credentialId);
      this.enrolled.delete(credentialId);
      throw error;
    }
    return { credentialId, accountId: request.accountId, minutiaeCount: 0 };
  }

  /** 1:N at enrollment: a finger already enrolled (to any account) is refused. */
  private async refuseDuplicate(template: Uint8Array): Promise<void> {
    if (this.engine.size === 0) return;
    const { candidates } = await this.engine.identify(template, { topK: 1 });
    const best = candidates[0];
    if (best && best.score >= this.engine.thresholdForFmr(this.defaultTargetFmr)) {
      const owner = this.enrolled.get(best.id);
      throw new BiopayError(ErrorCode.AlreadyEnrolled,
        `this finger is already enrolled as credential ${best.id}${owner ? ` of account ${owner.accountId}` : ''}`);
    }
  }

  private async deleteEnrollment(request: DeleteEnrollmentRequest): Promise<DeleteEnrollmentResponse> {
    const existing = this.enrolled.get(request.credentialId);
    if (!existing) return { deleted: false };
    await this.enrollmentLog.append({
      credentialId: request.credentialId, accountId: existing.accountId, modality: Modality.MODALITY_FINGERPRINT,
      sealedTemplate: Buffer.alloc(0), deleted: true, changedUnixMs: BigInt(Date.now()), hint: '',
    }, `delete:${request.credentialId}:${Date.now()}`);
    this.engine.remove(request.credentialId);
    this.enrolled.delete(request.credentialId);
    return { deleted: true };
  }
}
