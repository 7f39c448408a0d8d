import { JobInputError } from '../errors';
import type { ParamValue } from './params';

/** What xTuple's submitActionToBatch callers add to every action job. */
const TOLERATED = ['action_name'];

/**
 * Refuses a batchparam name the action does not read: most likely a misspelling, which would otherwise silently
 * change what the job does (a misspelt `table` made a Vacuum run over the whole database).
 */
export function refuseUnknownParams(job: { batch_id: number }, params: ReadonlyMap<string, ParamValue>, action: string, known: readonly string[]): void {
  for (const name of params.keys()) {
    if (!known.includes(name) && !TOLERATED.includes(name)) {
      throw new JobInputError(job.batch_id, `parameter "${name}"`, `is not a ${action} parameter (it takes ${known.join(', ')})`);
    }
  }
}
