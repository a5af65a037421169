/**
 * Exhaustive cosine search of a slice of an embedding gallery against one probe: the pure kernel
 * that this thread runs, and that piscina workers can run on the same SharedArrayBuffers.
 *
 * Gallery memory (SharedArrayBuffers written only by the gallery's thread):
 *   vectors: `dimension` components per slot, back to back (Float32, or Int8 when quantized);
 *   scales: Float32 per slot, the int8 dequantization scale (empty when float32);
 *   directory: Int32 pairs per slot [live (1) or removed/unpublished (0), hint hash].
 * A slot is published by storing live = 1 after its vector and scale are written, and a search only
 * reads slots that existed when it started, so it never sees a half-written vector.
 */
import { BiopayError, ErrorCode } from '../../errors.js';
import type { Quantization } from './embedding-vector.js';
import { TopK } from '../top-k.js';

export const embeddingDirectoryStride = 2;

export interface EmbeddingSlice {
  quantization: Quantization;
  dimension: number;
  vectors: SharedArrayBuffer;
  scales: SharedArrayBuffer;
  directory: SharedArrayBuffer;
  fromSlot: number;
  toSlot: number;
  /** 0 = search every slot; otherwise only slots enrolled with this hint hash. */
  hintHash: number;
  topK: number;
}

/** A unit-length probe, and its int8 form with scale when the gallery is quantized. */
export interface EmbeddingProbe {
  unit: Float32Array;
  quantized?: { values: Int8Array; scale: number };
}

export interface EmbeddingSliceResult {
  slots: Int32Array;
  scores: Float64Array;
  searched: number;
}

/** Four independent sums let the CPU overlap the multiply-adds. */
function dotFloat(gallery: Float32Array, base: number, probe: Float32Array, dimension: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let index = 0;
  for (; index + 3 < dimension; index += 4) {
    s0 += gallery[base + index]! * probe[index]!;
    s1 += gallery[base + index + 1]! * probe[index + 1]!;
    s2 += gallery[base + index + 2]! * probe[index + 2]!;
    s3 += gallery[base + index + 3]! * probe[index + 3]!;
  }
  for (; index < dimension; index++) s0 += gallery[base + index]! * probe[index]!;
  return s0 + s1 + s2 + s3;
}

/** Int32 accumulation: exact, and `| 0` keeps the JIT on integer arithmetic. */
function dotInt8(gallery: Int8Array, base: number, probe: Int8Array, dimension: number): number {
  let s0 = 0;
  let s1 = 0;
  let index = 0;
  for (; index + 1 < dimension; index += 2) {
    s0 = (s0 + gallery[base + index]! * probe[index]!) | 0;
    s1 = (s1 + gallery[base + index + 1]! * probe[index + 1]!) | 0;
  }
  for (; index < dimension; index++) s0 = (s0 + gallery[base + index]! * probe[index]!) | 0;
  return (s0 + s1) | 0;
}

export function searchEmbeddingSlice(probe: EmbeddingProbe, slice: EmbeddingSlice): EmbeddingSliceResult {
  const directory = new Int32Array(slice.directory);
  const best = new TopK(Math.max(1, slice.topK));
  const { dimension, hintHash } = slice;
  const quantized = slice.quantization === 'int8' ? probe.quantized : undefined;
  if (slice.quantization === 'int8' && quantized === undefined) {
    throw new BiopayError(ErrorCode.BadRequest, 'an int8 gallery needs a quantized probe');
  }
  const floats = quantized ? undefined : new Float32Array(slice.vectors);
  const bytes = quantized ? new Int8Array(slice.vectors) : undefined;
  const scales = new Float32Array(slice.scales);
  let searched = 0;
  for (let slot = slice.fromSlot; slot < slice.toSlot; slot++) {
    const entry = slot * embeddingDirectoryStride;
    if (directory[entry] === 0) continue;
    if (hintHash !== 0 && directory[entry + 1] !== hintHash) continue;
    const base = slot * dimension;
    const score = quantized
      ? dotInt8(bytes!, base, quantized.values, dimension) * scales[slot]! * quantized.scale
      : dotFloat(floats!, base, probe.unit, dimension);
    searched++;
    best.offer(slot, score);
  }
  return { ...best.result(), searched };
}
