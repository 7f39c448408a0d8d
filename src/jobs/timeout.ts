import type { Config } from '../config';
import type { BatchRow } from '../db/queries/batch';
import { JobInputError } from '../errors';

/** The longest timer Node keeps (2^31-1 ms); a longer one fires at once. */
export const MAX_JOB_TIMEOUT_SECONDS = 2_147_483;

/**
 * The job's own timeout, else its action's, else the daemon's: the executor stops the job there. A job's own
 * value outside 1 s to about 24.8 days fails the job before it starts, naming the column: a timer beyond that
 * fires at once, so the job was stopped "past its timeout" while the mail it began could still go out.
 */
export function timeoutSeconds(cfg: Pick<Config, 'daemon'>, job: Pick<BatchRow, 'batch_id' | 'batch_timeout_seconds' | 'batch_action'>): number {
  const own = job.batch_timeout_seconds;
  if (own !== null && own !== undefined && !(Number.isInteger(own) && own >= 1 && own <= MAX_JOB_TIMEOUT_SECONDS)) {
    throw new JobInputError(job.batch_id, 'batch_timeout_seconds',
      `is ${own}: give a whole number of seconds from 1 to ${MAX_JOB_TIMEOUT_SECONDS} (about 24 days), or leave it empty for the default`);
  }
  return own ?? cfg.daemon.actionTimeoutSeconds[job.batch_action] ?? cfg.daemon.jobTimeoutSeconds;
}
