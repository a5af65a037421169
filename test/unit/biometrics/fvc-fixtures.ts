/** Reads the committed FVC2002 fixtures (see test/fixtures/README.md). */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const fixturesDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'fixtures');
export const fvcDatabases = ['DB1_B', 'DB2_B', 'DB3_B', 'DB4_B'] as const;

export interface FvcTemplate {
  finger: number;
  impression: number;
  id: string;
  bytes: Uint8Array;
}

export function loadFvcDatabase(database: string): FvcTemplate[] {
  const dir = join(fixturesDir, 'fvc2002', database);
  return readdirSync(dir)
    .filter((name) => name.endsWith('.iso'))
    .sort()
    .map((name) => {
      const [finger, impression] = name.replace('.iso', '').split('_').map(Number) as [number, number];
      return { finger, impression, id: `${finger}_${impression}`, bytes: new Uint8Array(readFileSync(join(dir, name))) };
    });
}

export function loadInvalidIso(): { name: string; bytes: Uint8Array }[] {
  const dir = join(fixturesDir, 'invalid-iso');
  return readdirSync(dir)
    .sort()
    .map((name) => ({ name, bytes: new Uint8Array(readFileSync(join(dir, name))) }));
}
