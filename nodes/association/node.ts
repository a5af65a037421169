/**
 * Association node: enrolls biometric templates (fingerprints, face and palm embeddings, linked to
 * an account and a credential) and identifies a capture 1:N, fusing finger and face scores when a
 * capture has both. Enrollments are sealed and appended to the enrollment stream; every node
 * replays it and keeps the templates of its own gallery partition (core/association/partition.ts:
 * partition p of P, identify and enrollment dedupe asked of every partition and merged).
 */
import { randomUUID } from 'node:crypto';
import type { NatsConnection } from '@nats-io/transport-node';
import {
  Capture, Modality, type DeleteEnrollmentRequest, type DeleteEnrollmentResponse, type EnrollmentRecord, type EnrollRequest,
  type EnrollResponse, type GallerySearchRequest, type GallerySearchResponse, type IdentifyRequest, type IdentifyResponse,
} from '../../proto/gen/biopay/v1/biometrics.js';
import { ActorSystem } from '../../core/actors/index.js';
import { CredentialDirectory } from '../../core/association/credential-directory.js';
import { EarlyAccept } from '../../core/association/early-accept.js';
import { narrowEnrollment, type ImpressionChooser } from '../../core/association/enrollment-impressions.js';
import { EnrollmentLog } from '../../core/association/enrollment-log.js';
import { decideIdentity, DEFAULT_TARGET_FPIR, fingerIdentificationThreshold, modalityThreshold, type DecisionContext } from '../../core/association/identify-decision.js';
import {
  checkPartition, GalleryPartitionProtocol, partitionKind, partitionOf, SINGLE_PARTITION, type PartitionSpec,
} from '../../core/association/partition.js';
import {
  embeddingModality, embeddingToBytes, PartitionGallery, type EmbeddingModality, type StoredTemplate,
} from '../../core/association/partition-gallery.js';
import { PartitionClients } from '../../core/association/scatter.js';
import { TemplateSealer } from '../../core/association/template-crypto.js';
import { calibration as fingerCalibration, type Calibration } from '../../core/biometrics/calibration.js';
import { analyticCalibration } from '../../core/biometrics/embeddings/calibration.js';
import type { Quantization } from '../../core/biometrics/embeddings/embedding-vector.js';
import { candidateCounts, type MatchEngine } from '../../core/biometrics/match-engine.js';
import { BiopayError, ErrorCode } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import { ActorKind, AssociationProtocol } from '../../core/protocols.js';
import type { AssociationStatus } from '../../core/status/node-status.js';
import { logSetupRetries } from '../../core/transport/jetstream-setup.js';

export interface AssociationNodeOptions {
  readonly nc: NatsConnection;
  readonly system: ActorSystem;
  readonly sealer: TemplateSealer;
  readonly log: Logger;
  /** Worker threads matching; 0 matches on the node's own thread. */
  readonly workers?: number;
  /** False match rate the identification decision targets when a request names none. */
  readonly defaultTargetFmr?: number;
  /** False positive identification rate fingerprint 1:N decisions are held to (DEFAULT_TARGET_FPIR). */
  readonly targetFpir?: number;
  /** The gallery partition this node keeps (default 0/1: the whole gallery). */
  readonly partition?: PartitionSpec;
  /** Embedding dimension per modality (default 512 face, 256 palm); the same on every node. */
  readonly embeddingDimensions?: Partial<Record<EmbeddingModality, number>>;
  readonly embeddingQuantization?: Quantization;
  /** The deployed face/palm models' tables; analytic for the dimension when omitted (see calibration.ts). */
  readonly embeddingCalibrations?: Partial<Record<EmbeddingModality, Calibration>>;
  /** The longest one partition's answer may take (within the caller's deadline). */
  readonly partitionTimeoutMs?: number;
  /**
   * Fingerprint templates one identify compares in full, over all partitions (the candidate
   * index picks them); each partition takes its share, so splitting a gallery does not multiply
   * the work: the true match ranks about P times higher in its partition than in the whole.
   */
  readonly candidatesPerIdentify?: number;
  /**
   * The same for an identify narrowed by a terminal's hint; default `candidatesPerIdentify` when
   * that is given, else 1,500: the community is compared whole while it holds at most 3,000
   * (accuracy first).
   */
  readonly hintedCandidatesPerIdentify?: number;
  /**
   * While identifies queue for the matcher threads, each compares fewer index candidates instead
   * of waiting longer (MatchEngine `brownout`). Default false.
   */
  readonly brownout?: boolean;
}

