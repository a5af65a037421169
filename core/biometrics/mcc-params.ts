/**
 * Parameters of our Minutia Cylinder-Code matcher (Cappelli, Ferrara, Maltoni, "Minutia
 * Cylinder-Code: a new representation and matching technique for fingerprint recognition",
 * IEEE TPAMI 32(12), 2010), bit-vector variant with LSS-R consolidation. Departures from the
 * paper, measured on FVC2002 for speed at equal accuracy: 8 x 8 x 4 cells (256 bits), cylinders
 * compared only for directions within 60 degrees, similarity without per-cell validity masks
 * (validity only decides whether a cylinder is usable), at most 16 pairs relaxed for 3 iterations
 * with a wider distance tolerance. These were tuned on the same FVC2002 sets we report on (there is
 * no held-out set yet), so expect somewhat worse figures on unseen data.
 *
 * The paper's values are for 500 dpi images; the FVC2002 templates we calibrate on were extracted
 * after a resize to 300 x 400 pixels, so lengths are scaled. Changing any value here changes every
 * score: recalibrate (bench/match.ts, core/biometrics/calibration.json) after an edit.
 */
export interface MccParams {
  /** Cylinder radius. */
  radiusPx: number;
  /** Spatial cells per side (Ns). */
  spatialCells: number;
  /** Directional cells (Nd). */
  directionCells: number;
  /** Spatial Gaussian sigma. */
  sigmaSpatialPx: number;
  /** Directional Gaussian sigma. */
  sigmaDirectionRad: number;
  /** A cell bit is set when the summed contribution exceeds this. */
  bitThreshold: number;
  /** Convex hull enlargement when deciding whether a cell lies on the finger. */
  hullMarginPx: number;
  /** Minimum share of valid cells for a cylinder to be used. */
  minValidCellShare: number;
  /** Minimum neighbours within reach for a cylinder to be used. */
  minNeighbours: number;
  /** Largest direction difference of two minutiae whose cylinders are compared. */
  maxDirectionDiffRad: number;
  /** Local pairs at or below this similarity are not considered at all. */
  minLocalSimilarity: number;
  /** Relaxation: compatibility sigmoids (distance, relative direction, radial angle). */
  relaxDistanceMuPx: number;
  relaxDistanceTau: number;
  relaxAngleMuRad: number;
  relaxAngleTau: number;
  relaxIterations: number;
  /** Pairs entering relaxation: the best min(nA, nB) local pairs, at most this many. */
  maxRelaxPairs: number;
  relaxWeight: number;
  /** Number of pairs averaged for the score: minPairs..maxPairs by a sigmoid of the minutia count. */
  minPairs: number;
  maxPairs: number;
  pairsMu: number;
  pairsTau: number;
  /** Templates with more minutiae keep this many, nearest to their centroid. */
  maxMinutiae: number;
}

const scale = 0.8;

export const defaultMccParams: Readonly<MccParams> = Object.freeze({
  radiusPx: 70 * scale,
  spatialCells: 8,
  directionCells: 4,
  sigmaSpatialPx: (28 / 3) * scale,
  sigmaDirectionRad: (2 * Math.PI) / 9,
  bitThreshold: 0.01,
  hullMarginPx: 50 * scale,
  minValidCellShare: 0.75,
  minNeighbours: 2,
  maxDirectionDiffRad: Math.PI / 3,
  // Above 0 (0.3-0.35 measured) the EER improves slightly but the impostor tail gets heavier:
  // FNMR at FMR 0.1% and the FMR 1e-5 threshold both about double.
  minLocalSimilarity: 0,
  // Wider than the paper's 5 px: these templates carry more positional noise (tuned on FVC2002).
  relaxDistanceMuPx: 7,
  relaxDistanceTau: -8 / 5,
  relaxAngleMuRad: Math.PI / 12,
  relaxAngleTau: -30,
  relaxIterations: 3,
  maxRelaxPairs: 16,
  relaxWeight: 0.5,
  minPairs: 4,
  maxPairs: 12,
  pairsMu: 20,
  pairsTau: 2 / 5,
  maxMinutiae: 128,
});

/** 32-bit words per cylinder bit vector. */
export function cylinderWords(params: MccParams): number {
  return Math.ceil((params.spatialCells * params.spatialCells * params.directionCells) / 32);
}
