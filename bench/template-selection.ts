/**
 * Template selection at enrollment, measured on FVC2002 samples (part of the match bench): for every
 * finger with 8 impressions, impressions 1-3 are offered and impressions 4-8 probe. Reports the
 * share of probes reaching the identify threshold of a 1,000-finger search at FPIR 1e-3 against the
 * first impression alone and against the one template selection keeps, and the CPU of one choice.
 */
import { loadFvcFolder } from '../core/biometrics/fvc-dataset.js';
import { thresholdForFpir } from '../core/biometrics/identification-calibration.js';
import { MccMatcher, templateRef } from '../core/biometrics/mcc-matcher.js';
import { chooseImpression } from '../core/biometrics/template-selection.js';
import { matchableTemplateFromIso } from '../core/biometrics/template.js';

const OFFERED = [1, 2, 3];
const PROBES = [4, 5, 6, 7, 8];
/** The community the load test's hinted search covers. */
const SEARCH_POPULATION = 1000;
const TARGET_FPIR = 1e-3;

export interface SelectionResult {
  selectionProbes: number;
  selectionAcceptPercent: { firstImpression: number; keptOfThree: number };
  selectionCpuMsPerEnrollment: number;
}

/** `folders`: FVC database folders (finger numbers repeat across databases). */
export function templateSelectionBench(folders: readonly string[]): SelectionResult {
  const matcher = new MccMatcher();
  const threshold = thresholdForFpir(TARGET_FPIR, SEARCH_POPULATION);
  const byFinger = new Map<string, Map<number, Uint8Array>>();
  for (const folder of folders) {
    for (const sample of loadFvcFolder(folder)) {
      const key = `${folder}:${sample.finger}`;
      if (!byFinger.has(key)) byFinger.set(key, new Map());
      byFinger.get(key)!.set(sample.impression, sample.bytes);
    }
  }
  let probes = 0;
  let firstAccepted = 0;
  let keptAccepted = 0;
  let choiceCpuUs = 0;
  let choices = 0;
  for (const impressions of byFinger.values()) {
    if (![...OFFERED, ...PROBES].every((number) => impressions.has(number))) continue;
    const offered = OFFERED.map((number) => impressions.get(number)!);
    const started = process.cpuUsage();
    const { index } = chooseImpression(matcher, offered);
    const spent = process.cpuUsage(started);
    choiceCpuUs += spent.user + spent.system;
    choices++;
    const first = templateRef(matchableTemplateFromIso(offered[0]!));
    const kept = templateRef(matchableTemplateFromIso(offered[index]!));
    for (const number of PROBES) {
      const probe = templateRef(matchableTemplateFromIso(impressions.get(number)!));
      probes++;
      if (matcher.score(probe, first) >= threshold) firstAccepted++;
      if (matcher.score(probe, kept) >= threshold) keptAccepted++;
    }
  }
  const percent = (count: number) => Number(((100 * count) / Math.max(1, probes)).toFixed(1));
  return {
    selectionProbes: probes,
    selectionAcceptPercent: { firstImpression: percent(firstAccepted), keptOfThree: percent(keptAccepted) },
    selectionCpuMsPerEnrollment: Number((choiceCpuUs / 1000 / Math.max(1, choices)).toFixed(3)),
  };
}
