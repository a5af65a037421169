import { Worker } from 'node:worker_threads';
import fc from 'fast-check';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isBiopayError } from '../../../core/errors.js';
import { thresholdForFmr } from '../../../core/biometrics/calibration.js';
import { parseIsoRecord, writeIsoRecord } from '../../../core/biometrics/iso.js';
import { MccMatcher, matcherKernelSetting, templateRef, type TemplateRef } from '../../../core/biometrics/mcc-matcher.js';
import { defaultMccParams } from '../../../core/biometrics/mcc-params.js';
import { loadNativeKernel, matcherKernelName } from '../../../core/biometrics/native-kernel.js';
import { SimdLocalStage } from '../../../core/biometrics/simd-local-stage.js';
import { templateFromIso, templateLayoutTag, templateOffsets, templateWords } from '../../../core/biometrics/template.js';
import { fvcDatabases, loadFvcDatabase } from './fvc-fixtures.js';

const db1 = loadFvcDatabase('DB1_B');
const matcher = new MccMatcher();
const refs = db1.map((sample) => templateRef(templateFromIso(sample.bytes)));

/** The same record seen rotated by `angleRad` about the image centre and shifted, minus some minutiae. */
function moved(bytes: Uint8Array, angleRad: number, dxPx: number, dyPx: number, keepEvery: number): Uint8Array {
  const record = parseIsoRecord(bytes);
  const cx = record.widthPx / 2;
  const cy = record.heightPx / 2;
  const view = record.views[0]!;
  const cos = Math.cos(angleRad);
  const sin = Math.sin(angleRad);
  const minutiae = view.minutiae
    .filter((_, index) => index % keepEvery !== keepEvery - 1)
    .map((minutia) => {
      // Image rows grow downwards, so a counter-clockwise turn is (x, -y) rotated.
      const x = minutia.xPx - cx;
      const y = -(minutia.yPx - cy);
      return {
        ...minutia,
        xPx: Math.round(cx + cos * x - sin * y + dxPx),
        yPx: Math.round(cy - (sin * x + cos * y) + dyPx),
        angleRad: minutia.angleRad + angleRad,
      };
    })
    .filter((minutia) => minutia.xPx >= 0 && minutia.xPx < record.widthPx && minutia.yPx >= 0 && minutia.yPx < record.heightPx);
  return writeIsoRecord({ ...record, views: [{ ...view, minutiae }] });
}

describe('MCC matcher', () => {
  it('accepts most genuine pairs and rejects impostors at the calibrated threshold (DB1)', () => {
    const threshold = thresholdForFmr(1e-3);
    let genuine = 0;
    let genuineAccepted = 0;
    let impostor = 0;
    let impostorAccepted = 0;
    for (let a = 0; a < db1.length; a++) {
      for (let b = a + 1; b < db1.length; b++) {
        const accepted = matcher.score(refs[a]!, refs[b]!) >= threshold;
        if (db1[a]!.finger === db1[b]!.finger) {
          genuine++;
          if (accepted) genuineAccepted++;
        } else {
          impostor++;
          if (accepted) impostorAccepted++;
        }
      }
    }
    expect(genuine).toBe(280);
    expect(impostor).toBe(2880);
    expect(genuineAccepted / genuine).toBeGreaterThan(0.8);
    expect(impostorAccepted / impostor).toBeLessThan(0.005);
  });

  // Rotations beyond the direction filter (60 degrees) are not sought.
  it('is tolerant of rotation, translation and missing minutiae', () => {
    const threshold = thresholdForFmr(1e-4);
    const cases = [
      [0.5, 20, -15, 5],
      [-0.8, -25, 10, 4],
      [0.9, 0, 30, 6],
    ] as const;
    for (const sample of db1.filter((_, index) => index % 8 === 0)) {
      const original = templateRef(templateFromIso(sample.bytes));
      for (const [angle, dx, dy, keepEvery] of cases) {
        const changed = templateRef(templateFromIso(moved(sample.bytes, angle, dx, dy, keepEvery)));
        expect(matcher.score(original, changed)).toBeGreaterThan(threshold);
      }
    }
  });

  it('computes the same scores with the WebAssembly SIMD stage as with the JavaScript one', () => {
    const simd = new MccMatcher(undefined, { useNative: false });
    const reference = new MccMatcher(undefined, { useNative: false, useSimd: false });
    expect(simd.kernelName).toBe('wasm-simd');
    for (let a = 0; a < refs.length; a += 7) {
      for (let b = 0; b < refs.length; b += 3) expect(simd.score(refs[a]!, refs[b]!)).toBe(reference.score(refs[a]!, refs[b]!));
    }
  });

  it('handles the largest templates (255 minutiae, kept to the 128 nearest the centre)', () => {
    const bytes = randomRecord(255, 12345);
    const dense = templateFromIso(bytes);
    expect(dense[1]).toBeLessThanOrEqual(128);
    const reference = new MccMatcher(undefined, { useNative: false, useSimd: false });
    const self = templateRef(dense);
    const copy = templateRef(dense.slice());
    expect(matcher.score(self, copy)).toBe(reference.score(self, copy));
    expect(matcher.score(self, copy)).toBeGreaterThan(0.9);
    expect(matcher.score(refs[0]!, self)).toBe(reference.score(refs[0]!, self));
  });

  it('scores a template against itself highest and an empty one at zero', () => {
    const self = matcher.score(refs[0]!, refs[0]!);
    expect(self).toBeGreaterThan(matcher.score(refs[0]!, refs[1]!));
    const empty = templateRef(new Uint32Array([templateLayoutTag, 0]));
    expect(matcher.score(refs[0]!, empty)).toBe(0);
    expect(matcher.score(empty, refs[0]!)).toBe(0);
  });
});

