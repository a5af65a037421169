/**
 * A search task that carries the probe as the terminal sent it (ISO 19794-2 bytes): the worker
 * converts it into matcher form before searching its slice, so that the engine's thread (which
 * also runs the node's messaging) never builds cylinders. A record the matcher refuses comes back
 * as a typed refusal, not as a worker failure: errors thrown in a worker lose their code on the way
 * back to the engine's thread.
 */
import { isBiopayError } from '../errors.js';
import { searchSlice, type GallerySlice, type SliceResult } from './gallery-search.js';
import type { MccMatcher } from './mcc-matcher.js';
import { templateRef } from './mcc-matcher.js';
import { matchableTemplateFromIso } from './template.js';

export interface IsoMatchTask extends GallerySlice {
  /** Its own buffer (a view into a larger one would copy all of it into the worker). */
  probeIso: Uint8Array;
}

export interface ProbeRefusal {
  refused: { code: string; message: string };
}

export type IsoSliceResult = SliceResult | ProbeRefusal;

export function isProbeRefusal(result: IsoSliceResult): result is ProbeRefusal {
  return (result as ProbeRefusal).refused !== undefined;
}

export function searchIsoSlice(matcher: MccMatcher, task: IsoMatchTask): IsoSliceResult {
  let probe: Uint32Array;
  try {
    probe = matchableTemplateFromIso(task.probeIso);
  } catch (error) {
    if (!isBiopayError(error)) throw error;
    return { refused: { code: error.code, message: error.message } };
  }
  return searchSlice(matcher, templateRef(probe), task);
}
