/**
 * The candidate index against the exhaustive search it replaces: on FVC2002 and on synthetic
 * fingers, the template the full matcher ranks first among the probe's own finger must usually be
 * among the index's candidates; and the engine keeps the index consistent through removal,
 * replacement and gallery compaction.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CandidateIndex, portableTriangleKeys, slotAccepted, triangleKeys } from '../../../core/biometrics/candidate-index.js';
import { writeIsoRecord } from '../../../core/biometrics/iso.js';
import { MatchEngine } from '../../../core/biometrics/match-engine.js';
import { MccMatcher, templateRef } from '../../../core/biometrics/mcc-matcher.js';
import { loadNativeKernel } from '../../../core/biometrics/native-kernel.js';
import { populationFinger, populationImpression } from '../../../core/biometrics/synthetic/index.js';
import { templateFromIso } from '../../../core/biometrics/template.js';
import { BiopayError, ErrorCode } from '../../../core/errors.js';
import { fvcDatabases, loadFvcDatabase } from './fvc-fixtures.js';

const seed = 20_261_122;
const matcher = new MccMatcher();

function syntheticIso(fingerId: number, impression: number): Uint8Array {
  return writeIsoRecord(populationImpression(seed, populationFinger(seed, fingerId), fingerId, impression));
}

/** Share of probes whose exhaustive best mated template is among the index's `limit` candidates. */
function recall(gallery: Uint32Array[], probes: { template: Uint32Array; mates: Set<number> }[], limit: number): { index: number; exhaustive: number } {
  const index = new CandidateIndex();
  gallery.forEach((template, slot) => index.add(slot, template));
  let found = 0;
  let exhaustiveRankOne = 0;
  for (const probe of probes) {
    const scores = gallery.map((template) => matcher.score(templateRef(probe.template), templateRef(template)));
    const best = scores.reduce((top, score, slot) => (score > scores[top]! ? slot : top), 0);
    const bestMate = [...probe.mates].reduce((top, slot) => (scores[slot]! > scores[top]! ? slot : top));
    if (probe.mates.has(best)) exhaustiveRankOne++;
    if (index.candidates(probe.template, gallery.length, limit, () => true).includes(bestMate)) found++;
  }
  return { index: found / probes.length, exhaustive: exhaustiveRankOne / probes.length };
}

