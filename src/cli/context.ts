import { loadConfig, type Config, type ConfigFlags } from '../config';
import { createPool, poolOptionsFrom, type Pool } from '../db/pool';
import { findEmbedded, isStandaloneBinary, startEmbedded, type EmbeddedServer } from '../embedded/postgres';
import { ConfigError } from '../errors';
import { createLogger, type Logger } from '../log';

export interface GlobalOptions extends ConfigFlags {
  logLevel?: string;
}

export interface CommandContext {
  cfg: Config;
  log: Logger;
}

export function commandContext(opts: GlobalOptions): CommandContext {
  const cfg = loadConfig(opts);
  if (opts.logLevel) cfg.log.level = opts.logLevel as Config['log']['level'];
  return { cfg, log: createLogger(cfg) };
}

/**
 * The URL of the configured database, or of the embedded server running in this data folder (a ConfigError when
 * none runs). For a command that must not start the embedded server; others use withPool() or useDatabase().
 */
export async function databaseUrl(cfg: Config): Promise<string | null> {
  if (!cfg.database.embedded) return cfg.database.url;
  const info = await findEmbedded(cfg.dataDir);
  if (!info) {
    throw new ConfigError(`no database is configured (database.url, DATABASE_URL or PGHOST) and no embedded server is ` +
      `running in ${cfg.dataDir}: start one with "xtconnect start", or point xtconnect at your database`);
  }
  return info.url;
}

/**
 * The database a short-lived command (submit, status, list, ...) talks to: the configured one, or with none the
 * embedded server of this data folder, whether the daemon runs or not. With no daemon running the command starts
 * the server for itself and stops it when done (unless a daemon or another command started using it meanwhile);
 * the standalone binary, which cannot run the server, can only use one already running.
 */
export async function useDatabase(ctx: CommandContext): Promise<{ url: string | null; embedded: EmbeddedServer | null }> {
  if (!ctx.cfg.database.embedded) return { url: ctx.cfg.database.url, embedded: null };
  const embedded = await startEmbedded(ctx.cfg.dataDir, ctx.log, { quiet: true, start: !isStandaloneBinary() });
  return { url: embedded.url, embedded };
}

/** Runs `fn` with a small pool and always closes it (and the embedded server, when the command started it). */
export async function withPool<T>(ctx: CommandContext, fn: (pool: Pool) => Promise<T>): Promise<T> {
  const { url, embedded } = await useDatabase(ctx);
  // Ctrl-C during the command: let go of the embedded server (stopping it when this command started it and no
  // one else uses it) before exiting as the signal would have, rather than leave it running for the next command.
  // The command's own work fails meanwhile (its connection ends with the server): it waits for this, not reports it.
  let interrupted: Promise<void> | null = null;
  const onSignal = (sig: NodeJS.Signals): void => {
    interrupted ??= (async () => {
      await embedded?.stop().catch(() => undefined);
      process.exit(128 + (sig === 'SIGINT' ? 2 : 15));
    })();
  };
  if (embedded) {
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  }
  try {
    const pool = createPool({ ...poolOptionsFrom(ctx.cfg, 'xtconnect cli', url), max: 2 }, ctx.log);
    try {
      return await fn(pool);
    } catch (err) {
      // Before the first `migrate`: the database's "relation ... does not exist" alone does not say what to do.
      const e = err as { code?: string; message?: string; hint?: string };
      if (['42P01', '3F000', '42883'].includes(e?.code ?? '') && /xtbatch/.test(e.message ?? '') && !e.hint) {
        e.hint = 'the xtbatch schema is missing or incomplete in this database: "xtconnect migrate" installs it';
      }
      throw err;
    } finally {
      await pool.end().catch(() => undefined);
    }
  } finally {
    if (interrupted) await interrupted;
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await embedded?.stop();
  }
}