/** A record of `count` minutiae at random places, directions spread over the whole circle. */
function randomRecord(count: number, seed: number): Uint8Array {
  const next = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
  const minutiae = Array.from({ length: count }, () => ({
    xPx: 40 + Math.floor(next() * 220),
    yPx: 40 + Math.floor(next() * 320),
    // Whole ISO steps (360/256 degrees) include 0 and the last step before 2 pi, and repeat.
    angleRad: (Math.floor(next() * 256) * 2 * Math.PI) / 256,
    type: 'ending' as const,
    quality: 0,
  }));
  return writeIsoRecord({ widthPx: 300, heightPx: 400, xResolutionPpcm: 197, yResolutionPpcm: 197, captureEquipment: 0, views: [{ fingerPosition: 0, viewNumber: 0, impressionType: 0, quality: 0, minutiae }] });
}

describe('SIMD local stage', () => {
  it('visits exactly the pairs within the direction limit, across 0 and 2 pi, and chains each key once', () => {
    const stage = SimdLocalStage.create();
    expect(stage).toBeDefined();
    const templates = [...[3, 8, 20, 45, 90].map((count, index) => templateFromIso(randomRecord(count, 1000 + index))), ...db1.slice(0, 6).map((sample) => templateFromIso(sample.bytes))];
    const maxDiff = Math.PI / 3;
    for (const a of templates) {
      for (const b of templates) {
        const nA = a[1]!;
        const nB = b[1]!;
        const at = templateOffsets(0, nA, 8);
        const bt = templateOffsets(0, nB, 8);
        const count = stage!.compare(a, at.theta, nA, b, bt.theta, nB, maxDiff, -1);
        const seen: number[] = [];
        for (let bucket = 0; bucket < 256; bucket++) {
          for (let index = stage!.heads[bucket]!; index >= 0; index = stage!.next[index]!) seen.push(stage!.keys[index]! & 0xffff);
        }
        const af = new Float32Array(a.buffer);
        const bf = new Float32Array(b.buffer);
        const expected: number[] = [];
        for (let i = 0; i < nA; i++) {
          for (let j = 0; j < nB; j++) {
            let d = Math.abs(af[at.theta + i]! - bf[bt.theta + j]!);
            if (d > Math.PI) d = 2 * Math.PI - d;
            if (d <= maxDiff && af[at.norm + i]! + bf[bt.norm + j]! !== 0) expected.push((i << 8) | j);
          }
        }
        expect(seen.length).toBe(count);
        expect(seen.sort((x, y) => x - y)).toEqual(expected);
      }
    }
  });
});

/** Templates back to back in one SharedArrayBuffer, as a gallery holds them, and their word offsets. */
function packGallery(templates: readonly Uint32Array[]): { gallery: TemplateRef; bases: Int32Array } {
  const words = new Uint32Array(new SharedArrayBuffer(4 * templates.reduce((sum, template) => sum + template.length, 0)));
  const bases = new Int32Array(templates.length);
  let at = 0;
  templates.forEach((template, index) => {
    words.set(template, at);
    bases[index] = at;
    at += template.length;
  });
  return { gallery: { words, floats: new Float32Array(words.buffer), base: 0 }, bases };
}

function expectInvalidTemplate(run: () => void): void {
  let thrown: unknown;
  try {
    run();
  } catch (error) {
    thrown = error;
  }
  expect(isBiopayError(thrown, 'INVALID_TEMPLATE'), String(thrown)).toBe(true);
}

