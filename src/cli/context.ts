import { loadConfig, type Config, type ConfigFlags } from '../config';
import { createPool, poolOptionsFrom, type Pool } from '../db/pool';
import { findEmbedded } from '../embedded/postgres';
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
 * The database a short-lived command (submit, status, list, ...) talks to: the configured one, or the embedded
 * server that `xtconnect start` is running in this data folder.
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

/** Runs `fn` with a small pool and always closes it. */
export async function withPool<T>(ctx: CommandContext, fn: (pool: Pool) => Promise<T>): Promise<T> {
  const url = await databaseUrl(ctx.cfg);
  const pool = createPool({ ...poolOptionsFrom(ctx.cfg, 'xtconnect cli', url), max: 2 }, ctx.log);
  try {
    return await fn(pool);
  } finally {
    await pool.end().catch(() => undefined);
  }
}
