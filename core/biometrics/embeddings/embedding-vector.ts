/**
 * Checks, normalisation and int8 quantization of one face or palm embedding. Pure: used by the
 * gallery's writer when enrolling and by a search when preparing its probe.
 *
 * int8 form: q = round(v / maxAbs * 127), plus one scale per vector chosen so that the
 * dequantized vector q * scale has unit length. A dot product of two quantized vectors, summed in
 * Int32 and multiplied by both scales, is then the exact cosine of the dequantized vectors.
 */
import { BiopayError, ErrorCode } from '../../errors.js';

export type Modality = 'face' | 'palm';
export type Quantization = 'float32' | 'int8';

/** Typical output sizes of current face and palm embedding models; configurable per gallery. */
export const defaultDimensions: Readonly<Record<Modality, number>> = { face: 512, palm: 256 };

export const minDimension = 8;
/** 127 * 127 * 4096 < 2^31: an int8 dot product never overflows its Int32 accumulator. */
export const maxDimension = 4096;

const int8Max = 127;

export function checkDimension(dimension: number): number {
  if (!Number.isInteger(dimension) || dimension < minDimension || dimension > maxDimension) {
    throw new BiopayError(ErrorCode.BadRequest, `embedding dimension must be an integer in [${minDimension}, ${maxDimension}]`);
  }
  return dimension;
}

/**
 * The embedding scaled to unit length, in float32. Refuses (INVALID_TEMPLATE) a wrong length,
 * NaN or infinite components, and the zero vector, which has no direction to compare.
 */
export function normalizeEmbedding(values: ArrayLike<number>, dimension: number): Float32Array {
  if (values === null || typeof values !== 'object' || values.length !== dimension) {
    const length = values !== null && typeof values === 'object' ? values.length : typeof values;
    throw new BiopayError(ErrorCode.InvalidTemplate, `embedding must have ${dimension} components, got ${String(length)}`);
  }
  // Divided by the largest component first, so that huge components cannot overflow the norm.
  let maxAbs = 0;
  for (let index = 0; index < dimension; index++) {
    const value = values[index];
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      throw new BiopayError(ErrorCode.InvalidTemplate, `embedding component ${index} is not a finite number`);
    }
    maxAbs = Math.max(maxAbs, Math.abs(value));
  }
  if (maxAbs === 0) throw new BiopayError(ErrorCode.InvalidTemplate, 'embedding is the zero vector');
  let sumSquares = 0;
  for (let index = 0; index < dimension; index++) sumSquares += (values[index]! / maxAbs) ** 2;
  const factor = 1 / (maxAbs * Math.sqrt(sumSquares));
  const unit = new Float32Array(dimension);
  for (let index = 0; index < dimension; index++) unit[index] = values[index]! * factor;
  return unit;
}

/** Writes the int8 form of a unit vector into `target` at `offset`; returns its scale. */
export function quantizeInto(unit: Float32Array, target: Int8Array, offset: number): number {
  let maxAbs = 0;
  for (let index = 0; index < unit.length; index++) maxAbs = Math.max(maxAbs, Math.abs(unit[index]!));
  const step = int8Max / maxAbs;
  let sumSquares = 0;
  for (let index = 0; index < unit.length; index++) {
    const q = Math.round(unit[index]! * step);
    target[offset + index] = q;
    sumSquares += q * q;
  }
  // The largest component always quantizes to +-127, so sumSquares > 0.
  return 1 / Math.sqrt(sumSquares);
}
