import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BiopayError, ErrorCode } from '../../../core/errors.js';
import { parseIsoRecord, writeIsoRecord, type IsoRecord, type Minutia } from '../../../core/biometrics/iso.js';
import { fvcDatabases, loadFvcDatabase, loadInvalidIso } from './fvc-fixtures.js';

const allFixtures = fvcDatabases.flatMap((database) => loadFvcDatabase(database));

function refusal(bytes: Uint8Array): string {
  try {
    parseIsoRecord(bytes);
  } catch (error) {
    expect(error).toBeInstanceOf(BiopayError);
    expect((error as BiopayError).code).toBe(ErrorCode.InvalidTemplate);
    return (error as BiopayError).message;
  }
  throw new Error('record was accepted');
}

/** Parses or refuses with INVALID_TEMPLATE; anything else thrown fails the property. */
function parsesOrRefuses(bytes: Uint8Array): boolean {
  try {
    parseIsoRecord(bytes);
    return true;
  } catch (error) {
    return error instanceof BiopayError && error.code === ErrorCode.InvalidTemplate && error.message.length > 0;
  }
}

function withExtendedData(base: Uint8Array, extended: number[]): Uint8Array {
  // base has one view and no extended data: replace its trailing u16 0 by the block.
  const bytes = new Uint8Array(base.length + extended.length);
  bytes.set(base.subarray(0, base.length - 2));
  new DataView(bytes.buffer).setUint16(base.length - 2, extended.length);
  bytes.set(extended, base.length);
  new DataView(bytes.buffer).setUint32(8, bytes.length);
  return bytes;
}

const minutiaArbitrary: fc.Arbitrary<Minutia> = fc.record({
  xPx: fc.integer({ min: 0, max: 299 }),
  yPx: fc.integer({ min: 0, max: 399 }),
  angleRad: fc.integer({ min: 0, max: 255 }).map((units) => (units * 2 * Math.PI) / 256),
  type: fc.constantFrom('ending' as const, 'bifurcation' as const, 'other' as const),
  quality: fc.integer({ min: 0, max: 100 }),
});

const recordArbitrary: fc.Arbitrary<IsoRecord> = fc.record({
  widthPx: fc.constant(300),
  heightPx: fc.constant(400),
  xResolutionPpcm: fc.integer({ min: 0, max: 0xffff }),
  yResolutionPpcm: fc.integer({ min: 0, max: 0xffff }),
  captureEquipment: fc.integer({ min: 0, max: 0xffff }),
  views: fc.uniqueArray(
    fc.record({
      fingerPosition: fc.integer({ min: 0, max: 10 }),
      viewNumber: fc.integer({ min: 0, max: 15 }),
      impressionType: fc.constantFrom(0, 1, 2, 3, 8, 9),
      quality: fc.integer({ min: 0, max: 100 }),
      minutiae: fc.array(minutiaArbitrary, { maxLength: 60 }),
    }),
    { minLength: 1, maxLength: 4, selector: (view) => `${view.fingerPosition}/${view.viewNumber}` },
  ),
});