describe('triangleKeys', () => {
  it('searches with every enrolled key, plus neighbouring bins near edges (at most 16 keys per triplet)', () => {
    const template = templateFromIso(syntheticIso(3, 1));
    const enrolled: number[] = [];
    triangleKeys(template, 0, false, (key, rotation) => enrolled.push(key * 16 + rotation));
    const searched = new Set<number>();
    let searchedCount = 0;
    triangleKeys(template, 0, true, (key, rotation) => {
      searched.add(key * 16 + rotation);
      searchedCount++;
    });
    expect(enrolled.length).toBeGreaterThan(100);
    for (const key of enrolled) expect(searched.has(key)).toBe(true);
    expect(searchedCount).toBeGreaterThan(enrolled.length);
    expect(searchedCount).toBeLessThan(enrolled.length * 16);
  });

  const native = loadNativeKernel();
  it(`(${native?.tripletKeys ? 'native' : 'JavaScript, no addon'}) gives the JavaScript's keys in its order on every FVC2002 fixture and 400 synthetic impressions`, () => {
    const keysOf = (walk: typeof triangleKeys, template: Uint32Array, multiProbe: boolean) => {
      const keys: number[] = [];
      walk(template, 0, multiProbe, (key, rotation) => keys.push(key, rotation));
      return keys;
    };
    const templates = fvcDatabases.flatMap((database) => loadFvcDatabase(database).map((sample) => templateFromIso(sample.bytes)));
    for (let finger = 1; finger <= 200; finger++) templates.push(templateFromIso(syntheticIso(finger, 1)), templateFromIso(syntheticIso(finger, 2)));
    let differing = 0;
    let keys = 0;
    for (const template of templates) {
      for (const multiProbe of [false, true]) {
        const fast = keysOf(triangleKeys, template, multiProbe);
        const reference = keysOf(portableTriangleKeys, template, multiProbe);
        keys += reference.length / 2;
        if (fast.length !== reference.length || fast.some((value, index) => value !== reference[index])) differing++;
      }
    }
    expect(templates.length).toBe(720);
    expect(keys).toBeGreaterThan(1_000_000);
    expect(differing).toBe(0);
  });

  it.runIf(native?.tripletKeys !== undefined)('natively, refuses bad templates, settings and short arrays without reading past them', () => {
    const kernel = native as Required<NonNullable<typeof native>>;
    const template = templateFromIso(syntheticIso(5, 1));
    const n = template[1]!;
    const settings = Float64Array.from([5, 8, 110, 8, 24, 0.35, 8, 16, 256]);
    const neighbours = new Float64Array(n * 5 * 4);
    const counts = new Uint8Array(n);
    expect(kernel.tripletNeighbours(template, 0, settings, neighbours, counts)).toBe(n);
    const bearings = new Float64Array(n * 5);
    const keys = new Uint32Array(16);
    const rotations = new Uint8Array(16);
    // Too short an output: the length it needs, as a negative count, and nothing written past it.
    const needed = kernel.tripletKeys(template, 0, settings, neighbours, counts, bearings, true, keys, rotations);
    expect(needed).toBeLessThan(-16);
    const roomy = { keys: new Uint32Array(-needed), rotations: new Uint8Array(-needed) };
    expect(kernel.tripletKeys(template, 0, settings, neighbours, counts, bearings, true, roomy.keys, roomy.rotations)).toBe(-needed);
    // A neighbour index out of range (a hostile caller) is read as the anchor, not followed.
    neighbours[0] = 1e9;
    expect(() => kernel.tripletKeys(template, 0, settings, neighbours, counts, bearings, false, roomy.keys, roomy.rotations)).not.toThrow();
    const code = (call: () => unknown) => {
      try {
        call();
      } catch (error) {
        return (error as { code?: string }).code;
      }
      return 'no error';
    };
    expect(code(() => kernel.tripletNeighbours(template, template.length, settings, neighbours, counts))).toBe('INVALID_TEMPLATE');
    expect(code(() => kernel.tripletNeighbours(template.subarray(0, 10), 0, settings, neighbours, counts))).toBe('INVALID_TEMPLATE');
    expect(code(() => kernel.tripletNeighbours(template, 0, settings, neighbours.subarray(0, 8), counts))).toBe('BAD_REQUEST');
    expect(code(() => kernel.tripletNeighbours(template, 0, settings, neighbours, counts.subarray(0, 2)))).toBe('BAD_REQUEST');
    expect(code(() => kernel.tripletNeighbours(template, 0, Float64Array.from([5, 8, 110, 8, 24, 0.35, 8, 12, 256]), neighbours, counts))).toBe('BAD_REQUEST');
    expect(code(() => kernel.tripletNeighbours(template, 0, Float64Array.from([99, 8, 110, 8, 24, 0.35, 8, 16, 256]), neighbours, counts))).toBe('BAD_REQUEST');
    expect(code(() => kernel.tripletKeys(template, 0, settings, neighbours, counts, bearings.subarray(0, 3), false, keys, rotations))).toBe('BAD_REQUEST');
    expect(code(() => kernel.tripletNeighbours(template, 0, Float64Array.from([1e300, 8, 110, 8, 24, 0.35, 8, 16, 256]), neighbours, counts))).toBe('BAD_REQUEST');
    expect(code(() => kernel.tripletNeighbours(template, 0, Float64Array.from([5, 8, 110, 8, 24, 0.35, 8, 512, 256]), neighbours, counts))).toBe('BAD_REQUEST');
    expect(code(() => kernel.tripletNeighbours(template, 0, Float64Array.from([5, 8, 110, 1e-9, 24, 0.35, 8, 16, 256]), neighbours, counts))).toBe('BAD_REQUEST');
    // Bins are computed only from bounded numbers: a hostile bearing or a template of NaNs is refused.
    const wild = Float64Array.from(bearings);
    wild[0] = Number.NaN;
    counts[0] = Math.max(1, counts[0]!);
    neighbours[3] = 20;
    expect(code(() => kernel.tripletKeys(template, 0, settings, neighbours, counts, wild, false, roomy.keys, roomy.rotations))).toBe('BAD_REQUEST');
    const broken = Uint32Array.from(template);
    new Float32Array(broken.buffer)[2] = Number.NaN; // the first minutia's x
    expect(code(() => kernel.tripletNeighbours(broken, 0, settings, neighbours, counts))).toBe('INVALID_TEMPLATE');
    // Through the index the refusal is a typed error with its code, and nothing is indexed.
    const index = new CandidateIndex();
    expect(() => index.add(0, broken)).toThrow(expect.objectContaining({ code: ErrorCode.InvalidTemplate, name: 'BiopayError' }));
    expect(index.candidates(template, 1, 5, () => true)).toHaveLength(0);
  });
});

