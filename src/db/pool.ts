import pg from 'pg';
import type { Config } from '../config';
import type { Logger } from '../log';

// xTuple's timestamps are "without time zone" in the server's local time. pg would read them as Node's local
// time and shift them; as text they stay exactly what the ERP wrote.
pg.types.setTypeParser(pg.types.builtins.TIMESTAMP, (v) => v);

export type Pool = pg.Pool;
export type Client = pg.PoolClient;

export interface PoolOptions {
  url: string | null;
  max: number;
  statementTimeoutMs: number;
  applicationName: string;
}

export function poolOptionsFrom(cfg: Config, applicationName: string, url: string | null = cfg.database.url): PoolOptions {
  return { url, max: cfg.database.poolSize, statementTimeoutMs: cfg.database.statementTimeoutMs, applicationName };
}

export function clientConfig(opts: Pick<PoolOptions, 'url' | 'applicationName'>): pg.ClientConfig {
  return {
    ...(opts.url ? { connectionString: opts.url } : {}),
    application_name: opts.applicationName,
    keepAlive: true,
    connectionTimeoutMillis: 10_000,
  };
}

/**
 * A pool that cannot crash the process: an idle client that loses its server emits 'error' on the pool, and an
 * unhandled 'error' event kills Node. The failure is logged; the next query reconnects.
 */
export function createPool(opts: PoolOptions, log: Logger): Pool {
  const pool = new pg.Pool({
    ...clientConfig(opts),
    max: opts.max,
    idleTimeoutMillis: 30_000,
    ...(opts.statementTimeoutMs > 0 ? { statement_timeout: opts.statementTimeoutMs } : {}),
  });
  pool.on('error', (err) => log.warn(`database connection lost: ${err.message}`, { scope: 'db' }));
  const live = new Set<pg.Client>();
  liveClients.set(pool, live);
  pool.on('connect', (client) => {
    live.add(client);
    client.once('end', () => live.delete(client));
    client.on('error', (err) => log.debug(`database client error: ${err.message}`, { scope: 'db' }));
  });
  return pool;
}

const liveClients = new WeakMap<pg.Pool, Set<pg.Client>>();

/**
 * pool.end() resolves once its clients are told to close, not once they have: a server stopped right after (the
 * embedded one, when the daemon exits) would still find them connected and log them as lost. This waits for each
 * connection to be closed, within `waitMs`.
 */
export async function endPool(pool: Pool, waitMs = 5_000): Promise<void> {
  await pool.end();
  const open = [...(liveClients.get(pool) ?? [])];
  if (open.length === 0) return;
  let t: NodeJS.Timeout | undefined;
  await Promise.race([
    Promise.all(open.map((c) => new Promise((r) => c.once('end', r)))),
    new Promise((r) => { t = setTimeout(r, waitMs); }),
  ]);
  clearTimeout(t);
}

/** Whether a server answers at `url` (a connection and nothing else), for choosing between servers. */
export async function reachable(url: string, timeoutMs = 2000): Promise<boolean> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: timeoutMs });
  try {
    await c.connect();
    return true;
  } catch {
    return false;
  } finally {
    await c.end().catch(() => undefined);
  }
}
