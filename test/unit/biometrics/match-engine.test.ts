import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { thresholdForFpir } from '../../../core/biometrics/identification-calibration.js';
import { writeIsoRecord } from '../../../core/biometrics/iso.js';
import { candidateCounts, candidatesUnderLoad, DEFAULT_CANDIDATES, MatchEngine } from '../../../core/biometrics/match-engine.js';
import { populationFinger, populationImpression } from '../../../core/biometrics/synthetic/index.js';
import { BiopayError, ErrorCode } from '../../../core/errors.js';
import { loadFvcDatabase, loadInvalidIso } from './fvc-fixtures.js';

const db1 = loadFvcDatabase('DB1_B');
const fingerOf = (id: string) => id.split('_')[0];

async function expectInvalid(action: () => unknown): Promise<void> {
  try {
    await action();
  } catch (error) {
    expect(error).toBeInstanceOf(BiopayError);
    expect((error as BiopayError).code).toBe(ErrorCode.InvalidTemplate);
    return;
  }
  throw new Error('hostile template accepted');
}

describe('candidateCounts', () => {
  it('defaults to 600 over everyone and 1,500 within a hint; a lone candidates count sets both', () => {
    expect(DEFAULT_CANDIDATES).toBe(600);
    expect(candidateCounts({})).toEqual({ candidates: 600, hintedCandidates: 1500 });
    expect(candidateCounts({ candidates: 300 })).toEqual({ candidates: 300, hintedCandidates: 300 });
    expect(candidateCounts({ hintedCandidates: 150 })).toEqual({ candidates: 600, hintedCandidates: 150 });
    expect(candidateCounts({ candidates: 0, hintedCandidates: 150 })).toEqual({ candidates: 0, hintedCandidates: 150 });
  });
});

/** A decision search's result, or undefined for a synthetic probe with too few usable minutiae. */
async function identifyOrUndefined(engine: MatchEngine, probe: Uint8Array) {
  try {
    return await engine.identify(probe, { topK: 1, targetFpir: 1e-3 });
  } catch (error) {
    if ((error as BiopayError).code === ErrorCode.InvalidTemplate) return undefined;
    throw error;
  }
}

describe('candidatesUnderLoad (brownout)', () => {
  it('keeps the configured count while the oldest search has waited up to 20 ms, then shrinks in proportion to a floor', () => {
    expect(candidatesUnderLoad(150, 0)).toBe(150);
    expect(candidatesUnderLoad(150, 20)).toBe(150);
    expect(candidatesUnderLoad(150, 25)).toBe(120);
    expect(candidatesUnderLoad(150, 40)).toBe(75);
    expect(candidatesUnderLoad(150, 70)).toBe(43); // 150 x 20 / 70, rounded up
    // A quarter of the configured count at least...
    expect(candidatesUnderLoad(150, 1_000)).toBe(38);
    expect(candidatesUnderLoad(1_500, 1_000)).toBe(375);
    // ...and 16 at least, unless fewer were configured; 0 (every template) stays 0; no wait is no wait.
    expect(candidatesUnderLoad(40, 1_000)).toBe(16);
    expect(candidatesUnderLoad(10, 1_000)).toBe(10);
    expect(candidatesUnderLoad(0, 1_000)).toBe(0);
    expect(candidatesUnderLoad(150, Number.NaN)).toBe(150);
  });

  it('never raises the count as the wait grows', () => {
    for (const configured of [1, 16, 60, 150, 600, 1_500]) {
      let previous = configured;
      for (let waitMs = 0; waitMs <= 2_000; waitMs += 5) {
        const limit = candidatesUnderLoad(configured, waitMs);
        expect(limit).toBeLessThanOrEqual(previous);
        expect(limit).toBeGreaterThanOrEqual(Math.min(configured, Math.max(16, Math.ceil(configured / 4))));
        previous = limit;
      }
    }
  });
});

