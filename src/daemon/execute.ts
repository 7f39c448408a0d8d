import { redactSecrets } from '../secrets';
import type { Config } from '../config';
import type { Pool } from '../db/pool';
import type { BatchRow, Finish } from '../db/queries/batch';
import type { Settings } from '../db/queries/settings';
import { errorMessage, JobTimeoutError, LeaseLostError, PermanentError, UnknownActionError } from '../errors';
import { FALLBACK_ACTION, type HandlerRegistry, type Services } from '../handlers/types';
import { parseParams } from '../jobs/params';
import { timeoutSeconds } from '../jobs/timeout';
import type { Logger } from '../log';
import type { RunLease } from './jobLease';
import type { JobStop } from './jobStop';
import { decideRetry } from './retryPolicy';

/**
 * Why the daemon itself stopped a job; each leads to a different write (or none). 'lost': the server says the
 * job is no longer ours (cancelled, taken back); 'expired': renewal failed for so long that the lease could lapse.
 */
export type StopReason = 'shutdown' | 'lost' | 'expired';

const STOP_MESSAGES: Record<StopReason, string> = {
  shutdown: 'stopped by daemon shutdown',
  lost: 'cancelled or taken back by another daemon',
  expired: 'its lease could not be renewed in time',
};

export class JobStopped extends Error {
  constructor(readonly reason: StopReason) {
    super(STOP_MESSAGES[reason]);
  }
}

export interface ExecuteDeps {
  cfg: Config;
  pool: Pool;
  handlers: HandlerRegistry;
  services: Services;
  settings: () => Settings;
}

export interface Outcome {
  finish: Finish | null;
  ms: number;
  /** The handler recorded the outcome itself, in its own transaction under the lease: nothing left to write. */
  recorded: boolean;
  /** Why there is no outcome to write: the lease was lost (how), or the job was fenced off at its commit. */
  lostLease: StopReason | 'fenced' | null;
}


/**
 * Runs one claimed job and turns whatever happens (result, error, timeout, shutdown, lost lease) into exactly one
 * outcome for the Completer, or none when the row is no longer ours to write. Nothing escapes this function.
 */
export async function executeJob(job: BatchRow, stop: JobStop, deps: ExecuteDeps, log: () => Logger, lease?: RunLease): Promise<Outcome> {
  const started = Date.now();
  const base = { batchId: job.batch_id, attempt: job.batch_attempts, token: job.lease_token ?? null, delaySeconds: 0, result: null as unknown };
  const none = { recorded: false, lostLease: null };
  let timer: NodeJS.Timeout | undefined;
  try {
    // Inside the try: a job's own timeout out of range fails the job, naming the column (src/jobs/timeout.ts).
    const seconds = timeoutSeconds(deps.cfg, job);
    timer = setTimeout(() => stop.abort(new JobTimeoutError(seconds)), seconds * 1000);
    // '*' handles actions the registry does not name (ERP actions mapped to database functions); it throws
    // UnknownActionError itself when nothing maps the action either.
    const handler = deps.handlers.get(job.batch_action) ?? deps.handlers.get(FALLBACK_ACTION);
    if (!handler) throw new UnknownActionError(job.batch_action, [...deps.handlers.keys()]);
    const params = parseParams(job.batch_id, job.params);
    // `log` is a getter: the job's logger (a winston child) is made only if the handler logs (src/log.ts lazyChild).
    const ctx = { job, params, get log() { return log(); }, get signal() { return stop.signal; }, pool: deps.pool, settings: deps.settings(), cfg: deps.cfg, services: deps.services, lease };
    const result = await Promise.race([
      handler(ctx),
      stop.whenStopped(),
    ]);
    return { finish: { ...base, kind: 'done', message: null, result: result ?? null }, ms: Date.now() - started, ...none, recorded: lease?.recorded ?? false };
  } catch (err) {
    const ms = Date.now() - started;
    if (err instanceof JobStopped) {
      // The handler had already committed its work and "done" in one transaction (an ERP action) when the stop
      // came: the row is right, so the job is done, not lost (and its notice goes out).
      if (lease?.recorded) return { finish: { ...base, kind: 'done', message: null }, ms, ...none, recorded: true };
      if (err.reason === 'shutdown') return { finish: { ...base, kind: 'release', message: null }, ms, ...none };
      // Its lease could not be renewed before the handler began anything: put back, its attempt not counted.
      if (err.reason === 'expired' && lease?.untouched) return { finish: { ...base, kind: 'release', message: 'its lease could not be renewed before it started' }, ms, ...none };
      return { finish: null, ms, recorded: false, lostLease: err.reason };
    }
    // The lease was gone when the handler tried to commit: it rolled back; the row is someone else's to write.
    if (err instanceof LeaseLostError) return { finish: null, ms, recorded: false, lostLease: 'fenced' };
    // Written to the row, shown by the console and mailed in notices: a server's reply may quote a secret.
    const message = redactSecrets(errorMessage(err));
    if (err instanceof PermanentError || err instanceof JobTimeoutError) {
      return { finish: { ...base, kind: 'failed', message }, ms, ...none };
    }
    // Anything else may succeed later: retried by time and count (src/daemon/retryPolicy.ts).
    const d = decideRetry(deps.cfg, job, message, ms);
    return { finish: d.kind === 'retry' ? { ...base, kind: 'retry', message: d.message, delaySeconds: d.delaySeconds } : { ...base, kind: 'failed', message: d.message }, ms, ...none };
  } finally {
    clearTimeout(timer);
  }
}
