import { Daemon } from '../../daemon/loop';
import { reconnectDelayMs } from '../../daemon/backoff';
import { checkSchema, migrate } from '../../db/migrate';
import { createPool, isConnectionError, poolOptionsFrom, type Pool } from '../../db/pool';
import { startEmbedded, type EmbeddedServer } from '../../embedded/postgres';
import { errorMessage } from '../../errors';
import type { Logger } from '../../log';
import { redactUrl } from '../../config';
import type { CommandContext } from '../context';

async function waitForDatabase(pool: Pool, log: Logger, stopped: () => boolean): Promise<void> {
  for (let failures = 0; ; failures++) {
    try {
      await pool.query('SELECT 1');
      if (failures > 0) log.info('database reachable', { scope: 'daemon' });
      return;
    } catch (err) {
      if (!isConnectionError(err) || stopped()) throw err;
      const delay = reconnectDelayMs(failures);
      if (failures === 0) log.warn(`database unreachable (${errorMessage(err)}); waiting for it`, { scope: 'daemon' });
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}

/**
 * `xtconnect start`: the daemon. Migrates the schema (advisory-locked, so many daemons may start at once), then
 * runs until SIGTERM/SIGINT: the first drains, a second puts running jobs back at once.
 */
export async function startCommand(ctx: CommandContext, opts: { migrate: boolean }): Promise<number> {
  const { cfg, log } = ctx;
  let embedded: EmbeddedServer | null = null;
  let url = cfg.database.url;
  if (cfg.database.embedded) {
    log.info('no database configured: using an embedded PostgreSQL', { scope: 'daemon' });
    embedded = await startEmbedded(cfg.dataDir, log);
    url = embedded.url;
  } else {
    log.info(`database: ${url ? redactUrl(url) : 'from PG* environment variables'}`, { scope: 'daemon' });
  }
  // The daemon's own statements (claims, outcomes, leases) get a small pool of their own; handlers get
  // database.poolSize connections, so that long jobs holding connections can never starve lease renewal.
  const pool = createPool({ ...poolOptionsFrom(cfg, 'xtconnect daemon', url), max: 4 }, log);
  const jobPool = createPool(poolOptionsFrom(cfg, 'xtconnect jobs', url), log);
  let signalled = 0;
  let daemon: Daemon | null = null;
  let resolveExit!: (code: number) => void;
  const exited = new Promise<number>((r) => (resolveExit = r));

  const onSignal = (sig: NodeJS.Signals): void => {
    signalled++;
    if (signalled === 1) {
      log.info(`${sig} received: stopping (send it again to put running jobs back now)`, { scope: 'daemon' });
      if (!daemon) {
        resolveExit(0);
        return;
      }
      void daemon.stop().then(() => resolveExit(0), (err) => {
        log.error(`stop failed: ${errorMessage(err)}`, { scope: 'daemon' });
        resolveExit(1);
      });
    } else {
      log.warn(`${sig} received again: putting running jobs back now`, { scope: 'daemon' });
      daemon?.hurry();
    }
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  try {
    await waitForDatabase(pool, log, () => signalled > 0);
    if (signalled > 0) return 0;
    if (opts.migrate) {
      const { applied } = await migrate(pool);
      for (const m of applied) log.info(`applied migration ${m.name}`, { scope: 'migrate' });
    }
    const schema = await checkSchema(pool);
    if (schema.pending > 0) {
      log.error(`the database schema lacks ${schema.pending} migration(s): run "xtconnect migrate" (or start without --no-migrate)`, { scope: 'daemon' });
      return 1;
    }
    daemon = new Daemon({ cfg, pool, jobPool, log, ownsPool: true, listenUrl: cfg.database.listenUrl ?? url });
    await daemon.start();
    if (signalled > 0) await daemon.stop();
    const code = await exited;
    return code;
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    if (!daemon) {
      await pool.end().catch(() => undefined);
      await jobPool.end().catch(() => undefined);
    }
    await embedded?.stop().catch((err) => log.warn(`embedded PostgreSQL did not stop cleanly: ${errorMessage(err)}`));
  }
}
