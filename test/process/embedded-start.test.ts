import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { closedFolderAbove } from '../../src/embedded/postgres';
import { writeConfigFile } from '../support/config';
import { daemonYaml, killAll, removeTempDirs, runXt, spawnXt, tempDir, type XtProcess } from '../support/proc';
import { startSmtp, type TestSmtp } from '../support/smtp';
import { waitFor } from '../support/wait';

// Starting the embedded PostgreSQL in a data folder that is not ready yet: the daemon creates it, and when the
// server cannot start, the command fails with exit code 1 so that systemd (Restart=on-failure) and scripts see it.

jest.setTimeout(90_000);

let smtp: TestSmtp | null = null;

afterEach(async () => {
  await killAll();
  smtp?.dropStalled();
  await smtp?.close();
  smtp = null;
});
afterAll(() => {
  removeTempDirs();
});

/** A parent folder any user may pass through (like /var/lib), holding the config file. */
function parentDir(): string {
  const parent = tempDir('xtconnect-embedded-');
  fs.chmodSync(parent, 0o755);
  return parent;
}

describe('starting the embedded PostgreSQL', () => {
  it('creates a dataDir that does not exist yet, and starts in it', async () => {
    const parent = parentDir();
    const dataDir = path.join(parent, 'state', 'xtconnect');
    const config = writeConfigFile(parent, `dataDir: ${JSON.stringify(dataDir)}\n`);
    const daemon = spawnXt(['start', '--config', config], { detached: true });
    await daemon.waitForLine(/\[daemon\] daemon \S+ started/, { timeoutMs: 60_000 });
    expect(fs.existsSync(path.join(dataDir, 'postgres', 'PG_VERSION'))).toBe(true);
    // Files that hold the password stay private to the daemon's user.
    expect(fs.statSync(path.join(dataDir, 'embedded-postgres.secret')).mode & 0o077).toBe(0);
    expect(fs.statSync(path.join(dataDir, 'embedded-postgres.json')).mode & 0o077).toBe(0);
    daemon.signal('SIGTERM');
    await daemon.waitForExit(30_000);
  });

  it('exits 1, saying why, when the server cannot be created', async () => {
    const parent = parentDir();
    const dataDir = path.join(parent, 'state');
    // A database folder that is neither empty nor a PostgreSQL data directory: initdb refuses it.
    fs.mkdirSync(path.join(dataDir, 'postgres'), { recursive: true, mode: 0o755 });
    fs.writeFileSync(path.join(dataDir, 'postgres', 'not-a-database.txt'), 'left here by someone\n');
    fs.chmodSync(dataDir, 0o755);
    const config = writeConfigFile(parent, `dataDir: ${JSON.stringify(dataDir)}\n`);
    const r = await runXt(['start', '--config', config], { detached: true, timeoutMs: 60_000 });
    expect(r.stderr).toMatch(/^xtconnect: .*initdb/m);
    expect({ code: r.code, signal: r.signal }).toEqual({ code: 1, signal: null });
  });

  it('names the closed folder above dataDir (as root the server runs as "postgres") and exits 2', async () => {
    // tempDir is made by mkdtemp: mode 700, a folder the "postgres" user cannot pass through.
    const closed = tempDir('xtconnect-embedded-closed-');
    const dataDir = path.join(closed, 'state');
    const config = writeConfigFile(parentDir(), `dataDir: ${JSON.stringify(dataDir)}\n`);
    const r = await runXt(['start', '--config', config], { detached: true, timeoutMs: 60_000 });
    if (process.getuid?.() === 0) {
      expect(r.stderr).toContain(`which cannot enter ${closed}; set dataDir to a folder outside it`);
      expect({ code: r.code, signal: r.signal }).toEqual({ code: 2, signal: null });
    } else {
      // Not root: the server runs as this user, who owns the folder; nothing to refuse.
      expect(r.stderr).not.toContain('cannot enter');
    }
  });

  it('finds the first folder other users cannot pass through above a file (dataDir, the PostgreSQL programs)', () => {
    const top = parentDir();
    const inner = path.join(top, 'a', 'b');
    fs.mkdirSync(inner, { recursive: true, mode: 0o755 });
    const file = path.join(inner, 'initdb');
    fs.writeFileSync(file, '');
    expect(closedFolderAbove(file)).toBeNull();
    fs.chmodSync(path.join(top, 'a'), 0o700);
    expect(closedFolderAbove(file)).toBe(path.join(top, 'a'));
    fs.chmodSync(path.join(top, 'a'), 0o711);
    expect(closedFolderAbove(file)).toBeNull();
  });

  it('SIGTERM drains a running job into the embedded database before stopping it, and exits 0', async () => {
    smtp = await startSmtp();
    const parent = parentDir();
    const dataDir = path.join(parent, 'state');
    fs.mkdirSync(dataDir, { mode: 0o755 });
    const config = writeConfigFile(parent, daemonYaml({ dataDir, smtpPort: smtp.port, daemon: { drainTimeoutSeconds: 20 } }));
    const start = async (): Promise<XtProcess> => {
      const p = spawnXt(['start', '--config', config], { detached: true });
      await p.waitForLine(/\[daemon\] daemon \S+ started/, { timeoutMs: 60_000 });
      return p;
    };
    const query = async (sql: string, values: unknown[] = []) => {
      const info = JSON.parse(fs.readFileSync(path.join(dataDir, 'embedded-postgres.json'), 'utf8')) as { url: string };
      const c = new pg.Client({ connectionString: info.url });
      await c.connect();
      try {
        return (await c.query(sql, values)).rows;
      } finally {
        await c.end();
      }
    };

    const first = await start();
    smtp.mode = 'stall';
    const [{ id }] = await query(
      `SELECT xtbatch.submitEmailToBatch('f@x.y', 'a@b.c', NULL, 'in flight at shutdown', 'body', NULL, NULL::timestamp, false, NULL, NULL) AS id`);
    await waitFor(`job ${id} running`, async () => (await query('SELECT state FROM xtbatch.job WHERE batch_id = $1', [id]))[0].state === 'running');

    const mark = first.lines.length;
    first.signal('SIGTERM');
    await first.waitForLine('[daemon] stopping: waiting up to 20 s for 1 running job(s)', { from: mark });
    smtp.release();
    const exit = await first.waitForExit(30_000);
    const said = first.lines.slice(mark);
    expect({ exit, problems: said.filter((l) => /terminating connection|database connection lost|could not record/.test(l)) })
      .toEqual({ exit: { code: 0, signal: null }, problems: [] });

    // Started again on the same data: the job was recorded as done before the server went down.
    await start();
    const [row] = await query('SELECT state, batch_attempts, batch_exitstatus FROM xtbatch.job WHERE batch_id = $1', [id]);
    expect(row).toEqual({ state: 'done', batch_attempts: 1, batch_exitstatus: '' });
    expect(smtp.messages).toHaveLength(1);
  });
});