describe('CandidateIndex.candidates', () => {
  it('returns at most `limit` distinct accepted slots below `slotCount`, the probe itself first', () => {
    const index = new CandidateIndex();
    const templates = Array.from({ length: 60 }, (_, finger) => templateFromIso(syntheticIso(finger + 1, 1)));
    templates.forEach((template, slot) => index.add(slot, template));
    const even = index.candidates(templates[10]!, 50, 8, (slot) => slot % 2 === 0);
    expect(even.length).toBeLessThanOrEqual(8);
    // Best first: a template shares every triplet with itself.
    expect(even[0]).toBe(10);
    expect(new Set(even).size).toBe(even.length);
    expect([...even].every((slot) => slot % 2 === 0 && slot < 50)).toBe(true);
    // A slot at or past slotCount (enrolled after the snapshot) is never returned.
    expect(index.candidates(templates[55]!, 50, 8, () => true)).not.toContain(55);
    // The per-search state is cleared: the same search gives the same answer.
    expect(index.candidates(templates[10]!, 50, 8, (slot) => slot % 2 === 0)).toEqual(even);
  });

  it('is searched through a shared view (as worker threads do) with the same answers, and the view is read-only', () => {
    const index = new CandidateIndex(16, 2);
    const templates = Array.from({ length: 40 }, (_, finger) => templateFromIso(syntheticIso(finger + 1, 1)));
    templates.slice(0, 20).forEach((template, slot) => index.add(slot, template));
    const early = CandidateIndex.view(index.shared());
    // Later enrollments grow the pool into a new buffer: an earlier view still answers for its own slots.
    templates.slice(20).forEach((template, slot) => index.add(20 + slot, template));
    const view = CandidateIndex.view(index.shared());
    for (const probe of [3, 25, 39]) expect(view.candidates(templates[probe]!, 40, 6, () => true)).toEqual(index.candidates(templates[probe]!, 40, 6, () => true));
    expect(early.candidates(templates[3]!, 20, 6, () => true)).toContain(3);
    expect(() => view.add(41, templates[0]!)).toThrow(RangeError);
    expect(() => CandidateIndex.view({ ...index.shared(), bucketBits: 12 })).toThrow(RangeError);
  });
});