describe('native comparison kernel', () => {
  // `npm ci` builds the addon wherever node-gyp finds a C++ compiler, make and python3; elsewhere
  // the install falls back (and so must the matcher).
  const toolchain = spawnSync('sh', ['-c', 'command -v c++ && command -v make && command -v python3'], { stdio: 'ignore' }).status === 0;
  const nativeWanted = process.env['BIOPAY_NATIVE_MATCHER'] !== '0' && toolchain;
  // Every FVC2002 fixture, plus dense and sparse random templates (directions over the whole circle).
  const fvc = fvcDatabases.flatMap((database) => loadFvcDatabase(database).map((sample) => templateFromIso(sample.bytes)));
  const random = [3, 8, 20, 45, 90, 255].map((count, index) => templateFromIso(randomRecord(count, 2000 + index)));
  const templates = [...fvc, ...random];
  const reference = new MccMatcher(defaultMccParams, { useNative: false, useSimd: false });

  // The tests below hold for whichever kernel a default matcher runs; this one makes sure that
  // on the project's machines (where `npm ci` builds the addon) it is the native one.
  it('is built and loaded where a C++ toolchain is, unless BIOPAY_NATIVE_MATCHER=0', () => {
    expect(loadNativeKernel() !== undefined).toBe(nativeWanted);
    expect(new MccMatcher().isNative).toBe(nativeWanted);
    expect(matcherKernelName()).toBe(nativeWanted ? 'native' : 'wasm-simd');
    expect(new MccMatcher(defaultMccParams, { useNative: false }).isNative).toBe(false);
  });

  // The native local stage runs eight pairs at a time where the CPU has AVX-512 VPOPCNTDQ (and
  // two elsewhere); both widths run the exactness tests below, and so does the WebAssembly stage
  // of machines without the addon. Linux says which CPU this is.
  const cpuInfo = existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : undefined;
  const cpuFlags = cpuInfo?.match(/^flags\s*:(.*)$/m)?.[1]?.split(/\s+/) ?? [];
  const wideCpu = process.arch === 'x64' && ['avx512f', 'avx512vl', 'avx512dq', 'avx512_vpopcntdq'].every((flag) => cpuFlags.includes(flag));
  const widths = [
    { name: 'the widest local stage', options: {} },
    { name: 'the two-wide local stage', options: { nativeWide: false } },
    { name: 'the WebAssembly local stage', options: { useNative: false } },
  ];

  it('runs its local stage eight pairs at a time on a CPU with AVX-512 VPOPCNTDQ, unless told not to', () => {
    const narrow = process.arch === 'x64' ? 'sse2' : 'scalar';
    // Elsewhere than Linux an x64 CPU may have either.
    const widest = cpuInfo === undefined && process.arch === 'x64' ? (new MccMatcher().nativeLocalStage ?? narrow) : wideCpu ? 'avx512' : narrow;
    expect([narrow, 'avx512']).toContain(widest);
    expect(new MccMatcher().nativeLocalStage).toBe(nativeWanted ? widest : undefined);
    expect(new MccMatcher(defaultMccParams, { nativeWide: false }).nativeLocalStage).toBe(nativeWanted ? narrow : undefined);
    expect(new MccMatcher(defaultMccParams, { useNative: false }).nativeLocalStage).toBeUndefined();
    // What load reports record as the embedded network's matcherKernel.
    expect(matcherKernelSetting()).toBe(nativeWanted ? `native-${widest}` : 'wasm-simd');
  });

  it('loads in a worker thread too', async () => {
    const worker = new Worker(new URL('./native-kernel-worker.mjs', import.meta.url));
    try {
      const name = await new Promise((resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
      });
      expect(name).toBe(matcherKernelName());
    } finally {
      await worker.terminate();
    }
  });

  it.each(widths)('gives exactly the JavaScript scores over every pair of the FVC2002 fixtures and random templates ($name)', ({ options }) => {
    const matcher = new MccMatcher(defaultMccParams, options);
    const { gallery, bases } = packGallery(templates);
    const scores = new Float64Array(templates.length);
    let differing = 0;
    let compared = 0;
    for (const probe of templates) {
      matcher.scoreMany(templateRef(probe), gallery, bases, templates.length, scores);
      for (let index = 0; index < templates.length; index++) {
        const expected = reference.score(templateRef(probe), { ...gallery, base: bases[index]! });
        if (scores[index] !== expected) differing++;
        compared++;
      }
    }
    expect(compared).toBe(326 * 326);
    expect(differing).toBe(0);
  });

  // Hostile numbers too: NaN, infinities, huge coordinates and norms, unsorted directions. The
  // kernels must agree even where JavaScript's `| 0` wraps or a table read falls off an end.
  it.each(widths)('gives exactly the JavaScript score for arbitrary template contents ($name)', ({ options }) => {
    const matcher = new MccMatcher(defaultMccParams, options);
    const field = fc.oneof(
      fc.double({ min: -10, max: 10, noNaN: true }),
      fc.double({ min: -500, max: 500, noNaN: true }),
      // ±1e-6 as norms scale a similarity past int32, where JavaScript's `| 0` wraps.
      fc.constantFrom(NaN, Infinity, -Infinity, 0, -0, 1e30, -3e9, Math.PI, 2 * Math.PI, 1e-40, 1e-6, -1e-6),
    );
    // Up to maxMinutiae (128): direction windows across two 64-bit words of the wide kernel's mask.
    const template = fc.integer({ min: 1, max: defaultMccParams.maxMinutiae }).chain((n) =>
      fc.record({
        fields: fc.array(field, { minLength: 4 * n, maxLength: 4 * n }),
        bits: fc.array(fc.integer({ min: 0, max: 0xffffffff }), { minLength: 8 * n, maxLength: 8 * n }),
        sorted: fc.boolean(),
      }),
    );
    const build = ({ fields, bits, sorted }: { fields: number[]; bits: number[]; sorted: boolean }): TemplateRef => {
      const n = fields.length / 4;
      const words = new Uint32Array(templateWords(n, 8));
      const floats = new Float32Array(words.buffer);
      words[0] = templateLayoutTag;
      words[1] = n;
      floats.set(fields, 2);
      if (sorted) floats.set(floats.slice(2 + 2 * n, 2 + 3 * n).sort(), 2 + 2 * n);
      words.set(bits, 2 + 4 * n);
      return templateRef(words);
    };
    fc.assert(
      fc.property(template, template, (a, b) => {
        const [refA, refB] = [build(a), build(b)];
        expect(Object.is(matcher.score(refA, refB), reference.score(refA, refB))).toBe(true);
      }),
      { numRuns: 2000, seed: 4 },
    );
  });

  it('scores a batch exactly as one by one, and as the portable batch does', () => {
    const matcher = new MccMatcher();
    const portable = new MccMatcher(defaultMccParams, { useNative: false });
    const { gallery, bases } = packGallery(templates);
    const batch = new Float64Array(templates.length);
    const portableBatch = new Float64Array(templates.length);
    for (const probe of templates.filter((_, index) => index % 29 === 0)) {
      matcher.scoreMany(templateRef(probe), gallery, bases, templates.length, batch);
      portable.scoreMany(templateRef(probe), gallery, bases, templates.length, portableBatch);
      bases.forEach((base, index) => expect(batch[index]).toBe(matcher.score(templateRef(probe), { ...gallery, base })));
      expect(Array.from(batch)).toEqual(Array.from(portableBatch));
    }
    // A count below the arrays' lengths scores only that many.
    batch.fill(-1);
    matcher.scoreMany(templateRef(templates[0]!), gallery, bases, 2, batch);
    expect(batch[1]).toBeGreaterThanOrEqual(0);
    expect(batch[2]).toBe(-1);
  });

  it('refuses templates outside their arrays or with too many minutiae, on both kernels', () => {
    const { gallery, bases } = packGallery(templates.slice(0, 4));
    const probe = templateRef(templates[0]!);
    const out = new Float64Array(4);
    const length = gallery.words.length;
    const oversized = templates[0]!.slice();
    oversized[1] = defaultMccParams.maxMinutiae + 1;
    const padded = new Uint32Array(4 * 1024 * 1024);
    padded.set(oversized);
    for (const matcher of [new MccMatcher(), new MccMatcher(defaultMccParams, { useNative: false })]) {
      for (const base of [-1, length, length - 1, bases[3]! + 1, 0x7fffffff]) {
        expectInvalidTemplate(() => matcher.scoreMany(probe, gallery, Int32Array.of(bases[0]!, base), 2, out));
        expectInvalidTemplate(() => matcher.score(probe, { ...gallery, base }));
      }
      expectInvalidTemplate(() => matcher.score(templateRef(padded), probe));
      expectInvalidTemplate(() => matcher.score(probe, templateRef(padded)));
      expectInvalidTemplate(() => matcher.score(templateRef(templates[0]!.subarray(0, 40)), probe));
      expectInvalidTemplate(() => matcher.score({ ...probe, base: 1.5 }, probe));
      expect(() => matcher.scoreMany(probe, gallery, bases, 5, out)).toThrow(/count/);
      // The matcher still works after refusing.
      matcher.scoreMany(probe, gallery, bases, 4, out);
      expect(out[0]).toBe(reference.score(probe, probe));
    }
  });
});
