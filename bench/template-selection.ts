/**
 * Template selection at enrollment, in the match bench: FVC2002 impressions 1-3 offered, 4-8
 * probed, at the identify threshold of the load test's hinted search (a 1,000-finger community,
 * FPIR 1e-3); see core/biometrics/selection-eval.ts.
 */
import { evaluateTemplateSelection } from '../core/biometrics/selection-eval.js';

const SEARCH_POPULATION = 1000;
const TARGET_FPIR = 1e-3;

export function templateSelectionBench(folders: readonly string[]) {
  const evaluation = evaluateTemplateSelection(folders, SEARCH_POPULATION, TARGET_FPIR);
  const percent = (count: number) => Number(((100 * count) / Math.max(1, evaluation.probes)).toFixed(1));
  return {
    selectionProbes: evaluation.probes,
    selectionAcceptPercent: { firstImpression: percent(evaluation.acceptedByFirstImpression), keptOfThree: percent(evaluation.acceptedByKept) },
    selectionCpuMsPerEnrollment: Number((evaluation.choiceCpuMs / Math.max(1, evaluation.choices)).toFixed(3)),
  };
}
