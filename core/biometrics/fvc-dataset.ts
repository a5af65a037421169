/**
 * FVC-style folders (`FINGER_IMPRESSION.iso`) and their comparison protocols: genuine pairs are all
 * pairs of impressions of one finger; impostor pairs are all pairs of impressions of different
 * fingers, or (the FVC short protocol) only of first impressions.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BiopayError, ErrorCode } from '../errors.js';

export interface FvcSample {
  id: string;
  finger: string;
  impression: number;
  bytes: Uint8Array;
}

export interface FvcPairs {
  genuine: [number, number][];
  impostorAll: [number, number][];
  impostorFvc: [number, number][];
}

const fvcName = /^([A-Za-z0-9-]+)_(\d+)\.iso$/;
const maxFolderFiles = 100_000;

export function loadFvcFolder(dir: string): FvcSample[] {
  const names = readdirSync(dir).filter((name) => fvcName.test(name)).sort();
  if (names.length === 0) throw new BiopayError(ErrorCode.BadRequest, `no FINGER_IMPRESSION.iso files in ${dir}`);
  if (names.length > maxFolderFiles) throw new BiopayError(ErrorCode.BadRequest, `more than ${maxFolderFiles} templates in ${dir}`);
  return names.map((name) => {
    const [, finger, impression] = fvcName.exec(name)!;
    return { id: name.slice(0, -4), finger: finger!, impression: Number(impression), bytes: new Uint8Array(readFileSync(join(dir, name))) };
  });
}

/** Every `*.iso` file of a folder, its name without extension as id. */
export function loadTemplateFolder(dir: string): { id: string; bytes: Uint8Array }[] {
  const names = readdirSync(dir).filter((name) => name.endsWith('.iso')).sort();
  if (names.length > maxFolderFiles) throw new BiopayError(ErrorCode.BadRequest, `more than ${maxFolderFiles} templates in ${dir}`);
  return names.map((name) => ({ id: name.slice(0, -4), bytes: new Uint8Array(readFileSync(join(dir, name))) }));
}

/** A folder of FVC templates, or a folder of such folders (one per database). */
export function fvcFolders(dir: string): string[] {
  const entries = readdirSync(dir, { withFileTypes: true });
  if (entries.some((entry) => entry.isFile() && fvcName.test(entry.name))) return [dir];
  const folders = entries.filter((entry) => entry.isDirectory()).map((entry) => join(dir, entry.name)).sort();
  const withTemplates = folders.filter((folder) => readdirSync(folder).some((name) => fvcName.test(name)));
  if (withTemplates.length === 0) throw new BiopayError(ErrorCode.BadRequest, `no FINGER_IMPRESSION.iso files in ${dir} or its folders`);
  return withTemplates;
}

export function fvcPairs(samples: readonly FvcSample[]): FvcPairs {
  const pairs: FvcPairs = { genuine: [], impostorAll: [], impostorFvc: [] };
  const firstImpression = new Map<string, number>();
  samples.forEach((sample) => firstImpression.set(sample.finger, Math.min(firstImpression.get(sample.finger) ?? Infinity, sample.impression)));
  for (let a = 0; a < samples.length; a++) {
    for (let b = a + 1; b < samples.length; b++) {
      const sa = samples[a]!;
      const sb = samples[b]!;
      if (sa.finger === sb.finger) {
        pairs.genuine.push([a, b]);
        continue;
      }
      pairs.impostorAll.push([a, b]);
      if (sa.impression === firstImpression.get(sa.finger) && sb.impression === firstImpression.get(sb.finger)) pairs.impostorFvc.push([a, b]);
    }
  }
  return pairs;
}
