/**
 * A simulated embedding model for tests and load: each person has an identity direction (a
 * seeded random unit vector) and each capture adds noise of a set strength before normalising.
 * With per-component noise sd = noise / sqrt(dimension), the noise vector has length ~noise, so two
 * captures of one person have cosine ~1 / (1 + noise^2) and captures of two people have cosine
 * ~N(0, 1/dimension): the shape of a real model's genuine and impostor scores, not their values.
 */
import { BiopayError, ErrorCode } from '../../errors.js';
import { checkSeed, deriveSeed, Rng } from '../synthetic/random.js';
import { checkDimension, normalizeEmbedding } from './embedding-vector.js';

export interface SyntheticEmbeddingOptions {
  dimension: number;
  seed: number;
  /** Length of the capture noise relative to the identity vector (0 = every capture identical). */
  noise: number;
}

const maxNoise = 100;

/** A unit vector uniformly distributed on the sphere (normalised Gaussian). */
export function randomUnitVector(rng: Rng, dimension: number): Float32Array {
  const values = new Float64Array(dimension);
  for (let index = 0; index < dimension; index++) values[index] = rng.gaussian();
  return normalizeEmbedding(values, dimension);
}

export class SyntheticEmbeddingModel {
  readonly dimension: number;
  private readonly seed: number;
  private readonly noise: number;

  constructor(options: SyntheticEmbeddingOptions) {
    this.dimension = checkDimension(options.dimension);
    this.seed = checkSeed(options.seed);
    if (!(options.noise >= 0 && options.noise <= maxNoise)) {
      throw new BiopayError(ErrorCode.BadRequest, `noise must be in [0, ${maxNoise}]`);
    }
    this.noise = options.noise;
  }

  /** The person's identity direction: a pure function of (seed, person). */
  identity(person: number): Float32Array {
    return randomUnitVector(Rng.fromSeed(deriveSeed(this.seed, checkSeed(person, 'person'))), this.dimension);
  }

  /** Capture number `capture` of `person`: identity plus seeded noise, normalised. */
  capture(person: number, capture: number): Float32Array {
    const identity = this.identity(person);
    const rng = Rng.fromSeed(deriveSeed(this.seed, person, checkSeed(capture, 'capture') + 1));
    const sigma = this.noise / Math.sqrt(this.dimension);
    const values = new Float64Array(this.dimension);
    for (let index = 0; index < this.dimension; index++) values[index] = identity[index]! + rng.gaussian(sigma);
    return normalizeEmbedding(values, this.dimension);
  }
}
