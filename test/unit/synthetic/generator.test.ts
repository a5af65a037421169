import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseIsoRecord, writeIsoRecord, type IsoRecord } from '../../../core/biometrics/iso.js';
import { generateImpression, generateMasterFinger, generatePopulation, makeRandom, populationFinger, populationImpression } from '../../../core/biometrics/synthetic/index.js';
import type { PatternClass } from '../../../core/biometrics/synthetic/orientation.js';
import { ErrorCode } from '../../../core/errors.js';

function minutiaCounts(records: readonly IsoRecord[]): number[] {
  return records.map((record) => record.views[0]!.minutiae.length).sort((a, b) => a - b);
}

function expectInsideImage(record: IsoRecord): void {
  for (const minutia of record.views[0]!.minutiae) {
    expect(minutia.xPx).toBeGreaterThanOrEqual(0);
    expect(minutia.yPx).toBeGreaterThanOrEqual(0);
    expect(minutia.xPx).toBeLessThan(record.widthPx);
    expect(minutia.yPx).toBeLessThan(record.heightPx);
  }
}

describe('makeRandom', () => {
  it('gives the same stream for a seed, another for another seed, in [0, 1)', () => {
    const a = makeRandom(7);
    const b = makeRandom(7);
    const c = makeRandom(8);
    const first = Array.from({ length: 1000 }, () => a());
    expect(Array.from({ length: 1000 }, () => b())).toEqual(first);
    expect(Array.from({ length: 1000 }, () => c())).not.toEqual(first);
    expect(first.every((value) => value >= 0 && value < 1)).toBe(true);
    const mean = first.reduce((sum, value) => sum + value, 0) / first.length;
    expect(mean).toBeGreaterThan(0.45);
    expect(mean).toBeLessThan(0.55);
  });

  it('refuses seeds that are not non-negative safe integers', () => {
    for (const seed of [-1, 1.5, Number.NaN, 2 ** 53]) expect(() => makeRandom(seed)).toThrow(expect.objectContaining({ code: ErrorCode.BadRequest }));
  });
});

describe('generateMasterFinger', () => {
  it('is a pure function of the seed', () => {
    expect(generateMasterFinger(123)).toEqual(generateMasterFinger(123));
    expect(generateMasterFinger(123)).not.toEqual(generateMasterFinger(124));
  });

  it('spreads minutiae over the fingertip with the minimum spacing, along the ridges', () => {
    const master = generateMasterFinger(5, { minSpacingPx: 10 });
    expect(master.minutiae.length).toBeGreaterThan(30);
    for (const [index, m] of master.minutiae.entries()) {
      expect((m.xPx / master.halfWidthPx) ** 2 + (m.yPx / master.halfHeightPx) ** 2).toBeLessThanOrEqual(1);
      expect(m.angleRad).toBeGreaterThanOrEqual(0);
      expect(m.angleRad).toBeLessThan(2 * Math.PI);
      for (const other of master.minutiae.slice(index + 1)) expect(Math.hypot(m.xPx - other.xPx, m.yPx - other.yPx)).toBeGreaterThanOrEqual(10);
    }
  });

  it('builds every pattern class with its singularities', () => {
    const expected: Record<PatternClass, [number, number]> = { arch: [1, 1], 'tented-arch': [1, 1], 'left-loop': [1, 1], 'right-loop': [1, 1], whorl: [2, 2] };
    for (const [patternClass, [cores, deltas]] of Object.entries(expected) as [PatternClass, [number, number]][]) {
      const master = generateMasterFinger(9, { patternClass });
      expect(master.field.patternClass).toBe(patternClass);
      expect([master.field.cores.length, master.field.deltas.length]).toEqual([cores, deltas]);
      expect(master.minutiae.length).toBeGreaterThan(10);
    }
  });

  it('refuses bad options', () => {
    expect(() => generateMasterFinger(1, { densityPer10kPx2: -1 })).toThrow(expect.objectContaining({ code: ErrorCode.BadRequest }));
    expect(() => generateMasterFinger(1, { patternClass: 'spiral' as PatternClass })).toThrow(expect.objectContaining({ code: ErrorCode.BadRequest }));
  });
});

