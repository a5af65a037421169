import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { checkPolicy, distanceM } from '../../../core/policy/index.js';
import type { GeoPoint } from '../../../proto/gen/biopay/v1/common.js';
import { context, input, restricted } from './policy-fixtures.js';

const berlin: GeoPoint = { latitudeDeg: 52.52, longitudeDeg: 13.405 };

describe('distanceM', () => {
  it.each([
    ['one degree of latitude', { latitudeDeg: 0, longitudeDeg: 0 }, { latitudeDeg: 1, longitudeDeg: 0 }, 111_195],
    ['one degree of longitude at the equator', { latitudeDeg: 0, longitudeDeg: 0 }, { latitudeDeg: 0, longitudeDeg: 1 }, 111_195],
    ['across the antimeridian', { latitudeDeg: 0, longitudeDeg: 179.5 }, { latitudeDeg: 0, longitudeDeg: -179.5 }, 111_195],
    ['Berlin to Paris', berlin, { latitudeDeg: 48.8566, longitudeDeg: 2.3522 }, 877_500],
    ['antipodes', { latitudeDeg: 0, longitudeDeg: 0 }, { latitudeDeg: 0, longitudeDeg: 180 }, 20_015_087],
  ])('%s', (_name, a, b, expectedM) => {
    expect(Math.abs(distanceM(a, b) - expectedM)).toBeLessThan(expectedM * 0.001);
  });

  it('is symmetric, non-negative and zero on the same point', () => {
    const point = fc.record({
      latitudeDeg: fc.double({ min: -90, max: 90, noNaN: true }),
      longitudeDeg: fc.double({ min: -180, max: 180, noNaN: true }),
    });
    fc.assert(fc.property(point, point, (a, b) => {
      expect(distanceM(a, b)).toBeGreaterThanOrEqual(0);
      expect(distanceM(a, b)).toBe(distanceM(b, a));
      expect(distanceM(a, a)).toBe(0);
    }));
  });
});

describe('PLACE in checkPolicy', () => {
  const shop: GeoPoint = { latitudeDeg: 52.5201, longitudeDeg: 13.405 };
  const exactM = distanceM(berlin, shop); // about 11 m
  const place = (radiusM: number) => restricted({ places: [{ center: berlin, radiusM }] });
  const codes = (radiusM: number, location: GeoPoint | undefined): string[] =>
    checkPolicy(input(place(radiusM), { context: context({ location }) })).map((r) => r.code);

  it('the edge is inside: distance == radius passes', () => {
    expect(codes(exactM, shop)).toEqual([]);
  });

  it('just outside the edge is refused', () => {
    expect(codes(exactM * (1 - 1e-9), shop)).toEqual(['PLACE']);
  });

  it('the center is inside', () => {
    expect(codes(1, berlin)).toEqual([]);
  });

  it('any of several places is enough', () => {
    const policy = restricted({ places: [{ center: { latitudeDeg: 0, longitudeDeg: 0 }, radiusM: 10 }, { center: berlin, radiusM: 100 }] });
    expect(checkPolicy(input(policy, { context: context({ location: shop }) }))).toEqual([]);
  });

  it.each([
    ['no location', undefined],
    ['latitude out of range', { latitudeDeg: 91, longitudeDeg: 0 }],
    ['NaN longitude', { latitudeDeg: 0, longitudeDeg: Number.NaN }],
  ])('refuses PLACE with %s', (_name, location) => {
    const refusals = checkPolicy(input(place(1000), { context: context({ location }) }));
    expect(refusals).toEqual([{ code: 'PLACE', message: 'allowed places only, and this terminal sent no valid location' }]);
  });

  it('tells how far outside the nearest place the payment is', () => {
    const [refusal] = checkPolicy(input(place(100), { context: context({ location: { latitudeDeg: 52.525, longitudeDeg: 13.405 } }) }));
    expect(refusal?.message).toBe('not an allowed place: 456 m outside the nearest one');
    const [far] = checkPolicy(input(place(100), { context: context({ location: { latitudeDeg: 48.8566, longitudeDeg: 2.3522 } }) }));
    expect(far?.message).toMatch(/^not an allowed place: 87\d\.\d km outside the nearest one$/);
  });

  it('without places any location (or none) passes', () => {
    expect(checkPolicy(input(restricted(), { context: context({ location: undefined }) }))).toEqual([]);
  });
});
