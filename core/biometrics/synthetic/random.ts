/**
 * Seeded randomness for the synthetic fingerprint generator. Everything the generator produces is
 * a pure function of its seeds, so a population can be regenerated instead of stored, and two
 * machines running the same load test enroll byte-identical templates.
 */
import { BiopayError, ErrorCode } from '../../errors.js';

/** A source of uniform numbers in [0, 1). */
export type Random = () => number;

const twoPow32 = 0x1_0000_0000;

/** Seeds are non-negative safe integers (they name fingers in files and logs). */
export function checkSeed(seed: number, what = 'seed'): number {
  if (!Number.isSafeInteger(seed) || seed < 0) {
    throw new BiopayError(ErrorCode.BadRequest, `${what} must be a non-negative safe integer, got ${String(seed)}`);
  }
  return seed;
}

/** Murmur3's 32-bit finaliser: spreads nearby inputs (seed, seed + 1) over the whole range. */
function fmix32(value: number): number {
  let h = value >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * A 32-bit seed derived from a seed and a path of integers (finger id, impression number, ...):
 * independent streams without a second generator to keep in step.
 */
export function deriveSeed(seed: number, ...path: number[]): number {
  let h = fmix32((seed % twoPow32) ^ fmix32(Math.floor(seed / twoPow32) + 0x9e3779b9));
  for (const part of path) h = fmix32(Math.imul(h, 0x9e3779b1) ^ fmix32((part >>> 0) + 0x7f4a7c15));
  return h;
}

/** sfc32 (Chris Doty-Humphrey's small fast counter generator), seeded through deriveSeed. */
export function makeRandom(seed: number): Random {
  checkSeed(seed);
  let a = deriveSeed(seed, 1);
  let b = deriveSeed(seed, 2);
  let c = deriveSeed(seed, 3);
  let counter = 1;
  const next = (): number => {
    const t = (((a + b) | 0) + counter) | 0;
    counter = (counter + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return (t >>> 0) / twoPow32;
  };
  // The first outputs of a counter generator still show the seed's structure.
  for (let warm = 0; warm < 12; warm++) next();
  return next;
}

/**
 * The generator's view of a seeded stream: uniform, normal and Poisson draws. Normal draws come in
 * pairs from Box-Muller, so the second of each pair is kept for the next call.
 */
export class Rng {
  private spare = Number.NaN;

  constructor(readonly next: Random) {}

  static fromSeed(seed: number): Rng {
    return new Rng(makeRandom(seed));
  }

  uniform(low: number, high: number): number {
    return low + (high - low) * this.next();
  }

  chance(probability: number): boolean {
    return this.next() < probability;
  }

  gaussian(sigma = 1): number {
    if (!Number.isNaN(this.spare)) {
      const value = this.spare;
      this.spare = Number.NaN;
      return sigma * value;
    }
    const radius = Math.sqrt(-2 * Math.log(1 - this.next()));
    const turn = 2 * Math.PI * this.next();
    this.spare = radius * Math.sin(turn);
    return sigma * radius * Math.cos(turn);
  }

  /** Poisson count by multiplication of uniforms (the generator's means stay under 100). */
  poisson(mean: number): number {
    if (!(mean > 0)) return 0;
    const limit = Math.exp(-mean);
    let count = 0;
    let product = this.next();
    while (product > limit && count < maxPoisson) {
      count++;
      product *= this.next();
    }
    return count;
  }

  /** One of `choices` with probability proportional to its weight. */
  choice<T>(choices: readonly (readonly [T, number])[]): T {
    const total = choices.reduce((sum, [, weight]) => sum + weight, 0);
    let pick = this.next() * total;
    for (const [value, weight] of choices) {
      pick -= weight;
      if (pick < 0) return value;
    }
    return choices[choices.length - 1]![0];
  }
}

const maxPoisson = 1000;