export interface AssociationNode {
  /** This partition's fingerprint engine. */
  readonly engine: MatchEngine;
  readonly gallery: PartitionGallery;
  /** Every credential of every partition (metadata only). */
  readonly directory: CredentialDirectory;
  readonly partition: PartitionSpec;
  /** Its gallery and matcher counters now (`biopay status`). */
  status(): AssociationStatus;
  stop(): Promise<void>;
}

export const DEFAULT_TARGET_FMR = 1e-4;
/**
 * The longest one partition may take (asks end before the caller's deadline anyway); also the
 * deadline when the caller set none.
 */
export const DEFAULT_PARTITION_TIMEOUT_MS = 5_000;
/** Matcher threads of a node that names none: the two cores this runtime is sized for. */
export const DEFAULT_MATCH_WORKERS = 2;
const ASSOCIATION_IDLE_TIMEOUT_MS = 2_000;
/** Candidates per modality and partition: one decides a single modality; fusion needs a few. */
const SINGLE_TOP_K = 1;
const FUSION_TOP_K = 5;
/** Two: the credential being enrolled may be its own best candidate (a retried enrollment). */
const DEDUPE_TOP_K = 2;
const SEARCH_TOP_K_MAX = 100;

interface NodeState {
  readonly gallery: PartitionGallery;
  readonly directory: CredentialDirectory;
  readonly sealer: TemplateSealer;
  readonly log: Logger;
  readonly partition: PartitionSpec;
}

export async function startAssociationNode(options: AssociationNodeOptions): Promise<AssociationNode> {
  const { nc, system, sealer, log } = options;
  const partition = checkPartition(options.partition ?? SINGLE_PARTITION);
  const perIdentify = candidateCounts({ candidates: options.candidatesPerIdentify, hintedCandidates: options.hintedCandidatesPerIdentify });
  const candidates = Math.ceil(perIdentify.candidates / partition.count);
  const hintedCandidates = Math.ceil(perIdentify.hintedCandidates / partition.count);
  const workers = options.workers ?? DEFAULT_MATCH_WORKERS;
  const gallery = await PartitionGallery.create({
    workers, dimensions: options.embeddingDimensions, quantization: options.embeddingQuantization, candidates, hintedCandidates,
    brownout: options.brownout,
  });
  const state: NodeState = { gallery, directory: new CredentialDirectory(), sealer, log, partition };
  const enrollmentLog = await EnrollmentLog.open(nc, logSetupRetries(log));
  await enrollmentLog.follow(
    (records) => applyRecords(records, state),
    (error) => log.warn('malformed enrollment record skipped', { error: String(error) }),
  );
  log.info('gallery replayed', { partition: `${partition.index}/${partition.count}`, templates: gallery.size, credentials: state.directory.size });

  const defaultTargetFmr = options.defaultTargetFmr ?? DEFAULT_TARGET_FMR;
  const targetFpir = options.targetFpir ?? DEFAULT_TARGET_FPIR;
  const embeddingCalibration = (modality: EmbeddingModality) =>
    options.embeddingCalibrations?.[modality] ?? analyticCalibration(gallery.embeddingGallery(modality).dimension);
  const decision: DecisionContext = {
    fingerThreshold: (targetFmr, population) => fingerIdentificationThreshold(targetFmr, population, targetFpir),
    calibrations: { finger: fingerCalibration, face: embeddingCalibration('face'), palm: embeddingCalibration('palm') },
    enrolledModalities: (accountId, modalities) => state.directory.enrolledModalities(accountId, modalities),
  };
  const partitions = new PartitionClients(system, partition.count, options.partitionTimeoutMs ?? DEFAULT_PARTITION_TIMEOUT_MS);
  const owner = new PartitionService(state, enrollmentLog);
  const front = new AssociationService(partitions, decision, defaultTargetFmr, (impressions) => gallery.engine.chooseImpression(impressions));
  // Both kinds keyed per capture (or credential): short-lived actors, passivated soon after.
  const kindOptions = { idleTimeoutMs: ASSOCIATION_IDLE_TIMEOUT_MS };
  const ownKind = partitionKind(partition.index, partition.count);
  system.register(ownKind, GalleryPartitionProtocol, () => ({ receive: (method, message) => owner.receive(method, message) }), kindOptions);
  system.register(ActorKind.Association, AssociationProtocol, (key) => ({
    receive: (method, message, context) => front.receive(key, method, message, context?.deadlineMs ?? 0),
  }), kindOptions);
  await system.serve(ownKind);
  await system.serve(ActorKind.Association);
  return {
    engine: gallery.engine,
    gallery,
    directory: state.directory,
    partition,
    status: () => {
      const stats = gallery.engine.stats();
      return {
        templates: stats.templates, galleryBytes: stats.galleryBytes, partition: `${partition.index}/${partition.count}`,
        matcherThreads: workers, brownout: options.brownout ?? false, identifiesBrownedOut: stats.searchesBrownedOut,
      };
    },
    async stop() {
      await enrollmentLog.close();
      await gallery.close();
    },
  };
}

