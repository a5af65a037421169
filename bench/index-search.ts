/**
 * Candidate index benchmark: the first stage of every 1:N search, alone. Workload: `enrolled`
 * synthetic fingers (default 10,000; population seed fixed) indexed with impression 1, probed with
 * impression 2 of 200 of them, in this thread (the code a matcher thread runs: triplet keys, the
 * postings walk and the vote scoring, native when the addon is built):
 *   - full: the whole index, 600 candidates (the default for a search over everyone);
 *   - community: an index of the first 1,000 fingers, 150 candidates (a hinted search).
 * Reports the median over `runs` of the CPU time per search (this process: the machine is shared)
 * and a checksum of the candidates chosen, which must not move unless the index's rules change.
 */
import { cpus } from 'node:os';
import { CandidateIndex } from '../core/biometrics/candidate-index.js';
import { directoryStride } from '../core/biometrics/gallery-search.js';
import { matcherKernelName } from '../core/biometrics/native-kernel.js';
import { templateFromIso } from '../core/biometrics/template.js';
import { isoOf, percentile } from './identify.js';

const defaultEnrolled = 10_000;
const probeCount = 200;
const communitySize = 1_000;
const fullCandidates = 600;
const communityCandidates = 150;

interface IndexCase {
  readonly index: CandidateIndex;
  readonly slots: number;
  readonly directory: Int32Array;
  readonly candidates: number;
}

function indexCase(templates: readonly Uint32Array[], candidates: number): IndexCase {
  const index = new CandidateIndex();
  templates.forEach((template, slot) => index.add(slot, template));
  // Every slot live, no hint: the directory a search of the whole gallery passes.
  const directory = new Int32Array(templates.length * directoryStride);
  for (let slot = 0; slot < templates.length; slot++) directory[slot * directoryStride + 1] = 1;
  return { index, slots: templates.length, directory, candidates };
}

/** CPU milliseconds per search over one pass of the probes, and a checksum of what was chosen. */
function pass(target: IndexCase, probes: readonly Uint32Array[]): { cpuMsPerSearch: number; checksum: number } {
  const filter = { directory: target.directory, hint: 0 };
  let checksum = 0;
  const before = process.cpuUsage();
  for (const probe of probes) {
    const chosen = target.index.candidates(probe, target.slots, target.candidates, filter);
    for (let rank = 0; rank < chosen.length; rank++) checksum = (checksum * 31 + chosen[rank]! + rank) % 1_000_000_007;
  }
  const cpu = process.cpuUsage(before);
  return { cpuMsPerSearch: (cpu.user + cpu.system) / 1000 / probes.length, checksum };
}

export async function runIndexBench(options: { runs: number; enrolled?: number }): Promise<Record<string, unknown>> {
  const enrolled = options.enrolled ?? defaultEnrolled;
  const templates: Uint32Array[] = [];
  for (let fingerId = 1; fingerId <= enrolled; fingerId++) {
    templates.push(templateFromIso(isoOf(fingerId, 1)));
    if (fingerId % 2_000 === 0) process.stderr.write(`index: ${fingerId}/${enrolled} templates made\n`);
  }
  const step = Math.max(1, Math.floor(Math.min(enrolled, communitySize) / probeCount));
  const probes = Array.from({ length: Math.min(probeCount, enrolled) }, (_, index) => templateFromIso(isoOf(1 + index * step, 2)));
  const cases: Record<string, IndexCase> = {
    full: indexCase(templates, fullCandidates),
    community: indexCase(templates.slice(0, communitySize), communityCandidates),
  };
  const results: Record<string, unknown> = {};
  for (const [name, target] of Object.entries(cases)) {
    pass(target, probes.slice(0, 20)); // warm-up
    const runs = Array.from({ length: Math.max(1, options.runs) }, () => pass(target, probes));
    const cpuMsPerSearch = Number(percentile(runs.map((run) => run.cpuMsPerSearch), 0.5).toFixed(3));
    results[name] = { templates: target.slots, candidates: target.candidates, cpuMsPerSearch, checksum: runs[0]!.checksum };
    process.stderr.write(`index ${name}: ${cpuMsPerSearch} ms of CPU per search\n`);
  }
  return {
    workload: `${enrolled} synthetic fingers indexed (impression 1), ${probes.length} probes (impression 2) searched in this thread: ` +
      `the whole index at ${fullCandidates} candidates, and an index of ${communitySize} at ${communityCandidates}; median of ${options.runs} runs`,
    machine: `${cpus()[0]?.model ?? 'unknown cpu'} x ${cpus().length}, node ${process.version}`,
    kernel: matcherKernelName(),
    ...results,
  };
}
