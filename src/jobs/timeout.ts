import type { Config } from '../config';
import type { BatchRow } from '../db/queries/batch';

/** The job's own timeout, else its action's, else the daemon's: the executor stops the job there. */
export function timeoutSeconds(cfg: Pick<Config, 'daemon'>, job: Pick<BatchRow, 'batch_timeout_seconds' | 'batch_action'>): number {
  return job.batch_timeout_seconds ?? cfg.daemon.actionTimeoutSeconds[job.batch_action] ?? cfg.daemon.jobTimeoutSeconds;
}
