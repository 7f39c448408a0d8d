import type { Config } from '../config';
import type { Pool } from '../db/pool';
import type { BatchRow, Finish } from '../db/queries/batch';
import type { Settings } from '../db/queries/settings';
import { errorMessage, JobTimeoutError, PermanentError, UnknownActionError } from '../errors';
import type { HandlerRegistry, Services } from '../handlers';
import { parseParams } from '../jobs/params';
import type { Logger } from '../log';
import { retryDelaySeconds } from './backoff';

/** The registry key of the handler for actions no other handler names. */
export const FALLBACK_ACTION = '*';

/** Why the daemon itself stopped a job; each leads to a different write (or none). */
export type StopReason = 'shutdown' | 'lost';

export class JobStopped extends Error {
  constructor(readonly reason: StopReason) {
    super(reason === 'shutdown' ? 'stopped by daemon shutdown' : 'cancelled or taken back by another daemon');
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
}

/** The job's own timeout, else its action's, else the daemon's. */
export function timeoutSeconds(cfg: Config, job: BatchRow): number {
  return job.batch_timeout_seconds ?? cfg.daemon.actionTimeoutSeconds[job.batch_action] ?? cfg.daemon.jobTimeoutSeconds;
}

/**
 * Runs one claimed job and turns whatever happens (result, error, timeout, shutdown, lost lease) into exactly one
 * outcome for the Completer, or none when the row is no longer ours to write. Nothing escapes this function.
 */
export async function executeJob(job: BatchRow, controller: AbortController, deps: ExecuteDeps, log: Logger): Promise<Outcome> {
  const started = Date.now();
  const base = { batchId: job.batch_id, attempt: job.batch_attempts, delaySeconds: 0, result: null as unknown };
  const seconds = timeoutSeconds(deps.cfg, job);
  const timer = setTimeout(() => controller.abort(new JobTimeoutError(seconds)), seconds * 1000);
  try {
    // '*' handles actions the registry does not name (ERP actions mapped to database functions); it throws
    // UnknownActionError itself when nothing maps the action either.
    const handler = deps.handlers.get(job.batch_action) ?? deps.handlers.get(FALLBACK_ACTION);
    if (!handler) throw new UnknownActionError(job.batch_action, [...deps.handlers.keys()]);
    const params = parseParams(job.batch_id, job.params);
    const aborted = new Promise<never>((_, reject) => {
      if (controller.signal.aborted) reject(controller.signal.reason);
      controller.signal.addEventListener('abort', () => reject(controller.signal.reason), { once: true });
    });
    aborted.catch(() => undefined);
    const result = await Promise.race([
      handler({ job, params, log, signal: controller.signal, pool: deps.pool, settings: deps.settings(), cfg: deps.cfg, services: deps.services }),
      aborted,
    ]);
    return { finish: { ...base, kind: 'done', message: null, result: result ?? null }, ms: Date.now() - started };
  } catch (err) {
    const ms = Date.now() - started;
    if (err instanceof JobStopped) {
      return { finish: err.reason === 'shutdown' ? { ...base, kind: 'release', message: null } : null, ms };
    }
    const message = errorMessage(err);
    const maxAttempts = job.batch_max_attempts ?? deps.cfg.daemon.maxAttempts;
    if (err instanceof PermanentError || err instanceof JobTimeoutError) {
      return { finish: { ...base, kind: 'failed', message }, ms };
    }
    if (job.batch_attempts >= maxAttempts) {
      return { finish: { ...base, kind: 'failed', message: `gave up after ${job.batch_attempts} attempts; last error: ${message}` }, ms };
    }
    const delay = retryDelaySeconds(job.batch_attempts, deps.cfg.daemon.backoffBaseSeconds, deps.cfg.daemon.backoffMaxSeconds);
    return { finish: { ...base, kind: 'retry', message: `attempt ${job.batch_attempts} of ${maxAttempts} failed: ${message}`, delaySeconds: delay }, ms };
  } finally {
    clearTimeout(timer);
  }
}
