import fc from 'fast-check';
import { expect, it } from 'vitest';
import { fnv1a32, shardOf } from '../../../core/actors/index.js';

it('hashes with FNV-1a 32 (reference vectors)', () => {
  expect(fnv1a32('')).toBe(0x811c9dc5);
  expect(fnv1a32('a')).toBe(0xe40c292c);
  expect(fnv1a32('foobar')).toBe(0xbf9cf968);
});

it('maps every key to a stable shard in range', () => {
  fc.assert(
    fc.property(fc.string(), fc.integer({ min: 1, max: 4096 }), (key, count) => {
      const shard = shardOf(key, count);
      expect(shard).toBeGreaterThanOrEqual(0);
      expect(shard).toBeLessThan(count);
      expect(shardOf(key, count)).toBe(shard);
    }),
  );
});

it('spreads keys over the shards', () => {
  const counts = new Array<number>(64).fill(0);
  for (let i = 0; i < 64_000; i++) counts[shardOf(`acc_${i}`, 64)]!++;
  expect(Math.min(...counts)).toBeGreaterThan(800);
  expect(Math.max(...counts)).toBeLessThan(1200);
});
