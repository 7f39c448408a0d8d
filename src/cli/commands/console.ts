import type { ConsoleServer } from '../../console/server';
import { checkSchema } from '../../db/migrate';
import { createPool, endPool, poolOptionsFrom } from '../../db/pool';
import { ConfigError } from '../../errors';
import type { Config } from '../../config';
import type { Logger } from '../../log';
import { databaseUrl, type CommandContext } from '../context';

/**
 * The console (fastify and its plugins, the pages) is loaded when one is started, not when the program is: a
 * daemon without console.listen never needs it, and its code and objects would stay in memory (issue 17).
 */
function startConsole(...args: Parameters<typeof import('../../console/server').startConsole>): ReturnType<typeof import('../../console/server').startConsole> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require('../../console/server') as typeof import('../../console/server')).startConsole(...args);
}

/** `--listen`: "port" or "host:port"; a bare port binds loopback, as console.listen does. */
export function parseListenFlag(v: string): { host: string; port: number } {
  const m = /^(?:(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):)?(\d{1,5})$/.exec(v.trim());
  const port = m ? Number(m[2]) : NaN;
  if (!m || port < 0 || port > 65535) throw new ConfigError(`--listen must be a port or host:port such as 127.0.0.1:8080 (got ${JSON.stringify(v)})`);
  return { host: (m[1] ?? '127.0.0.1').replace(/^\[|\]$/g, ''), port };
}

/**
 * Starts the console beside a daemon (start.ts) when console.listen is set; null when it is not. It has a small
 * pool of its own, so that people browsing cannot take the connections the daemon renews its leases with.
 */
export async function startDaemonConsole(cfg: Config, url: string | null, log: Logger): Promise<ConsoleServer | null> {
  const listen = cfg.console?.listen;
  if (!listen) return null;
  const pool = createPool({ ...poolOptionsFrom(cfg, 'xtconnect console', url), max: 3 }, log);
  try {
    const server = await startConsole({ cfg, pool, log, url, host: listen.host, port: listen.port });
    return { ...server, close: async () => { await server.close(); await endPool(pool).catch(() => undefined); } };
  } catch (err) {
    await endPool(pool).catch(() => undefined);
    throw err;
  }
}

/**
 * `xtconnect console`: only the web console, for a machine that runs no daemon (nothing is claimed). Runs until
 * SIGTERM/SIGINT.
 */
export async function consoleCommand(ctx: CommandContext, o: { listen?: string }): Promise<number> {
  const { cfg, log } = ctx;
  const listen = o.listen ? parseListenFlag(o.listen) : cfg.console?.listen ?? { host: '127.0.0.1', port: 8080 };
  const url = await databaseUrl(cfg);
  const pool = createPool({ ...poolOptionsFrom(cfg, 'xtconnect console', url), max: Math.min(cfg.database.poolSize, 5) }, log);
  let server: ConsoleServer | null = null;
  try {
    const schema = await checkSchema(pool);
    if (schema.pending > 0) {
      log.error(`the database schema lacks ${schema.pending} migration(s): run "xtconnect migrate" first`, { scope: 'console' });
      return 1;
    }
    server = await startConsole({ cfg, pool, log, url, host: listen.host, port: listen.port });
    // The line scripts and tests wait for: where to point the browser.
    process.stdout.write(`console: ${server.url}\n`);
    await new Promise<void>((resolve) => {
      const stop = (sig: NodeJS.Signals) => {
        log.info(`${sig} received: stopping the console`, { scope: 'console' });
        process.off('SIGTERM', stop);
        process.off('SIGINT', stop);
        resolve();
      };
      process.on('SIGTERM', stop);
      process.on('SIGINT', stop);
    });
    return 0;
  } finally {
    await server?.close().catch(() => undefined);
    await endPool(pool).catch(() => undefined);
  }
}
