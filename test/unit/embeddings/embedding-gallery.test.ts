import { describe, expect, it } from 'vitest';
import { analyticThreshold } from '../../../core/biometrics/embeddings/calibration.js';
import { EmbeddingGallery } from '../../../core/biometrics/embeddings/embedding-gallery.js';
import { SyntheticEmbeddingModel } from '../../../core/biometrics/embeddings/synthetic.js';
import { BiopayError, ErrorCode } from '../../../core/errors.js';

function expectCode(action: () => unknown, code: string): void {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(BiopayError);
    expect((error as BiopayError).code).toBe(code);
    return;
  }
  throw new Error(`expected ${code}`);
}

const people = 300;
const dimension = 128;
const model = new SyntheticEmbeddingModel({ dimension, seed: 7, noise: 0.6 });

function enrolled(quantization: 'float32' | 'int8', hints = false): EmbeddingGallery {
  const gallery = new EmbeddingGallery({ modality: 'face', dimension, quantization, capacity: 16 });
  for (let person = 0; person < people; person++) {
    gallery.add(`p${person}`, model.capture(person, 0), hints ? { hint: `shop-${person % 10}` } : undefined);
  }
  return gallery;
}

describe('EmbeddingGallery input checks', () => {
  const gallery = new EmbeddingGallery({ modality: 'palm', dimension: 16 });
  const good = Array.from({ length: 16 }, (_, index) => index + 1);

  it('defaults to 512 for face and 256 for palm', () => {
    expect(new EmbeddingGallery({ modality: 'face' }).dimension).toBe(512);
    expect(new EmbeddingGallery({ modality: 'palm' }).dimension).toBe(256);
  });

  it('refuses a wrong dimension, NaN, Infinity and the zero vector with INVALID_TEMPLATE', () => {
    const bad = [
      good.slice(1),
      [...good, 1],
      good.map((value, index) => (index === 3 ? Number.NaN : value)),
      good.map((value, index) => (index === 15 ? Infinity : value)),
      good.map((value, index) => (index === 0 ? -Infinity : value)),
      new Float32Array(16),
      good.map((value, index) => (index === 2 ? ('1' as unknown as number) : value)),
      'x'.repeat(16) as unknown as number[],
    ];
    for (const values of bad) {
      expectCode(() => gallery.add('a', values), ErrorCode.InvalidTemplate);
      expectCode(() => gallery.search(values), ErrorCode.InvalidTemplate);
    }
    expect(gallery.size).toBe(0);
  });

  it('keeps an earlier embedding when its replacement is refused', () => {
    gallery.add('kept', good);
    expectCode(() => gallery.add('kept', new Array(16).fill(0)), ErrorCode.InvalidTemplate);
    expect(gallery.search(good, { topK: 1 }).candidates).toEqual([{ id: 'kept', score: expect.closeTo(1, 6) }]);
    gallery.remove('kept');
  });

  it('refuses bad ids, hints, topK and options with BAD_REQUEST', () => {
    expectCode(() => gallery.add('', good), ErrorCode.BadRequest);
    expectCode(() => gallery.add('x'.repeat(257), good), ErrorCode.BadRequest);
    expectCode(() => gallery.add('a', good, { hint: '' }), ErrorCode.BadRequest);
    expectCode(() => gallery.search(good, { topK: 0 }), ErrorCode.BadRequest);
    expectCode(() => gallery.search(good, { topK: 1.5 }), ErrorCode.BadRequest);
    expectCode(() => gallery.search(good, { topK: 1001 }), ErrorCode.BadRequest);
    expectCode(() => new EmbeddingGallery({ modality: 'iris' as 'face' }), ErrorCode.BadRequest);
    expectCode(() => new EmbeddingGallery({ modality: 'face', dimension: 4 }), ErrorCode.BadRequest);
    expectCode(() => new EmbeddingGallery({ modality: 'face', dimension: 4097 }), ErrorCode.BadRequest);
    expectCode(() => new EmbeddingGallery({ modality: 'face', quantization: 'int4' as 'int8' }), ErrorCode.BadRequest);
    expectCode(() => new EmbeddingGallery({ modality: 'face', maxEmbeddings: 0 }), ErrorCode.BadRequest);
    expectCode(() => new EmbeddingGallery({ modality: 'face', dimension: 4096, maxEmbeddings: 10_000_000 }), ErrorCode.BadRequest);
  });

  it('compares directions only: scaled and huge vectors score as the original', () => {
    gallery.add('scaled', good.map((value) => value * 1e300));
    const [best] = gallery.search(good.map((value) => value * 1e-300), { topK: 1 }).candidates;
    expect(best).toEqual({ id: 'scaled', score: expect.closeTo(1, 6) });
    gallery.remove('scaled');
  });
});