function isMine(credentialId: string, partition: PartitionSpec): boolean {
  return partitionOf(credentialId, partition.count) === partition.index;
}

function recordModality(modality: Modality): Modality {
  return modality === Modality.MODALITY_UNSPECIFIED ? Modality.MODALITY_FINGERPRINT : modality;
}

/**
 * Applies a batch in stream order. Every record updates the directory; only this partition's are
 * opened and loaded, fingers converted in bulk by the workers.
 */
async function applyRecords(records: readonly EnrollmentRecord[], state: NodeState): Promise<void> {
  let pending: EnrollmentRecord[] = [];
  const flush = async () => {
    if (pending.length === 0) return;
    const batch = pending;
    pending = [];
    await loadOwnRecords(batch, state);
  };
  for (const record of records) {
    const mine = isMine(record.credentialId, state.partition);
    if (record.deleted) {
      await flush();
      if (mine) state.gallery.remove(record.credentialId);
      state.directory.delete(record.credentialId);
    } else if (mine) {
      // This node's own enrollment coming back from the stream is already in the gallery: loading it
      // again would replace its slot while a search may be reading it (the search would lose it).
      const known = state.directory.get(record.credentialId);
      if (known?.accountId !== record.accountId || known.modality !== recordModality(record.modality)) pending.push(record);
    } else {
      state.directory.set(record.credentialId, { accountId: record.accountId, modality: recordModality(record.modality), hint: record.hint });
    }
  }
  await flush();
}

async function loadOwnRecords(batch: readonly EnrollmentRecord[], state: NodeState): Promise<void> {
  const templates: StoredTemplate[] = batch.flatMap((record) => {
    try {
      const bytes = state.sealer.open(record.sealedTemplate, record.credentialId);
      return [{ id: record.credentialId, modality: recordModality(record.modality), bytes, hint: record.hint }];
    } catch (error) {
      state.log.warn('enrollment record not loaded', { credentialId: record.credentialId, error: String(error) });
      return [];
    }
  });
  const { refused } = await state.gallery.addMany(templates);
  const refusedIds = new Set(refused.map((entry) => entry.id));
  for (const entry of refused) {
    // Logged by id only: never the template.
    state.log.warn('enrollment record not loaded', { credentialId: entry.id, error: entry.reason });
  }
  const loaded = new Set(templates.map((template) => template.id).filter((id) => !refusedIds.has(id)));
  for (const record of batch) {
    if (loaded.has(record.credentialId)) {
      state.directory.set(record.credentialId, { accountId: record.accountId, modality: recordModality(record.modality), hint: record.hint });
    }
  }
}

/** The modalities a capture carries, finger first. */
function capturedModalities(capture: Capture | undefined): Modality[] {
  if (!capture) return [];
  const modalities: Modality[] = [];
  if (capture.isoTemplate.length > 0) modalities.push(Modality.MODALITY_FINGERPRINT);
  if (capture.face && capture.face.values.length > 0) modalities.push(Modality.MODALITY_FACE);
  if (capture.palm && capture.palm.values.length > 0) modalities.push(Modality.MODALITY_PALM);
  return modalities;
}

/** The template an enrollment carries, as a one-modality capture (for the dedupe search). */
function enrollmentCapture(request: EnrollRequest, modality: Modality): Capture {
  const embedding = embeddingModality(modality);
  if (embedding === undefined) return Capture.fromPartial({ isoTemplate: request.isoTemplate });
  if (!request.embedding || request.embedding.values.length === 0) {
    throw new BiopayError(ErrorCode.BadRequest, `a ${embedding} enrollment needs an embedding`);
  }
  return Capture.fromPartial(embedding === 'face' ? { face: request.embedding } : { palm: request.embedding });
}

/** The public `association` kind, served by every node: fans out to the partitions and decides. */
class AssociationService {
  private readonly earlyAccept = new EarlyAccept();

