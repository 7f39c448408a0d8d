import type { Config } from '../../src/config';
import { Daemon } from '../../src/daemon/loop';
import { createPool } from '../../src/db/pool';
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