describe('CandidateIndex scores by template size', () => {
  /** The synthetic finger's first impression, widened, with a second patch of skin far from the first. */
  function withFarPatch(fingerId: number): { alone: Uint32Array; padded: Uint32Array } {
    const record = populationImpression(seed, populationFinger(seed, fingerId), fingerId, 1);
    const view = record.views[0]!;
    const wide = { ...record, widthPx: record.widthPx * 3 };
    const far = populationImpression(seed, populationFinger(seed, fingerId + 1), fingerId + 1, 1).views[0]!.minutiae
      .map((minutia) => ({ ...minutia, xPx: minutia.xPx + 2 * record.widthPx }));
    return {
      alone: templateFromIso(writeIsoRecord({ ...wide, views: [view] })),
      padded: templateFromIso(writeIsoRecord({ ...wide, views: [{ ...view, minutiae: [...view.minutiae, ...far] }] })),
    };
  }

  it('ranks the template the probe came from above one holding it plus as many minutiae more', () => {
    const { alone, padded } = withFarPatch(11);
    const triplets = (template: Uint32Array) => { let count = 0; triangleKeys(template, 0, false, () => count++); return count; };
    expect(triplets(padded)).toBeGreaterThan(1.5 * triplets(alone));
    const index = new CandidateIndex();
    // Equal scores go to the lower slot: the padded template would come first on votes alone.
    index.add(0, padded);
    index.add(1, alone);
    expect([...index.candidates(alone, 2, 2, () => true)]).toEqual([1, 0]);
  });

  it('records sizes past its first table and shares them with views', () => {
    const { alone, padded } = withFarPatch(21);
    const index = new CandidateIndex();
    index.add(5000, padded);
    index.add(7000, alone);
    expect([...index.candidates(alone, 8000, 2, () => true)]).toEqual([7000, 5000]);
    expect([...CandidateIndex.view(index.shared()).candidates(alone, 8000, 2, () => true)]).toEqual([7000, 5000]);
    expect(() => index.add(-1, alone)).toThrow(RangeError);
  });
});

