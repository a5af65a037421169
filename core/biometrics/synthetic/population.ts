/**
 * Populations of synthetic fingers for scale and load tests: finger f (from 1) of population seed
 * s is always the same finger, and impression i (from 1) of it always the same record, so a test
 * can enroll impression 1 of 100,000 fingers and probe with impression 2 of any of them without
 * storing anything.
 */
import { BiopayError, ErrorCode } from '../../errors.js';
import type { IsoRecord } from '../iso.js';
import { generateImpression, impressionSettings, type ImpressionOptions } from './impression.js';
import { generateMasterFinger, type MasterFinger, type MasterFingerOptions } from './master-finger.js';
import { checkSeed, deriveSeed } from './random.js';

export interface PopulationOptions {
  fingers: number;
  impressionsPerFinger: number;
  seed: number;
  /** First finger id (default 1): lets a population be generated in shards. */
  firstFinger?: number;
  master?: MasterFingerOptions;
  impression?: ImpressionOptions;
}

export interface PopulationRecord {
  fingerId: number;
  impression: number;
  record: IsoRecord;
}

export const maxPopulationFingers = 100_000_000;
export const maxImpressionsPerFinger = 1000;

function checkCount(value: number, low: number, high: number, what: string): void {
  if (!Number.isInteger(value) || value < low || value > high) {
    throw new BiopayError(ErrorCode.BadRequest, `${what} must be an integer in [${low}, ${high}], got ${String(value)}`);
  }
}

/** The master finger `fingerId` (from 1) of a population. */
export function populationFinger(seed: number, fingerId: number, options?: MasterFingerOptions): MasterFinger {
  checkSeed(seed);
  checkCount(fingerId, 1, maxPopulationFingers, 'finger id');
  return generateMasterFinger(deriveSeed(seed, fingerId), options);
}

/** Impression `impression` (from 1) of a population's master finger. */
export function populationImpression(seed: number, master: MasterFinger, fingerId: number, impression: number, options?: ImpressionOptions): IsoRecord {
  checkCount(impression, 1, maxImpressionsPerFinger, 'impression');
  return generateImpression(master, deriveSeed(seed, fingerId, impression), options);
}

/** Every impression of every finger, finger by finger (each master is generated once). */
export function* generatePopulation(options: PopulationOptions): Generator<PopulationRecord> {
  const first = options.firstFinger ?? 1;
  checkSeed(options.seed);
  checkCount(first, 1, maxPopulationFingers, 'firstFinger');
  checkCount(options.fingers, 0, maxPopulationFingers - first + 1, 'fingers');
  checkCount(options.impressionsPerFinger, 1, maxImpressionsPerFinger, 'impressionsPerFinger');
  // Refuse bad options before the first record rather than midway through a long run.
  impressionSettings(options.impression);
  for (let fingerId = first; fingerId < first + options.fingers; fingerId++) {
    const master = populationFinger(options.seed, fingerId, options.master);
    for (let impression = 1; impression <= options.impressionsPerFinger; impression++) {
      yield { fingerId, impression, record: populationImpression(options.seed, master, fingerId, impression, options.impression) };
    }
  }
}
