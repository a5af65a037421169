/**
 * The leaves of a JSON report (a bench or `biopay load` report) by dotted path: what the bench's
 * tables print and what `bench compare` lines up.
 */

/** Leaves read at most (a load report holds a few hundred): bounds the tables and the work. */
export const REPORT_LEAVES_MAX = 5_000;
/** Nesting followed at most: reports are shallow; a deeper one is not ours. */
const DEPTH_MAX = 16;

/** Every leaf (a scalar, or an array taken whole) with its dotted path, objects followed. */
export function leaves(report: unknown): [path: string, leaf: unknown][] {
  const found: [string, unknown][] = [];
  const walk = (value: unknown, path: string, depth: number): void => {
    if (found.length >= REPORT_LEAVES_MAX || depth > DEPTH_MAX) return;
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      for (const [key, inner] of Object.entries(value)) walk(inner, path ? `${path}.${key}` : key, depth + 1);
    } else if (path !== '') {
      found.push([path, value]);
    }
  };
  walk(report, '', 0);
  return found;
}

/** A leaf as a table shows it: arrays as JSON. */
export function leafText(leaf: unknown): string {
  return Array.isArray(leaf) ? JSON.stringify(leaf) : String(leaf);
}