describe('CandidateIndex vote collection in the native kernel', () => {
  const withJsWalk = <T>(fn: () => T): T => {
    process.env['BIOPAY_NATIVE_INDEX'] = '0';
    try {
      return fn();
    } finally {
      delete process.env['BIOPAY_NATIVE_INDEX'];
    }
  };

  it('is there where the comparison kernel is (npm ci builds both)', () => {
    const kernel = loadNativeKernel();
    if (kernel !== undefined) {
      expect(typeof kernel.collectVotes).toBe('function');
      expect(typeof kernel.scoreVotes).toBe('function');
    }
  });

  it('chooses exactly the candidates of the JavaScript walk, over several chunks of slots and past a first cells scratch', () => {
    // 4,500 slots: two counting chunks (4,096 slots each), and enough votes to grow the scratch.
    const index = new CandidateIndex(16);
    const gallery = Array.from({ length: 150 }, (_, finger) => templateFromIso(syntheticIso(finger + 1, 1)));
    for (let slot = 0; slot < 4500; slot++) index.add(slot, gallery[slot % gallery.length]!);
    const probes = [1, 7, 42, 99].map((finger) => templateFromIso(syntheticIso(finger, 2)));
    for (const probe of probes) {
      for (const slotCount of [4500, 4096, 1000]) {
        const accept = (slot: number) => slot % 5 !== 0;
        const native = Array.from(index.candidates(probe, slotCount, 150, accept));
        const walked = withJsWalk(() => Array.from(index.candidates(probe, slotCount, 150, accept)));
        expect(native).toEqual(walked);
        expect(native.length).toBe(150);
      }
    }
  });

  it('walks the postings exactly as the reference walk, whatever the pool holds: stale links, later slots, short cells', () => {
    const collectVotes = loadNativeKernel()?.collectVotes;
    if (collectVotes === undefined) return;
    // The documented walk (candidate-index.ts collect): keys in order, blocks of 15 entries behind a link.
    const reference = (keys: number, rotations: Uint8Array, heads: Int32Array, counts: Int32Array, pool: Int32Array,
      slotCount: number, crowded: number, maxVotes: number, cellsLength: number): number[] | number => {
      const cells: number[] = [];
      for (let key = 0; key < keys; key++) {
        let remaining = counts[key]!;
        if (remaining > crowded || cells.length + remaining > maxVotes) continue;
        if (cells.length + remaining > cellsLength) return -(cells.length + remaining);
        for (let block = heads[key]!; remaining > 0;) {
          if (block < 0 || block * 16 + 16 > pool.length) break;
          const inBlock = Math.min(remaining, 15);
          for (let index = block * 16 + 1; index < block * 16 + 1 + inBlock; index++) {
            const entry = pool[index]! >>> 0;
            if (entry >>> 4 >= slotCount) continue;
            cells.push(((entry & ~15) | ((rotations[key]! - entry) & 15)) >>> 0);
          }
          remaining -= inBlock;
          block = pool[block * 16]!;
        }
      }
      return cells;
    };
    const walk = fc.record({
      blocks: fc.integer({ min: 1, max: 40 }),
      keys: fc.integer({ min: 0, max: 30 }),
      seed: fc.integer({ min: 0, max: 0x7fffffff }),
      staleLinks: fc.boolean(),
      slotCount: fc.integer({ min: 0, max: 64 }),
      // Slots the entries name: at most slotCount in most runs, so that usually none is left out.
      entrySlots: fc.integer({ min: 1, max: 72 }),
      crowded: fc.integer({ min: 0, max: 80 }),
      maxVotes: fc.integer({ min: 0, max: 600 }),
      cellsLength: fc.integer({ min: 0, max: 600 }),
    });
    fc.assert(fc.property(walk, ({ blocks, keys, seed, staleLinks, slotCount, entrySlots, crowded, maxVotes, cellsLength }) => {
      let state = seed;
      const next = (bound: number) => (state = (Math.imul(state, 1_103_515_245) + 12_345) >>> 0) % bound;
      const pool = new Int32Array(blocks * 16);
      for (let block = 0; block < blocks; block++) {
        // A link to a later block, the end of the chain (0), or, with stale links, past the pool.
        pool[block * 16] = staleLinks && next(8) === 0 ? blocks + next(5) : next(3) === 0 ? 0 : next(blocks);
        for (let entry = 1; entry < 16; entry++) pool[block * 16 + entry] = (next(entrySlots) << 4) | next(16);
      }
      const heads = Int32Array.from({ length: keys }, () => next(blocks + (staleLinks ? 2 : 0)));
      // Some counts negative, as a hostile caller may pass: they write nothing and reserve nothing.
      const counts = Int32Array.from({ length: keys }, () => next(90) - 20);
      const rotations = Uint8Array.from({ length: keys }, () => next(16));
      const buckets = Uint32Array.from({ length: keys }, (_, key) => key);
      const cells = new Uint32Array(cellsLength);
      const written = collectVotes(buckets, rotations, keys, heads, counts, pool, slotCount, crowded, maxVotes, cells);
      const expected = reference(keys, rotations, heads, counts, pool, slotCount, crowded, maxVotes, cellsLength);
      if (typeof expected === 'number') expect(written).toBe(expected);
      else expect([...cells.subarray(0, written)]).toEqual(expected);
    }), { numRuns: 400, seed: 5 });
  });

  it('scores exactly as the JavaScript scoreChunks: the same candidates in the same order, with a directory filter and a hint', () => {
    const index = new CandidateIndex(16);
    const gallery = Array.from({ length: 150 }, (_, finger) => templateFromIso(syntheticIso(finger + 1, 1)));
    // Past 16,384 slots: several counting chunks in the kernel too.
    const slots = 20_000;
    for (let slot = 0; slot < slots; slot++) index.add(slot, gallery[slot % gallery.length]!);
    // Directory entries [base, live, hint]: every fifth slot removed, a third of them in community -7.
    const directory = new Int32Array(slots * 3);
    for (let slot = 0; slot < slots; slot++) {
      directory[slot * 3 + 1] = slot % 5 === 0 ? 0 : 1;
      directory[slot * 3 + 2] = slot % 3 === 0 ? -7 : 11;
    }
    const probes = [3, 50, 120].map((finger) => templateFromIso(syntheticIso(finger, 2)));
    for (const probe of probes) {
      for (const [slotCount, limit, hint] of [[20_000, 600, 0], [20_000, 5000, -7], [4096, 150, 11], [16_385, 1, 0], [9000, 0, 0]] as const) {
        const filter = { directory, hint };
        const native = Array.from(index.candidates(probe, slotCount, limit, filter));
        const scripted = withJsWalk(() => Array.from(index.candidates(probe, slotCount, limit, (slot) => slotAccepted(filter, slot))));
        expect(native).toEqual(scripted);
        expect(native.length).toBeLessThanOrEqual(limit);
        for (const slot of native) expect(slotAccepted(filter, slot) && slot < slotCount).toBe(true);
      }
    }
    // Cells of slots past slotCount (no collectVotes output has them) are not counted, not a crash.
    const scoreVotes = loadNativeKernel()?.scoreVotes;
    if (scoreVotes) {
      const hostile = Uint32Array.from([0xffffffff, (40_000 << 4) | 3, (6 << 4) | 1, (6 << 4) | 1, (17_001 << 4) | 2, (17_001 << 4) | 2]);
      const slots = new Int32Array(8);
      const values = new Int32Array(8);
      const kept = scoreVotes(hostile, hostile.length, 10, 8, new Uint16Array(0), directory, 0, slots, values);
      expect([...slots.subarray(0, kept)]).toEqual([6]);
      expect(scoreVotes(hostile, hostile.length, 20_000, 8, new Uint16Array(0), directory, 0, slots, values)).toBe(2);
      expect(() => scoreVotes(hostile, hostile.length + 1, 10, 8, new Uint16Array(0), directory, 0, slots, values)).toThrow(RangeError);
    }
    // A directory shorter than the slots accepts none past its end.
    expect(Array.from(index.candidates(probes[0]!, slots, 600, { directory: directory.subarray(0, 300), hint: 0 })).every((slot) => slot < 100)).toBe(true);
  });
});

