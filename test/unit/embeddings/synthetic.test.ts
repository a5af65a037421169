import { describe, expect, it } from 'vitest';
import { SyntheticEmbeddingModel } from '../../../core/biometrics/embeddings/synthetic.js';
import { BiopayError } from '../../../core/errors.js';

const cosine = (a: Float32Array, b: Float32Array) => a.reduce((sum, value, index) => sum + value * b[index]!, 0);

describe('SyntheticEmbeddingModel', () => {
  const model = new SyntheticEmbeddingModel({ dimension: 512, seed: 1, noise: 0.5 });

  it('is a pure function of its seeds', () => {
    expect(new SyntheticEmbeddingModel({ dimension: 512, seed: 1, noise: 0.5 }).capture(4, 2)).toEqual(model.capture(4, 2));
    expect(model.capture(4, 2)).not.toEqual(model.capture(4, 3));
  });

  it('gives genuine cosines near 1 / (1 + noise^2) and impostor cosines near 0', () => {
    const genuine: number[] = [];
    const impostor: number[] = [];
    for (let person = 0; person < 50; person++) {
      genuine.push(cosine(model.capture(person, 0), model.capture(person, 1)));
      impostor.push(cosine(model.capture(person, 0), model.capture(person + 1000, 0)));
    }
    expect(Math.min(...genuine)).toBeGreaterThan(0.7);
    expect(Math.max(...genuine)).toBeLessThan(0.9);
    expect(Math.max(...impostor.map(Math.abs))).toBeLessThan(0.2);
  });

  it('refuses a bad dimension, seed or noise', () => {
    expect(() => new SyntheticEmbeddingModel({ dimension: 2, seed: 1, noise: 0 })).toThrow(BiopayError);
    expect(() => new SyntheticEmbeddingModel({ dimension: 16, seed: -1, noise: 0 })).toThrow(BiopayError);
    expect(() => new SyntheticEmbeddingModel({ dimension: 16, seed: 1, noise: Number.NaN })).toThrow(BiopayError);
    expect(() => model.capture(1.5, 0)).toThrow(BiopayError);
  });
});