describe('MatchEngine with worker threads', () => {
  let engine: MatchEngine;

  beforeAll(async () => {
    engine = await MatchEngine.create({ workers: 2, capacityTemplates: 16 });
    for (const sample of db1) engine.add(sample.id, sample.bytes);
  });

  afterAll(async () => {
    await engine.close();
  });

  it('enrolls the 80 DB1 templates', () => {
    expect(engine.size).toBe(80);
  });

  it('finds another impression of the probe finger at rank 1 for most probes', async () => {
    let rankOne = 0;
    for (const probe of db1) {
      const { candidates, searched } = await engine.identify(probe.bytes, { topK: 3 });
      expect(searched).toBe(80);
      expect(candidates[0]!.id).toBe(probe.id);
      for (let index = 1; index < candidates.length; index++) expect(candidates[index]!.score).toBeLessThanOrEqual(candidates[index - 1]!.score);
      if (fingerOf(candidates[1]!.id) === fingerOf(probe.id)) rankOne++;
    }
    expect(rankOne / db1.length).toBeGreaterThan(0.9);
  });

  it('serves many concurrent searches, unsplit while others wait, with the answers of searches one at a time', async () => {
    const alone = [];
    for (const probe of db1.slice(0, 20)) alone.push(await engine.identify(probe.bytes, { topK: 5 }));
    const results = await Promise.all(db1.map((probe) => engine.identify(probe.bytes, { topK: 5 })));
    results.forEach((result, index) => expect(result.candidates[0]!.id).toBe(db1[index]!.id));
    expect(results.slice(0, 20)).toEqual(alone);
  });

  it('sheds searches beyond its queue with UNAVAILABLE naming the full queue, and keeps serving', async () => {
    const small = await MatchEngine.create({ workers: 1, capacityTemplates: 16 });
    try {
      for (const sample of db1.slice(0, 8)) small.add(sample.id, sample.bytes);
      const settled = await Promise.allSettled(Array.from({ length: 400 }, () => small.identify(db1[0]!.bytes, { topK: 1 })));
      const refused = settled.filter((result) => result.status === 'rejected').map((result) => (result as PromiseRejectedResult).reason as BiopayError);
      expect(refused.length).toBeGreaterThan(0);
      expect(settled.length - refused.length).toBeGreaterThanOrEqual(64);
      for (const error of refused) {
        expect(error.code).toBe(ErrorCode.Unavailable);
        expect(error.message).toMatch(/match queue full \(64 tasks waiting\)/);
      }
      await expect(small.identify(db1[0]!.bytes, { topK: 1 })).resolves.toMatchObject({ candidates: [{ id: db1[0]!.id }] });
    } finally {
      await small.close();
    }
  });

  it('passes the FMR threshold for genuine best matches and not for strangers', async () => {
    const threshold = engine.thresholdForFmr(1e-4);
    expect(threshold).toBeGreaterThan(engine.thresholdForFmr(1e-3));
    expect(threshold).toBeLessThan(engine.thresholdForFmr(1e-5));
    const stranger = loadFvcDatabase('DB2_B');
    let falseMatches = 0;
    for (const probe of stranger) {
      const { candidates } = await engine.identify(probe.bytes, { topK: 1 });
      if (candidates[0]!.score >= threshold) falseMatches++;
    }
    // 80 searches of 80 templates = 6,400 impostor comparisons at FMR 1e-4: about 0.64 expected.
    expect(falseMatches).toBeLessThanOrEqual(3);
  });

  it('removes and replaces templates', async () => {
    const probe = db1[0]!;
    expect(engine.remove(probe.id)).toBe(true);
    expect(engine.remove(probe.id)).toBe(false);
    expect(engine.size).toBe(79);
    let result = await engine.identify(probe.bytes, { topK: 80 });
    expect(result.searched).toBe(79);
    expect(result.candidates.map((candidate) => candidate.id)).not.toContain(probe.id);
    engine.add('replaced', db1[9]!.bytes);
    engine.add('replaced', probe.bytes);
    expect(engine.size).toBe(80);
    result = await engine.identify(probe.bytes, { topK: 1 });
    expect(result.candidates[0]!.id).toBe('replaced');
    engine.remove('replaced');
    engine.add(probe.id, probe.bytes);
  });

  it('narrows a search to the templates enrolled with the same hint', async () => {
    const hinted = await MatchEngine.create({ workers: 2 });
    try {
      db1.forEach((sample) => hinted.add(sample.id, sample.bytes, { hint: sample.impression <= 4 ? 'north' : 'south' }));
      const north = await hinted.identify(db1[0]!.bytes, { topK: 80, hint: 'north' });
      expect(north.searched).toBe(40);
      expect(north.candidates.every((candidate) => Number(candidate.id.split('_')[1]) <= 4)).toBe(true);
      const none = await hinted.identify(db1[0]!.bytes, { hint: 'nowhere' });
      expect(none).toEqual({ candidates: [], searched: 0, population: 0 });
    } finally {
      await hinted.close();
    }
  });

  it('refuses hostile templates on enrollment and search', async () => {
    for (const { bytes } of loadInvalidIso()) {
      await expectInvalid(() => engine.add('hostile', bytes));
      await expectInvalid(() => engine.identify(bytes));
    }
    await expectInvalid(() => engine.add('hostile', new Uint8Array(1000).fill(0xff)));
    expect(engine.size).toBe(80);
  });

  it('agrees with the in-thread search', async () => {
    const local = await MatchEngine.create({ workers: 0 });
    try {
      for (const sample of db1) local.add(sample.id, sample.bytes);
      for (const probe of db1.filter((_, index) => index % 10 === 0)) {
        expect(await local.identify(probe.bytes, { topK: 5 })).toEqual(await engine.identify(probe.bytes, { topK: 5 }));
      }
    } finally {
      await local.close();
    }
  });

  it('refuses bad options and enrollment past its limit', async () => {
    await expect(MatchEngine.create({ workers: -1 })).rejects.toMatchObject({ code: ErrorCode.BadRequest });
    await expect(MatchEngine.create({ workers: 0, capacityTemplates: 0 })).rejects.toMatchObject({ code: ErrorCode.BadRequest });
    const small = await MatchEngine.create({ workers: 0, maxTemplates: 2 });
    try {
      small.add('a', db1[0]!.bytes);
      small.add('b', db1[1]!.bytes);
      small.add('b', db1[2]!.bytes);
      expect(() => small.add('c', db1[3]!.bytes)).toThrow(expect.objectContaining({ code: ErrorCode.Unavailable }));
      expect(() => small.add('', db1[3]!.bytes)).toThrow(expect.objectContaining({ code: ErrorCode.BadRequest }));
      await expect(small.identify(db1[0]!.bytes, { topK: 0 })).rejects.toMatchObject({ code: ErrorCode.BadRequest });
      expect((await small.identify(db1[0]!.bytes)).searched).toBe(2);
    } finally {
      await small.close();
    }
    await expect(small.identify(db1[0]!.bytes)).rejects.toMatchObject({ code: ErrorCode.Stopped });
  });

  it('enrolls in bulk through the workers and reports the bad entries', async () => {
    const bulk = await MatchEngine.create({ workers: 2, maxTemplates: 81 });
    try {
      const hostile = loadInvalidIso()[0]!.bytes;
      const entries = [
        ...db1.map((sample) => ({ id: sample.id, isoBytes: sample.bytes, hint: 'shop' })),
        { id: 'hostile', isoBytes: hostile },
        { id: '', isoBytes: db1[0]!.bytes },
        { id: 'extra', isoBytes: db1[1]!.bytes },
        { id: 'one-too-many', isoBytes: db1[2]!.bytes },
      ];
      const { added, refused } = await bulk.addMany(entries);
      expect(added).toBe(81);
      expect(refused.map((entry) => [entry.id, entry.code])).toEqual([
        ['', ErrorCode.BadRequest],
        ['hostile', ErrorCode.InvalidTemplate],
        ['one-too-many', ErrorCode.Unavailable],
      ]);
      expect(refused[1]!.reason).toMatch(/truncated/);
      expect(bulk.size).toBe(81);
      const { candidates } = await bulk.identify(db1[10]!.bytes, { topK: 1, hint: 'shop' });
      expect(candidates[0]!.id).toBe(db1[10]!.id);
    } finally {
      await bulk.close();
    }
  });

  it('survives churn: many removals compact the gallery without losing templates', async () => {
    const churn = await MatchEngine.create({ workers: 1, capacityTemplates: 4 });
    try {
      for (let round = 0; round < 5; round++) for (const sample of db1) churn.add(`${round}:${sample.id}`, sample.bytes);
      for (let round = 0; round < 4; round++) for (const sample of db1) churn.remove(`${round}:${sample.id}`);
      expect(churn.size).toBe(80);
      // The next enrollment finds four fifths of the gallery dead and compacts it (slots renumbered).
      churn.add('late', db1[6]!.bytes);
      const { candidates, searched } = await churn.identify(db1[5]!.bytes, { topK: 1 });
      expect(searched).toBe(81);
      expect(candidates[0]!.id).toBe(`4:${db1[5]!.id}`);
      expect((await churn.identify(db1[6]!.bytes, { topK: 2 })).candidates.map((candidate) => candidate.id).sort()).toEqual([`4:${db1[6]!.id}`, 'late']);
    } finally {
      await churn.close();
    }
  });
});

