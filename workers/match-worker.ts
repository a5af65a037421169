/**
 * piscina tasks (pure CPU, importing only pure core/biometrics modules; at start the thread lowers
 * its priority and names itself, see below):
 *   default: search a slice of the shared gallery for one probe. The gallery SharedArrayBuffers
 *            arrive with the task and are read in place, never copied;
 *   searchIso: the same for a probe still in ISO form, converted here (off the engine's thread);
 *   searchIndexed: a whole search: the ISO probe converted, candidates from the shared index,
 *            then compared;
 *   candidates: the first half of that (probe and candidates back), when idle workers share the
 *            comparisons of a large search;
 *   convert: turn a batch of ISO records into matcher form (bulk enrollment);
 *   chooseImpression: the impression an enrollment keeps of several (template selection).
 */
import { setPriority } from 'node:os';
import { convertBatch, type ConvertResult, type ConvertTask } from '../core/biometrics/convert-batch.js';
import { searchSlice, type MatchTask, type SliceResult } from '../core/biometrics/gallery-search.js';
import { MccMatcher, templateRef } from '../core/biometrics/mcc-matcher.js';
import { chooseCandidates, searchIndexedSlice, searchIsoSlice, type IndexedMatchTask, type IsoMatchTask, type IsoSliceResult, type ProbeRefusal } from '../core/biometrics/probe-search.js';
import { chooseImpressionAnswer, type ChooseImpressionTask, type ImpressionChoice } from '../core/biometrics/template-selection.js';
import { MATCHER_THREAD_NAME, nameThisThread } from '../core/thread-names.js';

/**
 * Matching is the node's bulk CPU work; its messaging, ledger calls and timers are latency. On a
 * machine with few cores the two compete, so the matcher threads yield: niceness 10 (Linux applies
 * it to this thread only) lets the event loop run as soon as a message arrives, while an otherwise
 * idle core still goes to matching in full. BIOPAY_MATCH_NICE (0..19) overrides it; 0 turns it off.
 */
const defaultMatchNice = 10;

function lowerPriority(): void {
  const configured = Number(process.env['BIOPAY_MATCH_NICE'] ?? defaultMatchNice);
  const nice = Number.isInteger(configured) && configured >= 0 && configured <= 19 ? configured : defaultMatchNice;
  if (nice === 0) return;
  try {
    setPriority(0, nice);
  } catch {
    // Lowering one's own priority is always permitted on Linux; elsewhere it may not apply.
  }
}

lowerPriority();
nameThisThread(MATCHER_THREAD_NAME);
const matcher = new MccMatcher();

export default function matchSlice(task: MatchTask): SliceResult {
  return searchSlice(matcher, templateRef(task.probe), task);
}

export function convert(task: ConvertTask): ConvertResult {
  return convertBatch(task);
}

export function searchIso(task: IsoMatchTask): IsoSliceResult {
  return searchIsoSlice(matcher, task);
}

export function searchIndexed(task: IndexedMatchTask): IsoSliceResult {
  return searchIndexedSlice(matcher, task);
}

export function candidates(task: IndexedMatchTask): ReturnType<typeof chooseCandidates> {
  return chooseCandidates(task);
}

export function chooseImpression(task: ChooseImpressionTask): ImpressionChoice | ProbeRefusal {
  return chooseImpressionAnswer(matcher, task);
}
