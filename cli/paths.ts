/** Locations inside the installed package, whether running from dist/ or from the TS sources. */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package root: the folder holding package.json above this module. */
export function packageRoot(): string {
  let folder = dirname(fileURLToPath(import.meta.url));
  for (let depth = 0; depth < 4; depth++) {
    if (existsSync(join(folder, 'package.json'))) return folder;
    folder = resolve(folder, '..');
  }
  throw new Error('biopay package root not found');
}

export function demoTemplatePath(name: string): string {
  return join(packageRoot(), 'deploy', 'demo-templates', `${name}.iso`);
}

/** This package's version (package.json), as the nodes' status service reports it. */
export function packageVersion(): string {
  const { version } = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version?: unknown };
  return typeof version === 'string' ? version : '0.0.0';
}