describe.each(['float32', 'int8'] as const)('EmbeddingGallery %s identification', (quantization) => {
  const gallery = enrolled(quantization);

  it('finds every person at rank 1 from another noisy capture, well above the 1e-6 threshold', () => {
    const threshold = analyticThreshold(dimension, 1e-6);
    for (let person = 0; person < people; person++) {
      const { candidates, searched } = gallery.search(model.capture(person, 1), { topK: 2 });
      expect(searched).toBe(people);
      expect(candidates[0]!.id).toBe(`p${person}`);
      expect(candidates[0]!.score).toBeGreaterThan(threshold + 0.2);
      expect(candidates[1]!.score).toBeLessThan(threshold);
    }
  });

  it('stores a quarter of the bytes when quantized', () => {
    expect(gallery.stats().bytesPerEmbedding).toBe(quantization === 'int8' ? dimension + 4 + 8 : dimension * 4 + 8);
  });
});

describe('int8 quantization', () => {
  const float = enrolled('float32');
  const int8 = enrolled('int8');

  it('keeps the ranking of float32 and scores within 0.01 of it', () => {
    let maxError = 0;
    for (let person = 0; person < people; person += 3) {
      const probe = model.capture(person, 2);
      const exact = float.search(probe, { topK: 5 }).candidates;
      const quantized = int8.search(probe, { topK: 5 }).candidates;
      expect(quantized[0]!.id).toBe(exact[0]!.id);
      for (const candidate of quantized) {
        const reference = exact.find((entry) => entry.id === candidate.id);
        if (reference !== undefined) maxError = Math.max(maxError, Math.abs(reference.score - candidate.score));
      }
    }
    expect(maxError).toBeLessThan(0.01);
  });

  it('scores a vector against itself as 1 (scales make dequantized vectors unit length)', () => {
    const probe = model.capture(5, 0);
    expect(int8.search(probe, { topK: 1 }).candidates[0]).toEqual({ id: 'p5', score: expect.closeTo(1, 5) });
  });
});

describe('hint narrowing', () => {
  const gallery = enrolled('float32', true);

  it('compares only the embeddings enrolled with the hint', () => {
    const { candidates, searched } = gallery.search(model.capture(42, 1), { topK: 50, hint: 'shop-2' });
    expect(searched).toBe(people / 10);
    expect(candidates[0]!.id).toBe('p42');
    expect(candidates.every((candidate) => Number(candidate.id.slice(1)) % 10 === 2)).toBe(true);
  });

  it('does not find a person under another hint', () => {
    const { candidates, searched } = gallery.search(model.capture(42, 1), { topK: 50, hint: 'shop-3' });
    expect(searched).toBe(people / 10);
    expect(candidates.map((candidate) => candidate.id)).not.toContain('p42');
  });

  it('searches nothing for an unknown hint', () => {
    expect(gallery.search(model.capture(42, 1), { hint: 'nowhere' })).toEqual({ candidates: [], searched: 0 });
  });
});

describe('removal, compaction and growth', () => {
  const small = new SyntheticEmbeddingModel({ dimension: 16, seed: 3, noise: 0.05 });

  it('never returns a removed embedding and compacts when holes outnumber the live ones', () => {
    const gallery = new EmbeddingGallery({ modality: 'palm', dimension: 16, quantization: 'int8', capacity: 16 });
    for (let person = 0; person < 3000; person++) gallery.add(String(person), small.identity(person));
    expect(gallery.stats().capacity).toBeGreaterThanOrEqual(3000);
    const before = gallery.snapshot();
    for (let person = 0; person < 2000; person++) expect(gallery.remove(String(person))).toBe(true);
    expect(gallery.remove('0')).toBe(false);
    const stats = gallery.stats();
    expect(stats.size).toBe(1000);
    expect(stats.slots).toBeLessThan(3000);
    expect(stats.capacity).toBeLessThan(3000);
    // The old snapshot's buffers were left alone: a search already under way stays consistent.
    expect(new Int32Array(before.directory)[2 * 2999]).toBe(1);
    expect(gallery.search(small.identity(10), { topK: 3 }).candidates.map((candidate) => candidate.id)).not.toContain('10');
    for (let person = 2000; person < 3000; person += 37) {
      expect(gallery.search(small.capture(person, 1), { topK: 1 }).candidates[0]!.id).toBe(String(person));
    }
    gallery.add('10', small.identity(10));
    expect(gallery.search(small.identity(10), { topK: 1 }).candidates[0]).toEqual({ id: '10', score: expect.closeTo(1, 4) });
    expect(gallery.search(small.identity(10), { topK: 1000 }).searched).toBe(1001);
  });

  it('replaces an embedding enrolled again under the same id', () => {
    const gallery = new EmbeddingGallery({ modality: 'palm', dimension: 16 });
    gallery.add('a', small.identity(1));
    gallery.add('a', small.identity(2));
    expect(gallery.size).toBe(1);
    expect(gallery.search(small.identity(2)).candidates).toEqual([{ id: 'a', score: expect.closeTo(1, 6) }]);
  });

  it('refuses past maxEmbeddings with UNAVAILABLE', () => {
    const gallery = new EmbeddingGallery({ modality: 'palm', dimension: 16, maxEmbeddings: 20 });
    for (let person = 0; person < 20; person++) gallery.add(String(person), small.identity(person));
    expectCode(() => gallery.add('21', small.identity(21)), ErrorCode.Unavailable);
    gallery.remove('3');
    gallery.add('21', small.identity(21));
    expect(gallery.size).toBe(20);
  });
});