  constructor(
    private readonly partitions: PartitionClients,
    private readonly decision: DecisionContext,
    private readonly defaultTargetFmr: number,
    private readonly chooseImpression: ImpressionChooser,
  ) {}

  /** `deadlineMs`: the asker's (Unix ms, 0 = none); every partition ask ends before it. */
  async receive(key: string, method: string, message: unknown, deadlineMs: number): Promise<unknown> {
    switch (method) {
      case 'identify': return this.identify(key, message as IdentifyRequest, deadlineMs);
      case 'enroll': return this.enroll(message as EnrollRequest, deadlineMs);
      case 'deleteEnrollment': return this.deleteEnrollment(message as DeleteEnrollmentRequest, deadlineMs);
      default: throw new BiopayError(ErrorCode.BadRequest, `association has no method ${method}`);
    }
  }

  private async identify(key: string, request: IdentifyRequest, deadlineMs: number): Promise<IdentifyResponse> {
    const captured = capturedModalities(request.capture);
    if (captured.length === 0) {
      throw new BiopayError(ErrorCode.BadRequest, 'identify needs a fingerprint template or a face or palm embedding in the capture');
    }
    const targetFmr = request.targetFmr > 0 ? request.targetFmr : this.defaultTargetFmr;
    const topK = captured.length === 1 ? SINGLE_TOP_K : FUSION_TOP_K;
    // A fingerprint alone is decided by its best score: the partitions may stop at one that decides.
    const fingerOnly = captured.length === 1 && captured[0] === Modality.MODALITY_FINGERPRINT;
    const hint = request.capture!.hint;
    const threshold = (population: number) => modalityThreshold(Modality.MODALITY_FINGERPRINT, targetFmr, this.decision, population);
    const acceptScore = fingerOnly ? this.earlyAccept.scoreFor(hint, threshold) : 0;
    let answer = await this.partitions.searchAll(`identify:${key}`, request.capture!, topK, deadlineMs, acceptScore);
    if (fingerOnly) this.earlyAccept.remember(hint, answer.fingerPopulation);
    if (answer.stoppedEarly && threshold(answer.fingerPopulation) > acceptScore) {
      // The population outgrew the bound the accept score assumed: the early stop may not decide.
      answer = await this.partitions.searchAll(`identify:${key}`, request.capture!, topK, deadlineMs, 0);
    }
    return decideIdentity(answer.candidates, captured, targetFmr, this.decision, answer.searched, answer.fingerPopulation);
  }

  private async enroll(offered: EnrollRequest, deadlineMs: number): Promise<EnrollResponse> {
    if (!offered.accountId) throw new BiopayError(ErrorCode.BadRequest, 'enroll needs an account id');
    const modality = recordModality(offered.modality);
    // Several impressions become the one kept before anything else looks at the enrollment.
    const { request, impressions, selectedImpression } = await narrowEnrollment(offered, modality, this.chooseImpression);
    const capture = enrollmentCapture(request, modality);
    const credentialId = request.credentialId || `cred_${randomUUID()}`;
    await this.refuseDuplicate(credentialId, capture, modality, deadlineMs);
    const owner = this.partitions.owner(credentialId);
    const enrolled = await owner.ask(credentialId, 'enroll', { ...request, credentialId, modality }, this.partitions.askOptions(deadlineMs));
    return { ...enrolled, impressions, selectedImpression };
  }

  /**
   * 1:N at enrollment, over every partition: a finger (face, palm) already enrolled to any account
   * is refused. The credential itself is skipped: a retried enrollment is the owner's to answer.
   */
  private async refuseDuplicate(credentialId: string, capture: Capture, modality: Modality, deadlineMs: number): Promise<void> {
    const { candidates, fingerPopulation } = await this.partitions.searchAll(`dedupe:${credentialId}`, capture, DEDUPE_TOP_K, deadlineMs);
    const threshold = modalityThreshold(modality, this.defaultTargetFmr, this.decision, fingerPopulation);
    const best = candidates
      .filter((candidate) => candidate.credentialId !== credentialId)
      .sort((a, b) => b.score - a.score)[0];
    if (best && best.score >= threshold) {
      const what = modality === Modality.MODALITY_FINGERPRINT ? 'finger' : embeddingModality(modality);
      throw new BiopayError(ErrorCode.AlreadyEnrolled,
        `this ${what} is already enrolled as credential ${best.credentialId}${best.accountId ? ` of account ${best.accountId}` : ''}`);
    }
  }