describe('generateImpression', () => {
  const master = generateMasterFinger(77);

  it('writes the same bytes for the same seed, and differs between impressions', () => {
    const bytes = writeIsoRecord(generateImpression(master, 1));
    expect(writeIsoRecord(generateImpression(master, 1))).toEqual(bytes);
    expect(writeIsoRecord(generateImpression(master, 2))).not.toEqual(bytes);
  });

  it('produces records that the strict reader reads back unchanged, inside the image', () => {
    fc.assert(
      fc.property(fc.nat({ max: 2 ** 32 - 1 }), fc.nat({ max: 2 ** 32 - 1 }), (fingerSeed, impressionSeed) => {
        const record = generateImpression(generateMasterFinger(fingerSeed), impressionSeed);
        const parsed = parseIsoRecord(writeIsoRecord(record));
        expect(parsed.widthPx).toBe(300);
        expect(parsed.heightPx).toBe(400);
        expect(parsed.xResolutionPpcm).toBe(197);
        expect(parsed.views[0]!.minutiae.length).toBe(record.views[0]!.minutiae.length);
        expectInsideImage(parsed);
      }),
      { numRuns: 200 },
    );
  });

  it('honours the image size and the noise options', () => {
    const record = generateImpression(master, 3, { widthPx: 200, heightPx: 250, resolutionPpcm: 100 });
    expect([record.widthPx, record.heightPx, record.xResolutionPpcm]).toEqual([200, 250, 100]);
    expectInsideImage(record);
    const clean = { missingRate: 0, spuriousRate: 0, typeFlipRate: 0, positionJitterPx: 0, angleJitterRad: 0 };
    const noisy = { missingRate: 0.5, spuriousRate: 0.5 };
    const cleanCounts = [1, 2, 3, 4, 5].map((seed) => generateImpression(master, seed, clean).views[0]!.minutiae.length);
    const noisyCounts = [1, 2, 3, 4, 5].map((seed) => generateImpression(master, seed, noisy).views[0]!.minutiae.length);
    expect(cleanCounts.every((count) => count <= master.minutiae.length)).toBe(true);
    expect(noisyCounts).not.toEqual(cleanCounts);
  });

  it('refuses bad options', () => {
    expect(() => generateImpression(master, 1, { missingRate: 2 })).toThrow(expect.objectContaining({ code: ErrorCode.BadRequest }));
    expect(() => generateImpression(master, 1, { widthPx: 300.5 })).toThrow(expect.objectContaining({ code: ErrorCode.BadRequest }));
    expect(() => generateImpression(master, 1, { minContactScale: 0.9, maxContactScale: 0.8 })).toThrow(expect.objectContaining({ code: ErrorCode.BadRequest }));
  });
});

describe('generatePopulation', () => {
  it('numbers fingers and impressions from 1 and matches random access', () => {
    const all = [...generatePopulation({ fingers: 3, impressionsPerFinger: 2, seed: 11 })];
    expect(all.map(({ fingerId, impression }) => `${fingerId}_${impression}`)).toEqual(['1_1', '1_2', '2_1', '2_2', '3_1', '3_2']);
    const master = populationFinger(11, 2);
    expect(writeIsoRecord(populationImpression(11, master, 2, 2))).toEqual(writeIsoRecord(all[3]!.record));
    const shard = [...generatePopulation({ fingers: 2, impressionsPerFinger: 2, seed: 11, firstFinger: 2 })];
    expect(shard.map((entry) => writeIsoRecord(entry.record))).toEqual(all.slice(2).map((entry) => writeIsoRecord(entry.record)));
  });

  it('has minutia counts like the FVC2002 templates (13-69, median about 32)', () => {
    const counts = minutiaCounts([...generatePopulation({ fingers: 100, impressionsPerFinger: 3, seed: 2 })].map((entry) => entry.record));
    const median = counts[counts.length >> 1]!;
    expect(counts[0]).toBeGreaterThanOrEqual(5);
    expect(counts[counts.length - 1]).toBeLessThanOrEqual(120);
    expect(median).toBeGreaterThanOrEqual(25);
    expect(median).toBeLessThanOrEqual(45);
    expect(counts[Math.floor(counts.length * 0.1)]).toBeGreaterThanOrEqual(12);
    expect(counts[Math.floor(counts.length * 0.9)]).toBeLessThanOrEqual(70);
  });

  it('refuses bad sizes before generating anything', () => {
    const start = (options: Parameters<typeof generatePopulation>[0]) => () => generatePopulation(options).next();
    expect(start({ fingers: -1, impressionsPerFinger: 1, seed: 1 })).toThrow(expect.objectContaining({ code: ErrorCode.BadRequest }));
    expect(start({ fingers: 1, impressionsPerFinger: 0, seed: 1 })).toThrow(expect.objectContaining({ code: ErrorCode.BadRequest }));
    expect(start({ fingers: 1, impressionsPerFinger: 1, seed: 1, impression: { distortionPx: -3 } })).toThrow(expect.objectContaining({ code: ErrorCode.BadRequest }));
  });
});
