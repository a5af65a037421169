/**
 * Scores FVC-style folders with our matcher (in this thread) and summarises accuracy per folder.
 * Used by bench/match.ts, `biopay match eval-fvc` and `biopay match calibrate`.
 */
import { basename } from 'node:path';
import { summarizeAccuracy, type AccuracySummary } from './evaluation.js';
import { fvcPairs, loadFvcFolder, type FvcSample } from './fvc-dataset.js';
import { MccMatcher, templateRef, type TemplateRef } from './mcc-matcher.js';
import { templateFromIso } from './template.js';

export interface FolderScores {
  name: string;
  genuine: Float64Array;
  impostorAll: Float64Array;
  impostorFvc: Float64Array;
}

export interface FolderAccuracy {
  name: string;
  allImpostors: AccuracySummary;
  fvcProtocol: AccuracySummary;
}

function scorePairs(matcher: MccMatcher, refs: readonly TemplateRef[], pairs: readonly [number, number][]): Float64Array {
  return Float64Array.from(pairs, ([a, b]) => matcher.score(refs[a]!, refs[b]!));
}

export function prepareTemplates(samples: readonly FvcSample[]): TemplateRef[] {
  return samples.map((sample) => templateRef(templateFromIso(sample.bytes)));
}

export function scoreFolder(dir: string, matcher = new MccMatcher()): FolderScores {
  const samples = loadFvcFolder(dir);
  const refs = prepareTemplates(samples);
  const pairs = fvcPairs(samples);
  return {
    name: basename(dir),
    genuine: scorePairs(matcher, refs, pairs.genuine),
    impostorAll: scorePairs(matcher, refs, pairs.impostorAll),
    impostorFvc: scorePairs(matcher, refs, pairs.impostorFvc),
  };
}

export function folderAccuracy(scores: FolderScores): FolderAccuracy {
  return {
    name: scores.name,
    allImpostors: summarizeAccuracy(scores.genuine, scores.impostorAll),
    fvcProtocol: summarizeAccuracy(scores.genuine, scores.impostorFvc),
  };
}

/** Impostor scores across folders too: every pair of samples not of the same folder and finger. */
export function crossImpostorScores(dirs: readonly string[], matcher = new MccMatcher()): Float64Array {
  const all = dirs.flatMap((dir) => loadFvcFolder(dir).map((sample) => ({ key: `${dir}\u0000${sample.finger}`, sample })));
  const refs = prepareTemplates(all.map((entry) => entry.sample));
  const scores: number[] = [];
  for (let a = 0; a < all.length; a++) {
    for (let b = a + 1; b < all.length; b++) if (all[a]!.key !== all[b]!.key) scores.push(matcher.score(refs[a]!, refs[b]!));
  }
  return Float64Array.from(scores);
}
