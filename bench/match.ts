/**
 * Fingerprint matching benchmark (issue 4). Workload: the 320 FVC2002 B templates of
 * test/fixtures/fvc2002 (or $BIOPAY_FVC_DIR) converted once into matcher form. `kernel` is the
 * comparison kernel a default matcher runs (native, wasm-simd or javascript; BIOPAY_NATIVE_MATCHER=0
 * forces the portable one); with the native one, the portable kernel's one-core rate is measured
 * in the same runs too.
 *   - one-to-one comparisons per second on one core: probes searched against the prepared gallery
 *     in this thread (the kernel the workers run), per CPU-second of this process (the machine is
 *     shared, so wall-clock rates are also given with the load average), median of `runs`;
 *   - 1:N throughput through MatchEngine with 1 and 2 worker threads (gallery replicated to
 *     `scalingGallery` templates), median of `runs`, and the scaling factor; bulk enrollment rate;
 *   - enrollment: CPU time to convert a record, and gallery bytes per template; the cylinders
 *     alone, in microseconds per template, by the default conversion and by the two-wide one
 *     (the same on a CPU without AVX-512F, where the default is two-wide), median of `runs`;
 *   - accuracy per database: EER over all impostor pairs and with the FVC protocol;
 *   - template selection at enrollment (bench/template-selection.ts): later touches accepted
 *     against the first impression and against the kept one of three, and the CPU of a choice.
 */
import { existsSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { folderAccuracy, scoreFolder } from '../core/biometrics/fvc-eval.js';
import { fvcFolders, loadFvcFolder, type FvcSample } from '../core/biometrics/fvc-dataset.js';
import { directoryStride, searchSlice } from '../core/biometrics/gallery-search.js';
import { MatchEngine } from '../core/biometrics/match-engine.js';
import { MccMatcher, templateRef } from '../core/biometrics/mcc-matcher.js';
import { matcherKernelName } from '../core/biometrics/native-kernel.js';
import { SharedGallery } from '../core/biometrics/shared-gallery.js';
import { buildCylinders, type CylinderOptions } from '../core/biometrics/cylinder.js';
import { parseIsoRecord } from '../core/biometrics/iso.js';
import { defaultMccParams } from '../core/biometrics/mcc-params.js';
import { templateFromIso, templatePoints, type Points } from '../core/biometrics/template.js';
import { templateSelectionBench } from './template-selection.js';

const probesPerRun = 40;
const scalingGallery = 1600;
const scalingProbes = 12;

function fixturesRoot(): string {
  const override = process.env['BIOPAY_FVC_DIR'];
  if (override) return override;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let depth = 0; depth < 4; depth++, dir = dirname(dir)) {
    const candidate = join(dir, 'test', 'fixtures', 'fvc2002');
    if (existsSync(candidate)) return candidate;
  }
  throw new Error('FVC fixtures not found: set BIOPAY_FVC_DIR');
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/**
 * Comparisons per second of the worker kernel in this thread over the prepared gallery, per
 * second of this process's CPU time (robust to other processes sharing the cores) and per second
 * of wall-clock time.
 */
function singleCoreRate(samples: readonly FvcSample[], matcher: MccMatcher): { cpu: number; wall: number } {
  const gallery = new SharedGallery(samples.length, samples.length);
  samples.forEach((sample, index) => gallery.put(String(index), templateFromIso(sample.bytes), 0));
  const snapshot = gallery.snapshot();
  const stride = Math.floor(samples.length / probesPerRun);
  const probes = samples.filter((_, index) => index % stride === 0).map((sample) => templateRef(templateFromIso(sample.bytes)));
  const slice = { data: snapshot.data, directory: snapshot.directory, fromSlot: 0, toSlot: snapshot.slotCount, hintHash: 0, topK: 10 };
  const startedCpu = process.cpuUsage();
  const startedMs = performance.now();
  let comparisons = 0;
  for (const probe of probes) comparisons += searchSlice(matcher, probe, slice).searched;
  const wallS = (performance.now() - startedMs) / 1000;
  const cpu = process.cpuUsage(startedCpu);
  return { cpu: comparisons / ((cpu.user + cpu.system) / 1e6), wall: comparisons / wallS };
}

/** Enrollment (ISO record to matcher form) CPU time and the gallery memory it takes. */
function enrollmentCost(samples: readonly FvcSample[]): { cpuMsPerTemplate: number; bytesPerTemplate: number } {
  const startedCpu = process.cpuUsage();
  const words = samples.reduce((sum, sample) => sum + templateFromIso(sample.bytes).length, 0);
  const cpu = process.cpuUsage(startedCpu);
  return {
    cpuMsPerTemplate: Number(((cpu.user + cpu.system) / 1000 / samples.length).toFixed(3)),
    bytesPerTemplate: Math.round((words * 4) / samples.length + directoryStride * 4),
  };
}

/** CPU microseconds per template of the cylinders alone, over every sample, repeated. */
function cylinderCost(points: readonly Points[], options: CylinderOptions): number {
  const repeats = 5;
  const startedCpu = process.cpuUsage();
  for (let repeat = 0; repeat < repeats; repeat++) {
    for (const p of points) buildCylinders(p.xs, p.ys, p.thetas, p.count, defaultMccParams, options);
  }
  const cpu = process.cpuUsage(startedCpu);
  return (cpu.user + cpu.system) / (repeats * points.length);
}

/** 1:N comparisons per second through the engine, and its bulk enrollment rate (templates/s). */
async function engineRate(samples: readonly FvcSample[], workers: number): Promise<{ search: number; enrollment: number }> {
  const engine = await MatchEngine.create({ workers, capacityTemplates: scalingGallery });
  try {
    const entries = Array.from({ length: scalingGallery }, (_, index) => ({ id: `t${index}`, isoBytes: samples[index % samples.length]!.bytes }));
    const enrollStartedMs = performance.now();
    await engine.addMany(entries);
    const enrollment = scalingGallery / ((performance.now() - enrollStartedMs) / 1000);
    const probes = samples.slice(0, scalingProbes);
    await engine.identify(probes[0]!.bytes);
    const startedMs = performance.now();
    let comparisons = 0;
    for (const probe of probes) comparisons += (await engine.identify(probe.bytes, { topK: 10 })).searched;
    return { search: comparisons / ((performance.now() - startedMs) / 1000), enrollment };
  } finally {
    await engine.close();
  }
}

function accuracyByDatabase(folders: readonly string[]) {
  const accuracy = folders.map((folder) => folderAccuracy(scoreFolder(folder)));
  const percent = (rate: number) => Number((rate * 100).toFixed(2));
  const byName = (pick: (entry: (typeof accuracy)[number]) => number) => Object.fromEntries(accuracy.map((entry) => [entry.name, percent(pick(entry))]));
  const mean = (pick: (entry: (typeof accuracy)[number]) => number) => percent(accuracy.reduce((sum, entry) => sum + pick(entry), 0) / accuracy.length);
  return {
    eerPercentByDb: byName((entry) => entry.allImpostors.eer),
    eerFvcProtocolPercentByDb: byName((entry) => entry.fvcProtocol.eer),
    fnmrAtFmr1e3PercentByDb: byName((entry) => entry.allImpostors.fnmrAtFmr1e3),
    zeroFmrPercentByDb: byName((entry) => entry.allImpostors.zeroFmr),
    meanEerPercent: mean((entry) => entry.allImpostors.eer),
    meanEerFvcProtocolPercent: mean((entry) => entry.fvcProtocol.eer),
  };
}

export async function runMatchBench(options: { json: boolean; runs: number }): Promise<Record<string, unknown>> {
  const runs = Math.max(1, Math.floor(options.runs));
  const folders = fvcFolders(fixturesRoot());
  const samples = folders.flatMap((folder) => loadFvcFolder(folder));
  const matcher = new MccMatcher();
  const portable = matcher.isNative ? new MccMatcher(undefined, { useNative: false }) : undefined;
  // Where the native local stage runs eight pairs at a time, the two-wide one too, for the ratio.
  const twoWide = matcher.nativeLocalStage === 'avx512' ? new MccMatcher(undefined, { nativeWide: false }) : undefined;
  singleCoreRate(samples, matcher); // warm-up: JIT, and the SIMD module or native addon
  if (portable) singleCoreRate(samples, portable);
  if (twoWide) singleCoreRate(samples, twoWide);
  const enrollment = Array.from({ length: runs }, () => enrollmentCost(samples));
  const points = samples.map((sample) => templatePoints(parseIsoRecord(sample.bytes)));
  cylinderCost(points, {}); // warm-up
  const cylinders = Array.from({ length: runs }, () => ({ wide: cylinderCost(points, {}), twoWide: cylinderCost(points, { nativeWide: false }) }));
  const single: { cpu: number; wall: number }[] = [];
  const portableSingle: { cpu: number; wall: number }[] = [];
  const twoWideSingle: { cpu: number; wall: number }[] = [];
  for (let run = 0; run < runs; run++) {
    single.push(singleCoreRate(samples, matcher));
    if (portable) portableSingle.push(singleCoreRate(samples, portable));
    if (twoWide) twoWideSingle.push(singleCoreRate(samples, twoWide));
  }
  const oneWorker: { search: number; enrollment: number }[] = [];
  const twoWorkers: { search: number; enrollment: number }[] = [];
  for (let run = 0; run < runs; run++) {
    oneWorker.push(await engineRate(samples, 1));
    twoWorkers.push(await engineRate(samples, 2));
  }
  const result = {
    benchmark: 'match',
    workload: `${samples.length} FVC2002 templates; one-to-one: ${probesPerRun} probes x ${samples.length} gallery in one thread; 1:N: ${scalingProbes} probes x ${scalingGallery} gallery via MatchEngine`,
    machine: `${cpus()[0]?.model ?? 'unknown cpu'} x ${availableParallelism()}, node ${process.version}`,
    runs,
    kernel: matcherKernelName(),
    ...(matcher.nativeLocalStage ? { nativeLocalStage: matcher.nativeLocalStage } : {}),
    comparisonsPerSecondPerCore: Math.round(median(single.map((rate) => rate.cpu))),
    ...(twoWide ? { twoWideComparisonsPerSecondPerCore: Math.round(median(twoWideSingle.map((rate) => rate.cpu))) } : {}),
    ...(portable ? { portableKernel: portable.kernelName, portableComparisonsPerSecondPerCore: Math.round(median(portableSingle.map((rate) => rate.cpu))) } : {}),
    comparisonsPerSecondWallOneThread: Math.round(median(single.map((rate) => rate.wall))),
    loadAverage1m: Number(loadavg()[0]!.toFixed(2)),
    engineComparisonsPerSecond: { workers1: Math.round(median(oneWorker.map((rate) => rate.search))), workers2: Math.round(median(twoWorkers.map((rate) => rate.search))) },
    scaling1to2: Number((median(twoWorkers.map((rate) => rate.search)) / median(oneWorker.map((rate) => rate.search))).toFixed(2)),
    bulkEnrollmentTemplatesPerSecond: { workers1: Math.round(median(oneWorker.map((rate) => rate.enrollment))), workers2: Math.round(median(twoWorkers.map((rate) => rate.enrollment))) },
    enrollmentCpuMsPerTemplate: median(enrollment.map((cost) => cost.cpuMsPerTemplate)),
    cylinderUsPerTemplate: Number(median(cylinders.map((cost) => cost.wide)).toFixed(1)),
    twoWideCylinderUsPerTemplate: Number(median(cylinders.map((cost) => cost.twoWide)).toFixed(1)),
    galleryBytesPerTemplate: enrollment[0]!.bytesPerTemplate,
    ...accuracyByDatabase(folders),
    ...templateSelectionBench(folders),
  };
  if (!options.json) printTable(result);
  return result;
}

function printTable(result: Record<string, unknown>): void {
  const lines = Object.entries(result).map(([key, value]) => `${key.padEnd(30)} ${typeof value === 'object' ? JSON.stringify(value) : String(value)}`);
  process.stdout.write(`${lines.join('\n')}\n`);
}