describe('CandidateIndex recall against the exhaustive search', () => {
  it('keeps the best mate of FVC2002 probes among 10% of the gallery', () => {
    const samples = fvcDatabases.flatMap((database) => loadFvcDatabase(database).map((sample) => ({ ...sample, finger: `${database}/${sample.finger}` })));
    const templates = samples.map((sample) => templateFromIso(sample.bytes));
    // Probe = impression 1 of each finger, gallery = every other template of every database.
    const probeSlots = samples.flatMap((sample, slot) => (sample.impression === 1 ? [slot] : []));
    const gallerySlots = samples.flatMap((sample, slot) => (sample.impression === 1 ? [] : [slot]));
    const gallery = gallerySlots.map((slot) => templates[slot]!);
    const probes = probeSlots.map((slot) => ({
      template: templates[slot]!,
      mates: new Set(gallerySlots.flatMap((gallerySlot, position) => (samples[gallerySlot]!.finger === samples[slot]!.finger ? [position] : []))),
    }));
    const result = recall(gallery, probes, Math.ceil(gallery.length * 0.1));
    expect(result.index).toBeGreaterThanOrEqual(0.8);
  });

  it('keeps the enrolled impression of synthetic probes among 2% of the gallery', () => {
    const fingers = 400;
    const gallery = Array.from({ length: fingers }, (_, index) => templateFromIso(syntheticIso(index + 1, 1)));
    const probes = Array.from({ length: 40 }, (_, index) => ({ template: templateFromIso(syntheticIso(index * 10 + 1, 2)), mates: new Set([index * 10]) }));
    const result = recall(gallery, probes, Math.ceil(fingers * 0.02));
    expect(result.index).toBeGreaterThanOrEqual(result.exhaustive - 0.15);
  });
});

