import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { writeConfigFile } from '../support/config';
import { daemonYaml, killAll, removeTempDirs, runXt, spawnXt, tempDir, type XtProcess } from '../support/proc';
import { waitFor } from '../support/wait';

// The CLI against the embedded default while no daemon runs: list, submit, show, status and migrate start the
// data folder's PostgreSQL for themselves and stop it when done; while a daemon runs they use its server and leave
// it running. Never two servers on one data folder: PostgreSQL's postmaster.pid says whether one runs, and a lock
// file with the holder's process id (broken when that process is dead) makes one process at a time start or stop it.

jest.setTimeout(180_000);

let dataDir: string;
let config: string;

beforeAll(() => {
  const parent = tempDir('xtconnect-embedded-cli-');
  fs.chmodSync(parent, 0o755);
  dataDir = path.join(parent, 'state');
  config = writeConfigFile(parent, daemonYaml({ dataDir }));
});
afterEach(async () => {
  await killAll();
});
afterAll(() => {
  removeTempDirs();
});

const xt = (...args: string[]) => runXt([...args, '--config', config], { timeoutMs: 90_000 });

function postmasterPid(): number | null {
  try {
    return Number.parseInt(fs.readFileSync(path.join(dataDir, 'postgres', 'postmaster.pid'), 'utf8'), 10);
  } catch {
    return null;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Servers started in this data folder so far, and any refusal to start because another one held it. */
function serverLog(): { started: number; refused: number } {
  const text = fs.existsSync(path.join(dataDir, 'embedded-postgres.log')) ? fs.readFileSync(path.join(dataDir, 'embedded-postgres.log'), 'utf8') : '';
  return {
    started: (text.match(/database system is ready to accept connections/g) ?? []).length,
    refused: (text.match(/lock file "postmaster\.pid" already exists/g) ?? []).length,
  };
}

/** The postgres processes running on this data folder. */
function serversRunning(): number {
  const ps = spawnSync('ps', ['-eo', 'args'], { encoding: 'utf8' }).stdout;
  return ps.split('\n').filter((l) => l.includes(`-D ${path.join(dataDir, 'postgres')}`)).length;
}

async function startDaemon(): Promise<XtProcess> {
  const p = spawnXt(['start', '--config', config], { detached: true });
  await p.waitForLine(/\[daemon\] daemon \S+ started/, { timeoutMs: 60_000 });
  return p;
}

describe('the CLI with the embedded default and no daemon running', () => {
  let id: number;

  it('status before migrate: UNKNOWN, the schema is missing and "xtconnect migrate" installs it, on one line', async () => {
    const r = await xt('status');
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 3, stderr: '' });
    expect(r.stdout).toMatch(/^XTCONNECT UNKNOWN - the xtbatch schema is not installed in this database \(.*\): "xtconnect migrate" installs it\n$/);
    // The server was started for the command, and stopped after it.
    expect(postmasterPid()).toBeNull();
  });

  it('list before migrate says what to do', async () => {
    const r = await xt('list');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/hint: the xtbatch schema is missing or incomplete in this database: "xtconnect migrate" installs it/);
  });

  it('migrate, submit, list, show and status work, each starting and stopping the server', async () => {
    const m = await xt('migrate');
    expect(m.code).toBe(0);
    expect(m.stdout).toContain('applied 0001_install_xtbatch');
    const s = await xt('submit', 'email', '--to', 'a@b.c', '--subject', 'queued while stopped', '--from', 'f@x.y', '--body', 'hi');
    expect({ code: s.code, stderr: s.stderr }).toEqual({ code: 0, stderr: '' });
    id = Number(s.stdout.trim());
    expect(id).toBeGreaterThan(0);
    const l = await xt('list', '--json');
    expect(l.code).toBe(0);
    expect((JSON.parse(l.stdout) as Array<{ batch_id: number; state: string }>).map((j) => [j.batch_id, j.state])).toContainEqual([id, 'scheduled']);
    const sh = await xt('show', String(id));
    expect(sh.code).toBe(0);
    expect(sh.stdout).toContain('queued while stopped');
    const st = await xt('status');
    expect(st.code).toBe(2);
    expect(st.stdout).toMatch(/^XTCONNECT CRITICAL - 0 daemon\(s\) alive, need 1; 0 daemon\(s\) alive, 1 due, /);
    expect(st.stdout.split('\n').filter(Boolean)).toHaveLength(1);
    expect(postmasterPid()).toBeNull();
    expect(serversRunning()).toBe(0);
    expect(serverLog().refused).toBe(0);
  });

  it('commands run at once share one server, never two on the data folder', async () => {
    const before = serverLog();
    const runs = await Promise.all([...Array(4)].map(() => xt('list')));
    expect(runs.map((r) => ({ code: r.code, stderr: r.stderr }))).toEqual(runs.map(() => ({ code: 0, stderr: '' })));
    const after = serverLog();
    expect(after.refused).toBe(before.refused);
    expect(after.started - before.started).toBeGreaterThanOrEqual(1);
    expect(after.started - before.started).toBeLessThanOrEqual(4);
    expect(postmasterPid()).toBeNull();
  });

  it('a lock left by a process that died does not block the next command', async () => {
    const dead = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' });
    fs.writeFileSync(path.join(dataDir, 'embedded-postgres.lock'), `${Number(dead.stdout.trim())}\n`);
    const r = await xt('list');
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    expect(fs.existsSync(path.join(dataDir, 'embedded-postgres.lock'))).toBe(false);
  });

  it('while a daemon runs, commands use its server and leave it running; the daemon ran the job queued while stopped', async () => {
    const daemon = await startDaemon();
    const pid = postmasterPid()!;
    const before = serverLog().started;
    const eml = path.join(dataDir, 'outbox', `batch-${id}.eml`);
    await waitFor(`${eml} written`, () => fs.existsSync(eml), 30_000, 100);
    const sh = await xt('show', String(id), '--json');
    expect(sh.code).toBe(0);
    await waitFor(`job ${id} done`, async () => ((JSON.parse((await xt('show', String(id), '--json')).stdout) as { job: { state: string } }).job.state === 'done'), 30_000, 200);
    const st = await xt('status');
    expect(st.stdout).toMatch(/^XTCONNECT OK - 1 daemon\(s\) alive/);
    // Same server, still running, none started for the commands.
    expect(postmasterPid()).toBe(pid);
    expect(alive(pid)).toBe(true);
    expect(serverLog().started).toBe(before);
    expect(daemon.lines.filter((l) => /database connection lost|terminating connection/.test(l))).toEqual([]);
    daemon.signal('SIGTERM');
    expect(await daemon.waitForExit(30_000)).toEqual({ code: 0, signal: null });
    await waitFor('the server stopped with the daemon', () => !alive(pid), 10_000, 50);
  });

  it('a server left by a daemon that was killed is used, not doubled, and stopped by the last command', async () => {
    const daemon = await startDaemon();
    const pid = postmasterPid()!;
    // SIGKILL to the daemon alone: its server, in a session of its own, keeps running.
    daemon.signal('SIGKILL');
    await daemon.waitForExit(10_000);
    expect(alive(pid)).toBe(true);
    const before = serverLog().started;
    const r = await xt('list');
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    expect(serverLog().started).toBe(before);
    // No live process uses it any more: the command stopped it.
    await waitFor('the orphaned server stopped', () => !alive(pid), 10_000, 50);
    expect(serverLog().refused).toBe(0);
  });

  it('Ctrl-C during a command lets go of the server: the last user stops it, and the command exits 130', async () => {
    const daemon = await startDaemon();
    const pid = postmasterPid()!;
    const { url } = JSON.parse(fs.readFileSync(path.join(dataDir, 'embedded-postgres.json'), 'utf8')) as { url: string };
    // Keep the command waiting: a lock its query must wait for, held by a connection of the test's own.
    const holder = new pg.Client({ connectionString: url });
    holder.on('error', () => undefined);
    await holder.connect();
    await holder.query('BEGIN; LOCK TABLE xtbatch.batch IN ACCESS EXCLUSIVE MODE');
    daemon.signal('SIGKILL');
    await daemon.waitForExit(10_000);
    const cmd = spawnXt(['list', '--config', config], { detached: true });
    // Observed from another connection: statistics views are frozen within the holder's transaction.
    const observer = new pg.Client({ connectionString: url });
    observer.on('error', () => undefined);
    await observer.connect();
    await waitFor('the command waiting for the lock', async () => (await observer.query(
      `SELECT 1 FROM pg_stat_activity WHERE application_name = 'xtconnect cli' AND wait_event_type = 'Lock'`)).rowCount! > 0, 30_000, 100);
    await observer.end();
    process.kill(-cmd.pid, 'SIGINT');
    expect(await cmd.waitForExit(30_000)).toEqual({ code: 130, signal: null });
    await holder.end().catch(() => undefined);
    // It was the last live process using the server (the daemon was killed): the server is stopped.
    await waitFor('the server stopped', () => !alive(pid), 10_000, 50);
    expect(postmasterPid()).toBeNull();
  });
});
