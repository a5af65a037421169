/**
 * The templates of one gallery partition, every modality: fingerprints in the MatchEngine (worker
 * threads, candidate index), face and palm embeddings in EmbeddingGalleries (cosine, in this
 * thread: a comparison is a few hundred multiply-adds). At rest (the enrollment stream) a finger is
 * its ISO record and an embedding its float32 components, little-endian; both are sealed.
 */
import { Modality, type Capture } from '../../proto/gen/biopay/v1/biometrics.js';
import { EmbeddingGallery } from '../biometrics/embeddings/embedding-gallery.js';
import { defaultDimensions, type Quantization } from '../biometrics/embeddings/embedding-vector.js';
import { MatchEngine } from '../biometrics/match-engine.js';
import { BiopayError, ErrorCode } from '../errors.js';

export type EmbeddingModality = 'face' | 'palm';

export interface PartitionGalleryOptions {
  /** Matcher worker threads; 0 matches on this thread. */
  readonly workers: number;
  /** Embedding dimension per modality (default 512 face, 256 palm). */
  readonly dimensions?: Partial<Record<EmbeddingModality, number>>;
  readonly quantization?: Quantization;
  /** Fingerprint templates the full matcher compares per search (MatchEngine `candidates`). */
  readonly candidates?: number;
  /** The same for searches narrowed by a hint (MatchEngine `hintedCandidates`). */
  readonly hintedCandidates?: number;
  /** Fewer candidates while searches queue for the matcher threads (MatchEngine `brownout`, default false). */
  readonly brownout?: boolean;
}

export interface StoredTemplate {
  readonly id: string;
  readonly modality: Modality;
  /** ISO record for a finger, float32 little-endian components for an embedding. */
  readonly bytes: Uint8Array;
  readonly hint: string;
}

export interface PartitionCandidate {
  readonly credentialId: string;
  readonly modality: Modality;
  readonly score: number;
}

/** The gallery a modality's templates go to; UNSPECIFIED is a finger (the original contract). */
export function embeddingModality(modality: Modality): EmbeddingModality | undefined {
  if (modality === Modality.MODALITY_FACE) return 'face';
  if (modality === Modality.MODALITY_PALM) return 'palm';
  if (modality === Modality.MODALITY_FINGERPRINT || modality === Modality.MODALITY_UNSPECIFIED) return undefined;
  throw new BiopayError(ErrorCode.BadRequest, `unknown modality ${String(modality)}`);
}

export function embeddingToBytes(values: ArrayLike<number>): Buffer {
  const bytes = Buffer.alloc(values.length * Float32Array.BYTES_PER_ELEMENT);
  for (let index = 0; index < values.length; index++) bytes.writeFloatLE(values[index]!, index * Float32Array.BYTES_PER_ELEMENT);
  return bytes;
}

export function embeddingFromBytes(bytes: Uint8Array): Float32Array {
  if (bytes.length % Float32Array.BYTES_PER_ELEMENT !== 0) {
    throw new BiopayError(ErrorCode.InvalidTemplate, 'a stored embedding is not a whole number of float32 components');
  }
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const values = new Float32Array(bytes.length / Float32Array.BYTES_PER_ELEMENT);
  for (let index = 0; index < values.length; index++) values[index] = view.readFloatLE(index * Float32Array.BYTES_PER_ELEMENT);
  return values;
}

export class PartitionGallery {
  private constructor(
    readonly engine: MatchEngine,
    private readonly embeddings: Readonly<Record<EmbeddingModality, EmbeddingGallery>>,
  ) {}

  static async create(options: PartitionGalleryOptions): Promise<PartitionGallery> {
    const gallery = (modality: EmbeddingModality) => new EmbeddingGallery({
      modality, dimension: options.dimensions?.[modality] ?? defaultDimensions[modality], quantization: options.quantization,
    });
    // Built before the engine: a bad dimension fails without worker threads to clean up.
    const embeddings = { face: gallery('face'), palm: gallery('palm') };
    return new PartitionGallery(await MatchEngine.create({
      workers: options.workers, candidates: options.candidates, hintedCandidates: options.hintedCandidates, brownout: options.brownout,
    }), embeddings);
  }