  private deleteEnrollment(request: DeleteEnrollmentRequest, deadlineMs: number): Promise<DeleteEnrollmentResponse> {
    if (!request.credentialId) throw new BiopayError(ErrorCode.BadRequest, 'deleteEnrollment needs a credential id');
    const owner = this.partitions.owner(request.credentialId);
    return owner.ask(request.credentialId, 'deleteEnrollment', request, this.partitions.askOptions(deadlineMs));
  }
}

/** This node's partition kind: searches its templates, stores and deletes the credentials it owns. */
class PartitionService {
  constructor(private readonly state: NodeState, private readonly enrollmentLog: EnrollmentLog) {}

  async receive(method: string, message: unknown): Promise<unknown> {
    switch (method) {
      case 'search': return this.search(message as GallerySearchRequest);
      case 'enroll': return this.enroll(message as EnrollRequest);
      case 'deleteEnrollment': return this.deleteEnrollment(message as DeleteEnrollmentRequest);
      default: throw new BiopayError(ErrorCode.BadRequest, `gallery partition has no method ${method}`);
    }
  }

  private async search(request: GallerySearchRequest): Promise<GallerySearchResponse> {
    if (!request.capture) throw new BiopayError(ErrorCode.BadRequest, 'search needs a capture');
    const topK = Math.min(Math.max(request.topK, 1), SEARCH_TOP_K_MAX);
    // The engine refuses an accept score outside [0, 1] (BAD_REQUEST, passed back to the asker).
    const { candidates, searched, fingerPopulation, stoppedEarly } = await this.state.gallery.search(request.capture, topK, request.acceptScore);
    return {
      fingerPopulation,
      stoppedEarly,
      candidates: candidates.map(({ credentialId, modality, score }) =>
        ({ credentialId, modality, score, accountId: this.state.directory.get(credentialId)?.accountId ?? '' })),
      searched,
    };
  }

  private async enroll(request: EnrollRequest): Promise<EnrollResponse> {
    const { credentialId, accountId } = request;
    if (!accountId || !credentialId) throw new BiopayError(ErrorCode.BadRequest, 'a partition enroll needs an account id and a credential id');
    this.assertMine(credentialId);
    const response = { credentialId, accountId, minutiaeCount: 0, impressions: 1, selectedImpression: 0 };
    const existing = this.state.directory.get(credentialId);
    if (existing) {
      if (existing.accountId !== accountId) throw new BiopayError(ErrorCode.AlreadyEnrolled, `credential ${credentialId} belongs to another account`);
      return response;
    }
    const modality = recordModality(request.modality);
    const bytes = embeddingModality(modality) === undefined ? request.isoTemplate : embeddingToBytes(request.embedding?.values ?? []);
    // add() checks the template strictly and throws INVALID_TEMPLATE before anything is stored.
    this.state.gallery.add({ id: credentialId, modality, bytes, hint: request.hint });
    this.state.directory.set(credentialId, { accountId, modality, hint: request.hint });
    try {
      await this.enrollmentLog.append({
        credentialId, accountId, modality, sealedTemplate: this.state.sealer.seal(bytes, credentialId), deleted: false,
        changedUnixMs: BigInt(Date.now()), hint: request.hint,
      }, `enroll:${credentialId}`);
    } catch (error) {
      this.state.gallery.remove(credentialId);
      this.state.directory.delete(credentialId);
      throw error;
    }
    return response;
  }

  private async deleteEnrollment(request: DeleteEnrollmentRequest): Promise<DeleteEnrollmentResponse> {
    this.assertMine(request.credentialId);
    const existing = this.state.directory.get(request.credentialId);
    if (!existing) return { deleted: false };
    await this.enrollmentLog.append({
      credentialId: request.credentialId, accountId: existing.accountId, modality: existing.modality,
      sealedTemplate: Buffer.alloc(0), deleted: true, changedUnixMs: BigInt(Date.now()), hint: '',
    }, `delete:${request.credentialId}:${Date.now()}`);
    this.state.gallery.remove(request.credentialId);
    this.state.directory.delete(request.credentialId);
    return { deleted: true };
  }

  /** A credential of another partition here means the sender counts partitions differently. */
  private assertMine(credentialId: string): void {
    if (!isMine(credentialId, this.state.partition)) {
      const { index, count } = this.state.partition;
      throw new BiopayError(ErrorCode.BadRequest, `credential ${credentialId} is not in gallery partition ${index}/${count}`);
    }
  }
}
