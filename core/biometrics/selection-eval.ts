/**
 * Template selection measured on FVC samples: for every finger with 8 impressions, impressions 1-3
 * are offered at enrollment and impressions 4-8 probe. Counts the probes reaching the identify
 * threshold of a `population`-finger search at `targetFpir` against the first impression alone and
 * against the one template selection keeps, and the CPU of the choices. Used by the match bench
 * and its test.
 */
import { loadFvcFolder } from './fvc-dataset.js';
import { thresholdForFpir } from './identification-calibration.js';
import { MccMatcher, templateRef } from './mcc-matcher.js';
import { chooseImpression } from './template-selection.js';
import { matchableTemplateFromIso } from './template.js';

const OFFERED = [1, 2, 3];
const PROBES = [4, 5, 6, 7, 8];

export interface SelectionEvaluation {
  probes: number;
  acceptedByFirstImpression: number;
  acceptedByKept: number;
  choices: number;
  choiceCpuMs: number;
}

/** `folders`: FVC database folders (finger numbers repeat across databases). */
export function evaluateTemplateSelection(folders: readonly string[], population: number, targetFpir: number): SelectionEvaluation {
  const matcher = new MccMatcher();
  const threshold = thresholdForFpir(targetFpir, population);
  const result: SelectionEvaluation = { probes: 0, acceptedByFirstImpression: 0, acceptedByKept: 0, choices: 0, choiceCpuMs: 0 };
  for (const impressions of fingersOf(folders)) {
    if (![...OFFERED, ...PROBES].every((number) => impressions.has(number))) continue;
    const offered = OFFERED.map((number) => impressions.get(number)!);
    const started = process.cpuUsage();
    const { index } = chooseImpression(matcher, offered);
    const spent = process.cpuUsage(started);
    result.choiceCpuMs += (spent.user + spent.system) / 1000;
    result.choices++;
    const first = templateRef(matchableTemplateFromIso(offered[0]!));
    const kept = templateRef(matchableTemplateFromIso(offered[index]!));
    for (const number of PROBES) {
      const probe = templateRef(matchableTemplateFromIso(impressions.get(number)!));
      result.probes++;
      if (matcher.score(probe, first) >= threshold) result.acceptedByFirstImpression++;
      if (matcher.score(probe, kept) >= threshold) result.acceptedByKept++;
    }
  }
  return result;
}

/** Each finger's impressions by number, finger by finger. */
function fingersOf(folders: readonly string[]): Map<number, Uint8Array>[] {
  const byFinger = new Map<string, Map<number, Uint8Array>>();
  for (const folder of folders) {
    for (const sample of loadFvcFolder(folder)) {
      const key = `${folder}:${sample.finger}`;
      if (!byFinger.has(key)) byFinger.set(key, new Map());
      byFinger.get(key)!.set(sample.impression, sample.bytes);
    }
  }
  return [...byFinger.values()];
}
