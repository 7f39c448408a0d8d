import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { writeConfigFile } from '../support/config';
import { killAll, removeTempDirs, runXt, spawnXt, tempDir, type XtProcess } from '../support/proc';
import { waitFor } from '../support/wait';

// The default with nothing configured: no DATABASE_URL, no PG* variables, no database.url, no SMTP. `xtconnect
// start` runs a PostgreSQL of its own in dataDir (as root, through a 'postgres' system user), other commands find
// it through the same config, and mail goes to <dataDir>/outbox as .eml files. Tests in this file run in order
// against one daemon; the last one stops it. (embedded-start.test.ts covers a dataDir the daemon must create.)

jest.setTimeout(90_000);

let parent: string;
let dataDir: string;
let config: string;
let daemon: XtProcess;

beforeAll(async () => {
  // Like /var/lib/xtconnect made by a package: an existing data folder any user may pass through.
  parent = tempDir('xtconnect-embedded-');
  fs.chmodSync(parent, 0o755);
  dataDir = path.join(parent, 'state');
  fs.mkdirSync(dataDir, { mode: 0o755 });
  // Only dataDir: everything else is the default. cleanEnv() leaves out DATABASE_URL, PG* and XTCONNECT_*.
  config = writeConfigFile(parent, `dataDir: ${JSON.stringify(dataDir)}\n`);
  daemon = spawnXt(['start', '--config', config], { detached: true });
  await daemon.waitForLine(/\[daemon\] daemon \S+ started/, { timeoutMs: 60_000 });
});
afterAll(async () => {
  // Kills the daemon's whole process group (the embedded PostgreSQL with it) if a test left it running.
  await killAll();
  removeTempDirs();
});

function embeddedUrl(): string {
  return (JSON.parse(fs.readFileSync(path.join(dataDir, 'embedded-postgres.json'), 'utf8')) as { url: string }).url;
}

async function onEmbedded<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: embeddedUrl() });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

describe('the embedded default', () => {
  it('starts an embedded PostgreSQL on loopback in dataDir and migrates it', async () => {
    expect(daemon.stderr).toContain('[daemon] no database configured: using an embedded PostgreSQL');
    expect(daemon.stderr).toMatch(/\[embedded\] embedded PostgreSQL running on 127\.0\.0\.1:\d+, data in /);
    expect(daemon.stderr).toContain(`mail via outbox ${path.join(dataDir, 'outbox')}`);
    expect(fs.existsSync(path.join(dataDir, 'postgres', 'PG_VERSION'))).toBe(true);
    expect(new URL(embeddedUrl()).hostname).toBe('127.0.0.1');
    const applied = await onEmbedded((c) => c.query('SELECT count(*)::int AS n FROM xtbatch.xtconnect_migration'));
    expect(applied.rows[0].n).toBeGreaterThanOrEqual(3);
  });

  it('a second process with the same config submits mail, which the daemon writes to the outbox as .eml', async () => {
    const r = await runXt(['submit', 'email', '--config', config, '--to', 'a@b.c', '--subject', 'hi', '--from', 'f@x.y', '--body', 'hello']);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    expect(r.stdout).toMatch(/^\d+\n$/);
    const id = Number(r.stdout.trim());

    const eml = path.join(dataDir, 'outbox', `batch-${id}.eml`);
    await waitFor(`${eml} written`, () => fs.existsSync(eml), 15_000, 50);
    const text = fs.readFileSync(eml, 'utf8');
    expect(text).toMatch(/^Subject: hi\r$/m);
    expect(text).toMatch(/^To: a@b\.c\r$/m);
    expect(text).toMatch(/^From: f@x\.y\r$/m);
    expect(text).toMatch(new RegExp(`^X-xtconnect-Batch-Id: ${id}\\r$`, 'mi'));
    expect(text).toContain('hello');
    await waitFor(`job ${id} done`, async () => (await onEmbedded((c) => c.query('SELECT state FROM xtbatch.job WHERE batch_id = $1', [id]))).rows[0]?.state === 'done');
  });

  it('status with the same config finds the embedded server and the live daemon', async () => {
    const r = await runXt(['status', '--config', config]);
    expect(r.stdout).toMatch(/^XTCONNECT OK - 1 daemon\(s\) alive/);
    expect(r.code).toBe(0);
  });

  it('the daemon LISTENs on the embedded server (not on whatever PG* defaults would reach)', async () => {
    const listening = await waitFor('a LISTEN connection from the daemon on the embedded server', async () =>
      (await onEmbedded((c) => c.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'xtconnect listener'`))).rows[0].n > 0,
    5_000, 100).catch(() => false);
    // The probe NOTIFY comes back over that connection, so jobs start on NOTIFY rather than by polling.
    await waitFor('the listener says jobs start on NOTIFY', async () =>
      daemon.lines.some((l) => /\[listener\] LISTEN on \S+: jobs start on NOTIFY/.test(l)), 10_000, 100);
    const listener = daemon.lines.filter((l) => l.includes('[listener]'));
    expect({ listening, listenerWarnings: listener.filter((l) => /\b(warn|error)\b/.test(l)) }).toEqual({ listening: true, listenerWarnings: [] });
  });

  it('SIGTERM stops the daemon, then its PostgreSQL, with exit code 0', async () => {
    const url = embeddedUrl();
    const mark = daemon.lines.length;
    daemon.signal('SIGTERM');
    const exit = await daemon.waitForExit(30_000);
    const said = daemon.lines.slice(mark);
    const stopped = said.findIndex((l) => /\[daemon\] daemon \S+ stopped/.test(l));
    expect(stopped).toBeGreaterThanOrEqual(0);
    // Exit 0, and the database stays up until the daemon has drained and deregistered.
    expect({ exit, lostBeforeStopped: said.slice(0, stopped).filter((l) => /terminating connection|database connection lost|could not/.test(l)) })
      .toEqual({ exit: { code: 0, signal: null }, lostBeforeStopped: [] });
    expect(fs.existsSync(path.join(dataDir, 'embedded-postgres.json'))).toBe(false);
    const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
    await expect(c.connect()).rejects.toThrow();
    await c.end().catch(() => undefined);

    // With the daemon gone, other commands start the data folder's server for themselves (never a database
    // PG* defaults would reach), and stop it again: test/process/embedded-cli.test.ts has the details.
    const r = await runXt(['status', '--config', config], { timeoutMs: 60_000 });
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(/^XTCONNECT CRITICAL - 0 daemon\(s\) alive, need 1; /);
    expect(fs.existsSync(path.join(dataDir, 'postgres', 'postmaster.pid'))).toBe(false);
  });
});
