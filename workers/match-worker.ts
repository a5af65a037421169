/**
 * piscina task: search a slice of the shared gallery for one probe (pure CPU). The gallery
 * SharedArrayBuffers arrive with the task and are read in place, never copied.
 */
import { searchSlice, type GallerySlice, type SliceResult } from '../core/biometrics/gallery-search.js';
import { MccMatcher, templateRef } from '../core/biometrics/mcc-matcher.js';

export interface MatchTask extends GallerySlice {
  probe: Uint32Array;
}

const matcher = new MccMatcher();

export default function matchSlice(task: MatchTask): SliceResult {
  return searchSlice(matcher, templateRef(task.probe), task);
}
