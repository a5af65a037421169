/** Geofences: great-circle distance on a spherical Earth (haversine). */
import type { GeoPoint } from '../../proto/gen/biopay/v1/common.js';
import type { Geofence } from '../../proto/gen/biopay/v1/ledger.js';

/** IUGG mean Earth radius; the sphere is off by at most 0.5% against the ellipsoid. */
export const EARTH_RADIUS_M = 6_371_008.8;

const RADIANS_PER_DEGREE = Math.PI / 180;

/** Also refuses null: contexts decoded from JSON by hand may carry it. */
export function isValidGeoPoint(point: GeoPoint | null | undefined): point is GeoPoint {
  return (
    point != null &&
    Number.isFinite(point.latitudeDeg) && Math.abs(point.latitudeDeg) <= 90 &&
    Number.isFinite(point.longitudeDeg) && Math.abs(point.longitudeDeg) <= 180
  );
}

export function distanceM(a: GeoPoint, b: GeoPoint): number {
  const lat1 = a.latitudeDeg * RADIANS_PER_DEGREE;
  const lat2 = b.latitudeDeg * RADIANS_PER_DEGREE;
  const dLat = lat2 - lat1;
  const dLon = (b.longitudeDeg - a.longitudeDeg) * RADIANS_PER_DEGREE;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(lat1) * Math.cos(lat2) * Math.sin(dLon / 2) ** 2;
  // min() guards asin against rounding just above 1 for antipodal points.
  return 2 * EARTH_RADIUS_M * Math.asin(Math.min(1, Math.sqrt(h)));
}

/** Edge inclusive: a point exactly radiusM away is inside. */
export function isInsideGeofence(place: Geofence, point: GeoPoint): boolean {
  return place.center !== undefined && distanceM(place.center, point) <= place.radiusM;
}
