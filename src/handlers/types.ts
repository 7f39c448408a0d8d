import type { Config } from '../config';
import type { BatchRow } from '../db/queries/batch';
import type { Settings } from '../db/queries/settings';
import type { Pool } from '../db/pool';
import type { Params } from '../jobs/params';
import type { Logger } from '../log';
import type { Mailer } from '../mail/transport';

/** Long-lived things a handler may use; made once per daemon. */
export interface Services {
  mailer: Mailer;
}

export interface JobContext {
  job: BatchRow;
  params: Params;
  /** Scoped to this job: every line carries its id and action. */
  log: Logger;
  /** Fires on timeout, cancel, lost lease or forced shutdown; handlers pass it to their I/O. */
  signal: AbortSignal;
  pool: Pool;
  settings: Settings;
  cfg: Config;
  services: Services;
}

/**
 * A handler does the work and returns what the job row should record in batch_result (or nothing). It never
 * writes the job's status: the executor turns every outcome into exactly one write. It throws PermanentError
 * when retrying cannot help; anything else is retried.
 */
export type Handler = (ctx: JobContext) => Promise<unknown>;

export type HandlerRegistry = ReadonlyMap<string, Handler>;