  get size(): number {
    return this.engine.size + this.embeddings.face.size + this.embeddings.palm.size;
  }

  embeddingGallery(modality: EmbeddingModality): EmbeddingGallery {
    return this.embeddings[modality];
  }

  /** Parses (or checks) and stores one template; INVALID_TEMPLATE before anything is stored. */
  add(template: StoredTemplate): void {
    const hint = template.hint || undefined;
    const embedding = embeddingModality(template.modality);
    if (embedding === undefined) this.engine.add(template.id, template.bytes, { hint });
    else this.embeddings[embedding].add(template.id, embeddingFromBytes(template.bytes), { hint });
    this.removeOtherModalities(template.id, embedding);
  }

  /** Bulk load (replay): fingers converted by the workers; returns what was refused, by id. */
  async addMany(templates: readonly StoredTemplate[]): Promise<{ refused: { id: string; reason: string }[] }> {
    const refused: { id: string; reason: string }[] = [];
    const fingers = [];
    for (const template of templates) {
      try {
        if (embeddingModality(template.modality) === undefined) {
          this.removeOtherModalities(template.id, undefined);
          fingers.push({ id: template.id, isoBytes: template.bytes, hint: template.hint || undefined });
        } else {
          this.add(template);
        }
      } catch (error) {
        refused.push({ id: template.id, reason: String(error) });
      }
    }
    const converted = await this.engine.addMany(fingers);
    return { refused: [...refused, ...converted.refused.map(({ id, reason }) => ({ id, reason }))] };
  }

  remove(id: string): boolean {
    const removed = [this.engine.remove(id), this.embeddings.face.remove(id), this.embeddings.palm.remove(id)];
    return removed.some(Boolean);
  }

  /**
   * The topK candidates of each modality the capture carries. `acceptScore` > 0 lets the
   * fingerprint search stop at a candidate reaching it (match-engine.ts IdentifyOptions).
   */
  async search(capture: Capture, topK: number, acceptScore = 0): Promise<{ candidates: PartitionCandidate[]; searched: number; fingerPopulation: number; stoppedEarly: boolean }> {
    const hint = capture.hint || undefined;
    const candidates: PartitionCandidate[] = [];
    let searched = 0;
    let fingerPopulation = 0;
    let stoppedEarly = false;
    if (capture.isoTemplate.length > 0) {
      const found = await this.engine.identify(capture.isoTemplate, { topK, hint, acceptScore });
      searched += found.searched;
      fingerPopulation = found.population;
      stoppedEarly = found.stoppedEarly === true;
      for (const { id, score } of found.candidates) candidates.push({ credentialId: id, modality: Modality.MODALITY_FINGERPRINT, score });
    }
    for (const [modality, embedding] of [[Modality.MODALITY_FACE, capture.face], [Modality.MODALITY_PALM, capture.palm]] as const) {
      if (!embedding || embedding.values.length === 0) continue;
      const found = this.embeddings[embeddingModality(modality)!].search(embedding.values, { topK, hint });
      searched += found.searched;
      for (const { id, score } of found.candidates) candidates.push({ credentialId: id, modality, score });
    }
    return { candidates, searched, fingerPopulation, stoppedEarly };
  }

  async close(): Promise<void> {
    await this.engine.close();
  }

  /** A credential re-enrolled under another modality leaves the gallery of the old one. */
  private removeOtherModalities(id: string, kept: EmbeddingModality | undefined): void {
    if (kept !== undefined) this.engine.remove(id);
    for (const modality of ['face', 'palm'] as const) if (modality !== kept) this.embeddings[modality].remove(id);
  }
}
