/** Reading a template file named on the command line. Its bytes are never printed. */
import { readFile, stat } from 'node:fs/promises';
import { UsageError } from './command.js';

/** ISO/IEC 19794-2 records are a few KiB; anything far larger is not one. */
const TEMPLATE_BYTES_MAX = 256 * 1024;

export async function readTemplate(path: string, flag: string): Promise<Buffer> {
  try {
    const info = await stat(path);
    if (!info.isFile()) throw new UsageError(`--${flag} ${path}: not a file`);
    if (info.size === 0 || info.size > TEMPLATE_BYTES_MAX) {
      throw new UsageError(`--${flag} ${path}: ${info.size} bytes is not a template (1..${TEMPLATE_BYTES_MAX})`);
    }
    return await readFile(path);
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError(`--${flag} ${path}: cannot read (${(error as NodeJS.ErrnoException).code ?? 'error'})`, { cause: error });
  }
}
