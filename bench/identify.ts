/**
 * 1:N identification benchmark (issue 4). Workload: `enrolled` synthetic fingers (default 100,000;
 * population seed fixed) enrolled with impression 1 through MatchEngine.addMany (2 workers), then
 *   - mated probes: impression 2 of enrolled fingers spread over the gallery;
 *   - non-mated probes: fingers that were never enrolled;
 * searched one at a time (the latency a terminal sees, probe conversion included), `runs` passes.
 * Reports median and 99th percentile search latency over all searches, rank-1 identification rate
 * (the right finger ranked first), the true and false positive identification rates at the FMR 1e-4
 * threshold (the best candidate passes it), memory per enrolled template, and the enrollment rate.
 */
import { cpus, loadavg } from 'node:os';
import { BiopayError, ErrorCode } from '../core/errors.js';
import { writeIsoRecord } from '../core/biometrics/iso.js';
import { MatchEngine, type EnrollmentEntry } from '../core/biometrics/match-engine.js';
import { populationFinger, populationImpression } from '../core/biometrics/synthetic/index.js';

const populationSeed = 20_261_122;
const defaultEnrolled = 100_000;
const matedProbes = 100;
const nonMatedProbes = 100;
const enrollChunk = 4000;
const workers = 2;
const targetFmr = 1e-4;

function percentile(values: readonly number[], share: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(share * sorted.length) - 1))]!;
}

function isoOf(fingerId: number, impression: number): Uint8Array {
  const master = populationFinger(populationSeed, fingerId);
  return writeIsoRecord(populationImpression(populationSeed, master, fingerId, impression));
}

function enrollmentEntries(from: number, to: number): EnrollmentEntry[] {
  const entries: EnrollmentEntry[] = [];
  for (let fingerId = from; fingerId < to; fingerId++) entries.push({ id: `f${fingerId}`, isoBytes: isoOf(fingerId, 1) });
  return entries;
}

/** Generation (this thread) overlaps conversion (the workers): chunk i+1 is made while i converts. */
async function enroll(engine: MatchEngine, enrolled: number): Promise<{ seconds: number; refused: number }> {
  const startedMs = performance.now();
  let refused = 0;
  let pending: Promise<{ refused: unknown[] }> | undefined;
  for (let from = 1; from <= enrolled; from += enrollChunk) {
    const entries = enrollmentEntries(from, Math.min(enrolled + 1, from + enrollChunk));
    if (pending) refused += (await pending).refused.length;
    pending = engine.addMany(entries);
    process.stderr.write(`\renrolling ${Math.min(enrolled, from + enrollChunk - 1)}/${enrolled}`);
  }
  if (pending) refused += (await pending).refused.length;
  process.stderr.write('\n');
  return { seconds: (performance.now() - startedMs) / 1000, refused };
}

interface Probe {
  fingerId: number;
  mated: boolean;
  isoBytes: Uint8Array;
}

function probes(enrolled: number): Probe[] {
  const list: Probe[] = [];
  const step = Math.max(1, Math.floor(enrolled / matedProbes));
  for (let index = 0; index < Math.min(matedProbes, enrolled); index++) {
    const fingerId = 1 + index * step;
    list.push({ fingerId, mated: true, isoBytes: isoOf(fingerId, 2) });
  }
  for (let index = 1; index <= nonMatedProbes; index++) {
    const fingerId = enrolled + 1000 + index;
    list.push({ fingerId, mated: false, isoBytes: isoOf(fingerId, 1) });
  }
  return list;
}

/** A probe with too few usable minutiae is refused (INVALID_TEMPLATE), as a terminal would see. */
async function identifyOrRefuse(engine: MatchEngine, isoBytes: Uint8Array, candidates?: number) {
  try {
    return await engine.identify(isoBytes, candidates === undefined ? { topK: 1 } : { topK: 1, candidates });
  } catch (error) {
    if (error instanceof BiopayError && error.code === ErrorCode.InvalidTemplate) return undefined;
    throw error;
  }
}

/** Rank-1 identification rate of the mated probes when every template is compared (slow). */
async function exhaustiveRankOne(engine: MatchEngine, probeList: readonly Probe[]): Promise<number> {
  const mated = probeList.filter((probe) => probe.mated);
  let rank1 = 0;
  for (const probe of mated) {
    const result = await identifyOrRefuse(engine, probe.isoBytes, 0);
    if (result?.candidates[0]?.id === `f${probe.fingerId}`) rank1++;
  }
  return Number((rank1 / mated.length).toFixed(3));
}