describe('MatchEngine candidate path and FPIR decisions with worker threads', () => {
  const seed = 20_261_122;
  const fingers = 300;
  // The small hint (100 templates, at most twice 60) is searched whole, the rest through the index.
  const candidates = 60;
  const iso = (fingerId: number, impression: number) => writeIsoRecord(populationImpression(seed, populationFinger(seed, fingerId), fingerId, impression));
  const enrolledIso = new Map<number, Uint8Array>();
  const hintOf = (fingerId: number) => (fingerId <= 100 ? 'small-shop' : 'large-shop');
  let engine: MatchEngine;
  let enrolled = 0;
  let smallShop = 0;

  beforeAll(async () => {
    // 60 candidates of about 300 templates (more than twice 60): searches go through the index.
    engine = await MatchEngine.create({ workers: 2, candidates });
    const entries = Array.from({ length: fingers }, (_, index) => ({ id: `f${index + 1}`, isoBytes: iso(index + 1, 1), hint: hintOf(index + 1) }));
    const { added, refused } = await engine.addMany(entries);
    // A few synthetic impressions have too few usable minutiae: refused, as a terminal would see.
    expect(refused.every((entry) => entry.code === ErrorCode.InvalidTemplate)).toBe(true);
    expect(added).toBeGreaterThan(fingers * 0.95);
    const refusedIds = new Set(refused.map((entry) => entry.id));
    for (const entry of entries) {
      if (refusedIds.has(entry.id)) continue;
      const fingerId = Number(entry.id.slice(1));
      enrolledIso.set(fingerId, entry.isoBytes);
      if (hintOf(fingerId) === 'small-shop') smallShop++;
    }
    enrolled = added;
  });

  afterAll(async () => {
    await engine.close();
  });

  it('compares only the index candidates, in the workers, and agrees with the in-thread engine', async () => {
    const local = await MatchEngine.create({ workers: 0, candidates });
    try {
      for (const [fingerId, bytes] of enrolledIso) local.add(`f${fingerId}`, bytes, { hint: hintOf(fingerId) });
      let rankOne = 0;
      const probed = [...enrolledIso.keys()].filter((_, index) => index % 30 === 4);
      for (const fingerId of probed) {
        const probe = iso(fingerId, 2);
        const result = await engine.identify(probe, { topK: 3 });
        expect(result.searched).toBeLessThanOrEqual(candidates);
        expect(result.population).toBe(enrolled);
        expect(result).toEqual(await local.identify(probe, { topK: 3 }));
        if (result.candidates[0]?.id === `f${fingerId}`) rankOne++;
      }
      expect(rankOne).toBeGreaterThanOrEqual(probed.length - 3);
    } finally {
      await local.close();
    }
  });

  it('agrees with the in-thread engine through a community index, and when idle workers share the candidates', async () => {
    const wide = 130; // over 2 x 64 candidates: an idle engine splits their comparison across workers
    const local = await MatchEngine.create({ workers: 0, candidates: wide, hintedCandidates: candidates });
    const split = await MatchEngine.create({ workers: 2, candidates: wide, hintedCandidates: candidates });
    try {
      for (const [fingerId, bytes] of enrolledIso) {
        local.add(`f${fingerId}`, bytes, { hint: hintOf(fingerId) });
        split.add(`f${fingerId}`, bytes, { hint: hintOf(fingerId) });
      }
      const probes = [...enrolledIso.keys()].filter((fingerId, index) => fingerId > 100 && index % 25 === 3).map((fingerId) => iso(fingerId, 2));
      for (const probe of probes) {
        const expected = await local.identify(probe, { topK: 3 });
        expect(expected.searched).toBeLessThanOrEqual(wide);
        expect(await split.identify(probe, { topK: 3 })).toEqual(expected);
        const hinted = await split.identify(probe, { topK: 3, hint: 'large-shop' });
        expect(hinted.searched).toBeLessThanOrEqual(candidates);
        expect(hinted).toEqual(await local.identify(probe, { topK: 3, hint: 'large-shop' }));
      }
      // Busy: each search whole in one worker; the same answers.
      const together = await Promise.all(probes.map((probe) => split.identify(probe, { topK: 3 })));
      for (const [position, probe] of probes.entries()) expect(together[position]).toEqual(await local.identify(probe, { topK: 3 }));
    } finally {
      await Promise.all([local.close(), split.close()]);
    }
  });

  it('with brownout, compares fewer candidates while searches queue for the workers; by default, all of them', async () => {
    const strangers = Array.from({ length: 120 }, (_, index) => iso(7001 + index, 1));
    // By default (this block's engine) searches run together compare what they compare alone.
    const steady = await Promise.all(strangers.slice(0, 24).map((probe) => identifyOrUndefined(engine, probe)));
    expect(steady.every((result) => result === undefined || result.searched === candidates)).toBe(true);
    expect(engine.stats().searchesBrownedOut).toBe(0);

    // A 2 ms trigger: the searches of a second wave find the first one's oldest waiting longer.
    const browning = await MatchEngine.create({ workers: 2, candidates, brownout: true, brownoutWaitMs: 2 });
    try {
      for (const [fingerId, bytes] of enrolledIso) browning.add(`f${fingerId}`, bytes, { hint: hintOf(fingerId) });
      let firstWaveDone = false;
      // Strangers match nobody: a decision search compares every candidate it is allowed.
      const firstWave = Promise.all(strangers.map((probe) => identifyOrUndefined(browning, probe))).finally(() => { firstWaveDone = true; });
      await new Promise((resolve) => setTimeout(resolve, 10));
      expect(firstWaveDone).toBe(false);
      const secondWave = await Promise.all(strangers.slice(0, 8).map((probe) => identifyOrUndefined(browning, probe)));
      const first = (await firstWave).flatMap((result) => (result === undefined ? [] : [result.searched]));
      const second = secondWave.flatMap((result) => (result === undefined ? [] : [result.searched]));
      // The first search found nobody waiting and compared every candidate (later ones of the first
      // wave may find the first waiting past 2 ms already, on a busy machine: dispatching 120 takes time).
      expect(first.length).toBeGreaterThan(100);
      expect(Math.max(...first)).toBe(candidates);
      // Every search of the second wave found the first wave's oldest waiting 10 ms or more.
      expect(second.length).toBeGreaterThan(4);
      expect(Math.max(...second)).toBeLessThan(candidates);
      expect(Math.min(...[...first, ...second])).toBeGreaterThanOrEqual(16);
      const shortened = [...first, ...second].filter((count) => count < candidates).length;
      // Counted when the limit is chosen, before a probe with too few minutiae is refused.
      expect(browning.stats().searchesBrownedOut).toBeGreaterThanOrEqual(shortened);
      expect(browning.stats().searchesBrownedOut).toBeLessThanOrEqual(shortened + strangers.length + 8 - first.length - second.length);
      // Alone, a search compares them all again.
      const alone = await identifyOrUndefined(browning, strangers.find((_, index) => secondWave[index] !== undefined)!);
      expect(alone?.searched).toBe(candidates);
      // A search for every candidate's score (no decision: enrollment's duplicate search) keeps its count.
      const listed = browning.identify(strangers[0]!, { topK: 1 }).catch(() => undefined);
      const waiting = Promise.all(strangers.map((probe) => identifyOrUndefined(browning, probe)));
      await new Promise((resolve) => setTimeout(resolve, 10));
      const listedLate = await Promise.all(strangers.slice(0, 8).map((probe) => browning.identify(probe, { topK: 1 }).catch(() => undefined)));
      await waiting;
      expect([await listed, ...listedLate].every((result) => result === undefined || result.searched === candidates)).toBe(true);
      await expect(MatchEngine.create({ workers: 0, brownout: true, brownoutWaitMs: 0 })).rejects.toMatchObject({ code: ErrorCode.BadRequest });
    } finally {
      await browning.close();
    }
  });

  it('matches an enrolled finger at the FPIR threshold for the gallery, and no stranger', async () => {
    const threshold = thresholdForFpir(1e-2, enrolled);
    expect(engine.thresholdForFpir(1e-2)).toBe(threshold);
    for (const fingerId of [...enrolledIso.keys()].filter((_, index) => index % 100 === 2)) {
      const result = await engine.identify(enrolledIso.get(fingerId)!, { topK: 1, targetFpir: 1e-2 });
      expect(result.threshold).toBe(threshold);
      expect(result.match?.id).toBe(`f${fingerId}`);
    }
    let falseMatches = 0;
    for (let fingerId = 5001; fingerId <= 5020; fingerId++) {
      const result = await engine.identify(iso(fingerId, 1), { topK: 1, targetFpir: 1e-2 });
      expect(result.threshold).toBe(threshold);
      if (result.match !== undefined) falseMatches++;
    }
    // 20 searches at FPIR 1%: 0.2 false matches expected.
    expect(falseMatches).toBeLessThanOrEqual(1);
  });

  it('scales the threshold with the templates a hint covers', async () => {
    const [smallFinger, largeFinger] = [[...enrolledIso.keys()].find((id) => id <= 100)!, [...enrolledIso.keys()].find((id) => id > 200)!];
    const small = await engine.identify(enrolledIso.get(smallFinger)!, { topK: 1, hint: 'small-shop', targetFpir: 1e-3 });
    expect(small.population).toBe(smallShop);
    expect(small.searched).toBe(smallShop); // at most twice the candidates: searched whole
    expect(small.threshold).toBe(thresholdForFpir(1e-3, smallShop));
    expect(small.match?.id).toBe(`f${smallFinger}`);
    const large = await engine.identify(enrolledIso.get(largeFinger)!, { topK: 1, hint: 'large-shop', targetFpir: 1e-3 });
    expect(large.population).toBe(enrolled - smallShop);
    expect(large.searched).toBeLessThanOrEqual(candidates);
    expect(large.threshold!).toBeGreaterThanOrEqual(small.threshold!);
    expect(large.match?.id).toBe(`f${largeFinger}`);
  });

  it('refuses a bad target FPIR', async () => {
    for (const targetFpir of [0, 1, 1.5, Number.NaN]) {
      await expect(engine.identify(enrolledIso.get(1)!, { targetFpir })).rejects.toMatchObject({ code: ErrorCode.BadRequest });
    }
  });

  it('stops a decision search at a match, with the decision of the full search, and compares a stranger with every candidate', async () => {
    const local = await MatchEngine.create({ workers: 0, candidates });
    try {
      for (const [fingerId, bytes] of enrolledIso) local.add(`f${fingerId}`, bytes, { hint: hintOf(fingerId) });
      let early = 0;
      let mated = 0;
      for (const fingerId of [...enrolledIso.keys()].filter((_, index) => index % 12 === 5)) {
        const probe = iso(fingerId, 2);
        const full = await engine.identify(probe, { topK: 1, targetFpir: 1e-3, acceptScore: 0 });
        const staged = await engine.identify(probe, { topK: 1, targetFpir: 1e-3 });
        expect(full.stoppedEarly).toBeUndefined();
        expect(staged.match?.id).toBe(full.match?.id);
        expect(staged.searched).toBeLessThanOrEqual(full.searched);
        // Workers and the engine's own thread stage the same way.
        expect(await local.identify(probe, { topK: 1, targetFpir: 1e-3 })).toEqual(staged);
        if (staged.stoppedEarly) {
          early++;
          expect(staged.match).toBeDefined();
          expect(staged.searched).toBeLessThan(full.searched);
        } else {
          expect(staged).toEqual(full);
        }
        if (full.match) mated++;
      }
      // Most enrolled fingers are matched among the index's first few candidates.
      expect(early).toBeGreaterThan(mated / 2);
      for (let fingerId = 6001; fingerId <= 6010; fingerId++) {
        const stranger = await engine.identify(iso(fingerId, 1), { topK: 1, targetFpir: 1e-3 });
        const full = await engine.identify(iso(fingerId, 1), { topK: 1, targetFpir: 1e-3, acceptScore: 0 });
        if (stranger.match === undefined) expect(stranger).toEqual(full);
      }
      for (const acceptScore of [-0.1, 1.5, Number.NaN]) {
        await expect(engine.identify(enrolledIso.get(1)!, { acceptScore })).rejects.toMatchObject({ code: ErrorCode.BadRequest });
      }
    } finally {
      await local.close();
    }
  });
});

