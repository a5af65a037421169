/**
 * Scatter-gather over the gallery partitions (design: partition.ts). Every partition is asked at
 * once with one deadline; the answer is complete or an error, never a partial gallery's "no match".
 */
import type { ActorClient, ActorSystem } from '../actors/index.js';
import type { Capture, GalleryCandidate } from '../../proto/gen/biopay/v1/biometrics.js';
import { asBiopayError, BiopayError, ErrorCode } from '../errors.js';
import { GalleryPartitionProtocol, partitionKind, partitionOf } from './partition.js';

type PartitionClient = ActorClient<typeof GalleryPartitionProtocol>;

/** Left of the caller's deadline to merge and reply after the partitions answered. */
const REPLY_MARGIN_MS = 20;

/** Errors that are the request's fault: every partition would say the same, so pass it on. */
const CALLER_ERRORS: readonly string[] = [ErrorCode.BadRequest, ErrorCode.InvalidTemplate, ErrorCode.MalformedMessage];

export interface ScatterAnswer {
  candidates: GalleryCandidate[];
  searched: number;
  fingerPopulation: number;
  /** Some partition stopped its fingerprint search at a candidate reaching the accept score. */
  stoppedEarly: boolean;
}

export class PartitionClients {
  private readonly clients: PartitionClient[];

  /** `timeoutMs`: the longest a partition may take, and what it gets when the caller set no deadline. */
  constructor(system: ActorSystem, readonly count: number, private readonly timeoutMs: number) {
    this.clients = Array.from({ length: count }, (_, index) => system.client(partitionKind(index, count), GalleryPartitionProtocol));
  }

  /** The partition that stores (and deletes) this credential. */
  owner(credentialId: string): PartitionClient {
    return this.clients[partitionOf(credentialId, this.count)]!;
  }

  /** Ask options ending before the caller's deadline (Unix ms; 0 = none), at most `timeoutMs`. */
  askOptions(deadlineMs: number): { timeoutMs: number } {
    if (deadlineMs === 0) return { timeoutMs: this.timeoutMs };
    const leftMs = Math.floor(deadlineMs - Date.now() - REPLY_MARGIN_MS);
    if (leftMs < 1) throw new BiopayError(ErrorCode.Timeout, 'the deadline passed before the gallery partitions were asked');
    return { timeoutMs: Math.min(this.timeoutMs, leftMs) };
  }

  /** Every partition's topK per modality, concatenated; throws if any partition fails. */
  async searchAll(key: string, capture: Capture, topK: number, deadlineMs: number, acceptScore = 0): Promise<ScatterAnswer> {
    const options = this.askOptions(deadlineMs);
    const answers = await Promise.allSettled(
      this.clients.map((client) => client.ask(key, 'search', { capture, topK, acceptScore }, options)),
    );
    const failures = answers.flatMap((answer, index) => (answer.status === 'rejected' ? [{ index, error: asBiopayError(answer.reason) }] : []));
    const callerError = failures.find(({ error }) => CALLER_ERRORS.includes(error.code));
    if (callerError) throw callerError.error;
    const failed = failures[0];
    if (failed) {
      const missing = failures.map(({ index }) => `${index}/${this.count}`).join(', ');
      throw new BiopayError(ErrorCode.Unavailable,
        `gallery partition ${missing} gave no answer (deadline ${options.timeoutMs} ms): ${failed.error.message}`, { cause: failed.error });
    }
    const candidates: GalleryCandidate[] = [];
    let searched = 0;
    let fingerPopulation = 0;
    let stoppedEarly = false;
    for (const answer of answers) {
      if (answer.status !== 'fulfilled') continue;
      candidates.push(...answer.value.candidates);
      searched += answer.value.searched;
      fingerPopulation += answer.value.fingerPopulation;
      stoppedEarly ||= answer.value.stoppedEarly;
    }
    return { candidates, searched, fingerPopulation, stoppedEarly };
  }
}