describe('MatchEngine with the candidate index', () => {
  const fingers = 120;
  const isoOf = new Map<number, Uint8Array>();
  let engine: MatchEngine;

  beforeAll(async () => {
    // 20 candidates over 120 templates: the index, not the exhaustive search, picks what is compared.
    engine = await MatchEngine.create({ workers: 0, candidates: 20 });
    for (let finger = 1; finger <= fingers; finger++) {
      isoOf.set(finger, syntheticIso(finger, 1));
      engine.add(`f${finger}`, isoOf.get(finger)!, { hint: finger <= 30 ? 'small' : 'large' });
    }
  });

  afterAll(async () => {
    await engine.close();
  });

  it('compares only the candidates and still finds the enrolled impression', async () => {
    const { candidates, searched } = await engine.identify(isoOf.get(7)!, { topK: 1 });
    expect(searched).toBeLessThanOrEqual(20);
    expect(candidates[0]!.id).toBe('f7');
    expect((await engine.identify(isoOf.get(7)!, { topK: 1, candidates: 0 })).searched).toBe(fingers);
  });

  it('searches a hint whole when it holds few templates, through the index otherwise', async () => {
    expect((await engine.identify(isoOf.get(7)!, { hint: 'small' })).searched).toBe(30);
    const large = await engine.identify(isoOf.get(70)!, { hint: 'large', topK: 1 });
    expect(large.searched).toBeLessThanOrEqual(20);
    expect(large.candidates[0]!.id).toBe('f70');
  });

  it('forgets removed templates and finds replacements', async () => {
    expect(engine.remove('f9')).toBe(true);
    expect((await engine.identify(isoOf.get(9)!, { topK: 20 })).candidates.map((candidate) => candidate.id)).not.toContain('f9');
    engine.add('f9-again', isoOf.get(9)!);
    expect((await engine.identify(isoOf.get(9)!, { topK: 1 })).candidates[0]!.id).toBe('f9-again');
    const stranger = syntheticIso(fingers + 50, 1);
    engine.add('f9-again', stranger); // replaced by a finger not enrolled otherwise, same id
    expect((await engine.identify(stranger, { topK: 1 })).candidates[0]!.id).toBe('f9-again');
    expect((await engine.identify(isoOf.get(9)!, { topK: 20 })).candidates.map((candidate) => candidate.id)).not.toContain('f9-again');
    engine.add('f9', isoOf.get(9)!);
    engine.remove('f9-again');
  });

  it('rebuilds the index when churn compacts the gallery', async () => {
    // Enough replacements to make removed words outweigh live ones: the gallery renumbers slots.
    for (let round = 0; round < 3; round++) {
      for (let finger = 31; finger <= fingers; finger++) engine.add(`f${finger}`, isoOf.get(finger)!, { hint: 'large' });
    }
    expect(engine.size).toBe(fingers);
    for (const finger of [1, 50, 120]) {
      const { candidates, searched } = await engine.identify(isoOf.get(finger)!, { topK: 1 });
      expect(searched).toBeLessThanOrEqual(20);
      expect(candidates[0]!.id).toBe(`f${finger}`);
    }
  });

  it('narrows hinted searches through an index of the community alone, with their own candidate count', async () => {
    const hinted = await MatchEngine.create({ workers: 0, candidates: 0, hintedCandidates: 10 });
    try {
      for (let finger = 1; finger <= fingers; finger++) hinted.add(`f${finger}`, isoOf.get(finger)!, { hint: finger <= 60 ? 'north' : 'south' });
      for (const finger of [3, 70, 118]) {
        const { candidates, searched, population } = await hinted.identify(isoOf.get(finger)!, { topK: 10, hint: finger <= 60 ? 'north' : 'south' });
        expect(population).toBe(60);
        expect(searched).toBeLessThanOrEqual(10);
        expect(candidates[0]!.id).toBe(`f${finger}`);
        expect(candidates.every(({ id }) => (Number(id.slice(1)) <= 60) === (finger <= 60))).toBe(true);
      }
      expect((await hinted.identify(isoOf.get(70)!, { topK: 1 })).searched).toBe(fingers);
      // Compaction renumbers the slots: the community indexes are rebuilt with the gallery's.
      for (let round = 0; round < 3; round++) for (let finger = 61; finger <= fingers; finger++) hinted.add(`f${finger}`, isoOf.get(finger)!, { hint: 'south' });
      const after = await hinted.identify(isoOf.get(99)!, { topK: 1, hint: 'south' });
      expect(after.searched).toBeLessThanOrEqual(10);
      expect(after.candidates[0]!.id).toBe('f99');
    } finally {
      await hinted.close();
    }
  });

  it('refuses a bad candidate count', async () => {
    await expect(engine.identify(isoOf.get(1)!, { candidates: -1 })).rejects.toSatisfy((error: unknown) => error instanceof BiopayError && error.code === ErrorCode.BadRequest);
    await expect(MatchEngine.create({ workers: 0, candidates: 1.5 })).rejects.toBeInstanceOf(BiopayError);
  });
});