describe('MatchEngine decision search of a community compared whole', () => {
  const seed = 20_261_205;
  const fingers = 300;
  // 300 templates, at most twice 200 candidates: compared whole, in the index's order.
  const candidates = 200;
  const iso = (fingerId: number, impression: number) => writeIsoRecord(populationImpression(seed, populationFinger(seed, fingerId), fingerId, impression));
  let engine: MatchEngine;
  let local: MatchEngine;
  const enrolledIds: number[] = [];

  beforeAll(async () => {
    engine = await MatchEngine.create({ workers: 2, candidates });
    local = await MatchEngine.create({ workers: 0, candidates });
    const entries = Array.from({ length: fingers }, (_, index) => ({ id: `f${index + 1}`, isoBytes: iso(index + 1, 1), hint: 'shop' }));
    const { refused } = await engine.addMany(entries);
    await local.addMany(entries);
    const refusedIds = new Set(refused.map((entry) => entry.id));
    for (let fingerId = 1; fingerId <= fingers; fingerId++) if (!refusedIds.has(`f${fingerId}`)) enrolledIds.push(fingerId);
  });

  afterAll(async () => {
    await engine.close();
    await local.close();
  });

  it('stops at the mate among the first candidates, compares a stranger with everyone, and decides as the exhaustive search', async () => {
    const population = enrolledIds.length;
    let early = 0;
    let mated = 0;
    for (const fingerId of enrolledIds.filter((_, index) => index % 10 === 3)) {
      const probe = iso(fingerId, 2);
      const exhaustive = await engine.identify(probe, { topK: 1, hint: 'shop', targetFpir: 1e-3, acceptScore: 0 });
      const ranked = await engine.identify(probe, { topK: 1, hint: 'shop', targetFpir: 1e-3 });
      expect(exhaustive.searched).toBe(population);
      expect(ranked.match?.id).toBe(exhaustive.match?.id);
      // Workers and the engine's own thread search the same way.
      expect(await local.identify(probe, { topK: 1, hint: 'shop', targetFpir: 1e-3 })).toEqual(ranked);
      if (ranked.stoppedEarly) {
        early++;
        expect(ranked.searched).toBeLessThan(population / 4);
      } else {
        expect(ranked).toEqual(exhaustive);
      }
      if (exhaustive.match) mated++;
    }
    expect(mated).toBeGreaterThan(10);
    expect(early).toBeGreaterThan(mated / 2);
    let strangersCompared = 0;
    for (let fingerId = 7001; fingerId <= 7010; fingerId++) {
      const stranger = await engine.identify(iso(fingerId, 1), { topK: 3, hint: 'shop', targetFpir: 1e-3 });
      if (stranger.match !== undefined) continue; // a false match (FPIR 0.1%) stops where it matched
      strangersCompared++;
      expect(stranger.searched).toBe(population);
      expect(stranger).toEqual(await engine.identify(iso(fingerId, 1), { topK: 3, hint: 'shop', targetFpir: 1e-3, acceptScore: 0 }));
    }
    expect(strangersCompared).toBeGreaterThanOrEqual(9);
  });

  it('leaves a removed template out of the rest it compares after the ranked candidates', async () => {
    const removedId = enrolledIds[7]!;
    expect(engine.remove(`f${removedId}`)).toBe(true);
    try {
      // Its own second impression would find it first: now it is compared with everyone left.
      const result = await engine.identify(iso(removedId, 2), { topK: 5, hint: 'shop', targetFpir: 1e-3 });
      expect(result.population).toBe(enrolledIds.length - 1);
      expect(result.candidates.map((candidate) => candidate.id)).not.toContain(`f${removedId}`);
      expect(result.match).toBeUndefined();
      expect(result.searched).toBe(enrolledIds.length - 1);
    } finally {
      await engine.addMany([{ id: `f${removedId}`, isoBytes: iso(removedId, 1), hint: 'shop' }]);
    }
  });
});
