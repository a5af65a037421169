/** Synthetic fingerprints for scale and load tests: master fingers, impressions, populations. */
export { makeRandom, deriveSeed, type Random } from './random.js';
export { orientationAt, type OrientationField, type PatternClass } from './orientation.js';
export { generateMasterFinger, type MasterFinger, type MasterFingerOptions, type MasterMinutia } from './master-finger.js';
export { generateImpression, defaultImpressionOptions, type ImpressionOptions } from './impression.js';
export { generatePopulation, populationFinger, populationImpression, type PopulationOptions, type PopulationRecord } from './population.js';
