/** The committed FVC2002 fixtures (see test/fixtures/README.md). */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadFvcFolder, type FvcSample } from '../../../core/biometrics/fvc-dataset.js';

export const fixturesDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'fixtures');
export const fvcDatabases = ['DB1_B', 'DB2_B', 'DB3_B', 'DB4_B'] as const;

export function loadFvcDatabase(database: string): FvcSample[] {
  return loadFvcFolder(join(fixturesDir, 'fvc2002', database));
}

export function loadInvalidIso(): { name: string; bytes: Uint8Array }[] {
  const dir = join(fixturesDir, 'invalid-iso');
  return readdirSync(dir)
    .sort()
    .map((name) => ({ name, bytes: new Uint8Array(readFileSync(join(dir, name))) }));
}
