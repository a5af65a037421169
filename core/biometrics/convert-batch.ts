/**
 * Conversion of a batch of ISO records into matcher form (the costly part of enrollment, about a
 * millisecond per record): run by the piscina workers for bulk enrollment, or in-thread. Pure.
 */
import { isBiopayError } from '../errors.js';
import { matchableTemplateFromIso } from './template.js';

export interface ConvertTask {
  records: Uint8Array[];
}

/** Per record: the template, or the reason it was refused (INVALID_TEMPLATE). */
export interface ConvertResult {
  templates: (Uint32Array | null)[];
  reasons: (string | null)[];
}

export function convertBatch(task: ConvertTask): ConvertResult {
  const result: ConvertResult = { templates: [], reasons: [] };
  for (const bytes of task.records) {
    try {
      result.templates.push(matchableTemplateFromIso(bytes));
      result.reasons.push(null);
    } catch (error) {
      if (!isBiopayError(error)) throw error;
      result.templates.push(null);
      result.reasons.push(error.message);
    }
  }
  return result;
}