describe('ISO/IEC 19794-2:2005 reader', () => {
  it('parses every FVC2002 fixture', () => {
    expect(allFixtures).toHaveLength(320);
    for (const fixture of allFixtures) {
      const record = parseIsoRecord(fixture.bytes);
      expect(record.widthPx).toBe(300);
      expect(record.heightPx).toBe(400);
      expect(record.views).toHaveLength(1);
      const [view] = record.views;
      expect(view!.minutiae.length).toBe(fixture.bytes[27]);
      for (const minutia of view!.minutiae) {
        expect(minutia.angleRad).toBeGreaterThanOrEqual(0);
        expect(minutia.angleRad).toBeLessThan(2 * Math.PI);
        expect(minutia.type === 'ending' || minutia.type === 'bifurcation').toBe(true);
      }
    }
  });

  it('refuses the truncated records with a reason', () => {
    const invalid = loadInvalidIso();
    expect(invalid.length).toBeGreaterThanOrEqual(3);
    for (const { bytes } of invalid) expect(refusal(bytes)).toMatch(/truncated/);
  });

  it('refuses every truncation of a valid record', () => {
    const bytes = allFixtures[0]!.bytes;
    for (let length = 0; length < bytes.length; length++) {
      expect(refusal(bytes.subarray(0, length))).toMatch(/truncated|length/);
    }
  });

  it('refuses trailing bytes, a wrong length and an unknown magic', () => {
    const bytes = allFixtures[0]!.bytes;
    const longer = new Uint8Array(bytes.length + 1);
    longer.set(bytes);
    expect(refusal(longer)).toMatch(/length mismatch/);
    const padded = longer.slice();
    new DataView(padded.buffer).setUint32(8, padded.length);
    expect(refusal(padded)).toMatch(/after the last finger view/);
    const notFmr = bytes.slice();
    notFmr[0] = 0x46 + 1;
    expect(refusal(notFmr)).toMatch(/magic/);
  });

  it('recognises ANSI INCITS 378 and later versions and refuses them', () => {
    const ansi = new Uint8Array(26 + 4 + 6 + 2);
    ansi.set([0x46, 0x4d, 0x52, 0, 0x20, 0x32, 0x30, 0]);
    new DataView(ansi.buffer).setUint16(8, ansi.length);
    expect(refusal(ansi)).toMatch(/ANSI INCITS 378/);
    const v030 = allFixtures[0]!.bytes.slice();
    v030.set([0x30, 0x33, 0x30, 0], 4);
    expect(refusal(v030)).toMatch(/version "030\."/);
  });

  it('refuses out-of-range fields', () => {
    const base = allFixtures[0]!.bytes;
    const mutate = (offset: number, value: number) => {
      const bytes = base.slice();
      bytes[offset] = value;
      return refusal(bytes);
    };
    expect(mutate(22, 0)).toMatch(/no finger view/);
    expect(mutate(24, 11)).toMatch(/finger position/);
    expect(mutate(25, 0x05)).toMatch(/impression type/);
    expect(mutate(26, 101)).toMatch(/quality/);
    expect(mutate(28, 0xc0)).toMatch(/reserved minutia type/);
    expect(mutate(30, 0x40)).toMatch(/reserved bits/);
    expect(mutate(28, 0x81)).toMatch(/outside/); // x = 0x1a5 > width
    expect(mutate(33, 200)).toMatch(/quality/);
  });

  it('passes over well-formed extended data and refuses a malformed one', () => {
    const base = allFixtures[0]!.bytes;
    const good = withExtendedData(base, [0x00, 0x01, 0x00, 0x07, 0xaa, 0xbb, 0xcc, 0x00, 0x02, 0x00, 0x04]);
    expect(parseIsoRecord(good)).toEqual(parseIsoRecord(base));
    const overlong = withExtendedData(base, [0x00, 0x01, 0x00, 0x09, 0xaa, 0xbb, 0xcc]);
    expect(refusal(overlong)).toMatch(/extended data block length/);
    const shortHeader = withExtendedData(base, [0x00, 0x01, 0x00]);
    expect(refusal(shortHeader)).toMatch(/extended data block header/);
  });

  it('writes back every fixture byte for byte', () => {
    for (const fixture of allFixtures) expect(writeIsoRecord(parseIsoRecord(fixture.bytes))).toEqual(fixture.bytes);
  });

  it('round-trips generated multi-view records', () => {
    fc.assert(
      fc.property(recordArbitrary, (record) => {
        expect(parseIsoRecord(writeIsoRecord(record))).toEqual(record);
      }),
      { numRuns: 300 },
    );
  });

  it('writer refuses what the format cannot carry', () => {
    const record = parseIsoRecord(allFixtures[0]!.bytes);
    const bad = (change: (copy: IsoRecord) => void) => {
      const copy = structuredClone(record);
      change(copy);
      expect(() => writeIsoRecord(copy)).toThrow(BiopayError);
    };
    bad((copy) => (copy.views[0]!.minutiae[0]!.xPx = 300));
    bad((copy) => (copy.views[0]!.minutiae[0]!.angleRad = Number.NaN));
    bad((copy) => (copy.views[0]!.quality = 101));
    bad((copy) => (copy.views = []));
    bad((copy) => copy.views.push(structuredClone(copy.views[0]!)));
  });
});

describe('ISO reader fuzzing', () => {
  const valid = fc.constantFrom(...allFixtures.map((fixture) => fixture.bytes));

  it('random bytes only ever give INVALID_TEMPLATE', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 400 }), parsesOrRefuses), { numRuns: 2000 });
  });

  it('random bytes behind a valid header only ever give INVALID_TEMPLATE', () => {
    const header = fc.uint8Array({ minLength: 0, maxLength: 400 }).map((tail) => {
      const bytes = new Uint8Array(24 + tail.length);
      bytes.set(allFixtures[0]!.bytes.subarray(0, 24));
      bytes.set(tail, 24);
      new DataView(bytes.buffer).setUint32(8, bytes.length);
      return bytes;
    });
    fc.assert(fc.property(header, parsesOrRefuses), { numRuns: 2000 });
  });

  it('truncations and mutations of valid records only ever give INVALID_TEMPLATE', () => {
    const mutated = fc
      .tuple(valid, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }), fc.nat())
      .map(([bytes, edits, cut]) => {
        const copy = bytes.slice(0, bytes.length - (cut % 4 === 0 ? cut % bytes.length : 0));
        for (const [offset, value] of edits) if (copy.length > 0) copy[offset % copy.length] = value;
        return copy;
      });
    fc.assert(fc.property(mutated, parsesOrRefuses), { numRuns: 3000 });
  });
});
