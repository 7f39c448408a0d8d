import type { Config } from '../../src/config';
import { Daemon } from '../../src/daemon/loop';
import { createPool, type Pool } from '../../src/db/pool';
import { defaultHandlers, type Handler } from '../../src/handlers';
import { createMailer } from '../../src/mail/transport';
import { silentLogger, type Logger } from '../../src/log';

export interface RunningDaemon {
  daemon: Daemon;
  stop(drainMs?: number): Promise<void>;
}

/** An in-process daemon with a pool of its own (as a separate process would have), stopped by stop(). */
export async function startDaemon(cfg: Config, extra: Record<string, Handler> = {}, opts: { id?: string; log?: Logger } = {}): Promise<RunningDaemon> {
  const log = opts.log ?? silentLogger();
  // Two pools, as `xtconnect start` makes: the daemon's own statements apart from the handlers'.
  const pool = createPool({ url: cfg.database.url, max: 4, statementTimeoutMs: 0, applicationName: 'xtconnect test daemon' }, log);
  const jobPool = createPool({ url: cfg.database.url, max: cfg.database.poolSize, statementTimeoutMs: 0, applicationName: 'xtconnect test jobs' }, log);
  const daemon = new Daemon({ cfg, pool, jobPool, log, handlers: defaultHandlers(extra), services: { mailer: createMailer(cfg) }, id: opts.id, ownsPool: true });
  await daemon.start();
  return { daemon, stop: (drainMs?: number) => daemon.stop(drainMs) };
}

/**
 * A daemon made as `xtconnect start` makes it, with its own mailer (which records what it sends in xtbatch.eml),
 * on two pools of its own; not started. `onQuery` sees the name of every named statement either pool sends (the
 * statements still go to the server).
 */
export function daemonWithOwnMailer(cfg: Config, log: Logger, onQuery?: (name: string) => void): Daemon {
  const pool = createPool({ url: cfg.database.url, max: 4, statementTimeoutMs: 0, applicationName: 'xtconnect test daemon' }, log);
  const jobPool = createPool({ url: cfg.database.url, max: cfg.database.poolSize, statementTimeoutMs: 0, applicationName: 'xtconnect test jobs' }, log);
  if (onQuery) for (const p of [pool, jobPool]) watchNamedQueries(p, onQuery);
  return new Daemon({ cfg, pool, jobPool, log, ownsPool: true });
}

/** The state of job `id` as xtbatch.job shows it (waiting, running, done, failed, ...). */
export async function jobState(pool: { query: Pool['query'] }, id: number): Promise<string> {
  return (await pool.query(`SELECT state FROM xtbatch.job WHERE batch_id = $1`, [id])).rows[0].state;
}

/** Calls `onName` with the name of every named statement `pool` sends; the statements still go to the server. */
export function watchNamedQueries(pool: Pool, onName: (name: string) => void): void {
  const query = pool.query.bind(pool) as (...a: unknown[]) => unknown;
  pool.query = ((...a: unknown[]) => {
    const q = a[0] as { name?: string } | string;
    if (q && typeof q === 'object' && q.name) onName(q.name);
    return query(...a);
  }) as typeof pool.query;
}