/**
 * `enrolled`: gallery size (default 100,000); `compareExhaustive`: also measure rank-1 with every
 * template compared (about a second per probe at 100,000), to see what the candidate index loses.
 */
export async function runIdentifyBench(options: { json: boolean; runs: number; enrolled?: number; compareExhaustive?: boolean }): Promise<Record<string, unknown>> {
  const runs = Math.max(1, Math.floor(options.runs));
  const enrolled = options.enrolled ?? defaultEnrolled;
  const engine = await MatchEngine.create({ workers, capacityTemplates: enrolled });
  try {
    const enrollment = await enroll(engine, enrolled);
    const threshold = engine.thresholdForFmr(targetFmr);
    const probeList = probes(enrolled);
    await identifyOrRefuse(engine, probeList[0]!.isoBytes); // warm-up
    const latenciesMs: number[] = [];
    const runMediansMs: number[] = [];
    let rank1 = 0;
    let truePositives = 0;
    let falsePositives = 0;
    let searched = 0;
    let refusedProbes = 0;
    for (let run = 0; run < runs; run++) {
      const runLatencies: number[] = [];
      for (const probe of probeList) {
        const startedMs = performance.now();
        const result = await identifyOrRefuse(engine, probe.isoBytes);
        runLatencies.push(performance.now() - startedMs);
        if (run > 0) continue;
        if (result === undefined) {
          refusedProbes++;
          continue; // a mated probe refused is a miss; a non-mated one cannot falsely match
        }
        searched += result.searched;
        const best = result.candidates[0];
        const passes = best !== undefined && best.score >= threshold;
        if (probe.mated && best?.id === `f${probe.fingerId}`) {
          rank1++;
          if (passes) truePositives++;
        }
        if (!probe.mated && passes) falsePositives++;
      }
      latenciesMs.push(...runLatencies);
      runMediansMs.push(percentile(runLatencies, 0.5));
    }
    const mated = probeList.filter((probe) => probe.mated).length;
    const nonMated = probeList.length - mated;
    const stats = engine.stats();
    const result = {
      benchmark: 'identify',
      workload: `${enrolled} synthetic fingers (impression 1) enrolled, ${mated} mated (impression 2) + ${nonMated} non-mated probes, searched one at a time, ${workers} workers, ${runs} passes`,
      machine: `${cpus()[0]?.model ?? 'unknown cpu'} x ${cpus().length}, node ${process.version}`,
      loadAverage1m: Number(loadavg()[0]!.toFixed(2)),
      enrolled: engine.size,
      refusedAtEnrollment: enrollment.refused,
      enrollmentTemplatesPerSecond: Math.round(enrolled / enrollment.seconds),
      searchMedianMs: Number(percentile(latenciesMs, 0.5).toFixed(1)),
      searchP99Ms: Number(percentile(latenciesMs, 0.99).toFixed(1)),
      searchRunMediansMs: runMediansMs.map((value) => Number(value.toFixed(1))),
      comparisonsPerSearch: Math.round(searched / (probeList.length - refusedProbes)),
      probesRefused: refusedProbes,
      rank1IdentificationRate: Number((rank1 / mated).toFixed(3)),
      ...(options.compareExhaustive ? { rank1IdentificationRateExhaustive: await exhaustiveRankOne(engine, probeList) } : {}),
      thresholdAtFmr1e4: Number(threshold.toFixed(4)),
      tpirAtThreshold: Number((truePositives / mated).toFixed(3)),
      fpirAtThreshold: Number((falsePositives / nonMated).toFixed(3)),
      bytesPerTemplate: {
        gallery: Math.round(stats.galleryBytes / engine.size),
        galleryAllocated: Math.round(stats.galleryAllocatedBytes / engine.size),
        index: Math.round(stats.indexBytes / engine.size),
      },
    };
    if (!options.json) process.stdout.write(`${Object.entries(result).map(([key, value]) => `${key.padEnd(30)} ${typeof value === 'object' ? JSON.stringify(value) : String(value)}`).join('\n')}\n`);
    return result;
  } finally {
    await engine.close();
  }
}
