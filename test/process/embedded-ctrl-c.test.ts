import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { writeConfigFile } from '../support/config';
import { daemonYaml, killAll, removeTempDirs, runXt, spawnXt, tempDir, type XtProcess } from '../support/proc';
import { waitFor } from '../support/wait';

// Ctrl-C in a terminal sends SIGINT to the whole foreground process group, not to one process. The daemon (run
// here in a process group of its own, as a shell runs a foreground job) must drain and record every outcome while
// the embedded PostgreSQL keeps running, and only then stop it: the server runs in a session of its own.

jest.setTimeout(120_000);

afterEach(async () => {
  await killAll();
});
afterAll(() => {
  removeTempDirs();
});

/** What a terminal does on Ctrl-C: SIGINT to every process of the foreground group. */
function ctrlC(p: XtProcess): void {
  process.kill(-p.pid, 'SIGINT');
}

/** Lines that mean the database went away under the daemon, or an outcome was not written. */
const LOST = /terminating connection|database connection lost|could not record|connection terminated|ECONNREFUSED/i;

interface Setup {
  dataDir: string;
  config: string;
}

function setup(extraDaemon: Record<string, number> = {}): Setup {
  const parent = tempDir('xtconnect-ctrlc-');
  fs.chmodSync(parent, 0o755);
  const dataDir = path.join(parent, 'state');
  fs.mkdirSync(dataDir, { mode: 0o755 });
  // Leases short enough that a lost renewal would show within the 8-second job.
  const config = writeConfigFile(parent, daemonYaml({ dataDir, daemon: { drainTimeoutSeconds: 60, ...extraDaemon } }));
  return { dataDir, config };
}

async function startDaemon(s: Setup): Promise<XtProcess> {
  const p = spawnXt(['start', '--config', s.config], { detached: true });
  await p.waitForLine(/\[daemon\] daemon \S+ started/, { timeoutMs: 60_000 });
  return p;
}

async function onEmbedded<T>(s: Setup, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const { url } = JSON.parse(fs.readFileSync(path.join(s.dataDir, 'embedded-postgres.json'), 'utf8')) as { url: string };
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

function postmasterPid(s: Setup): number | null {
  try {
    return Number.parseInt(fs.readFileSync(path.join(s.dataDir, 'postgres', 'postmaster.pid'), 'utf8'), 10);
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

describe('Ctrl-C (SIGINT to the process group) with the embedded PostgreSQL', () => {
  it('lets an 8-second job finish and be recorded, then stops the database, and exits 0', async () => {
    const s = setup();
    const daemon = await startDaemon(s);
    const serverPid = postmasterPid(s);
    expect(serverPid).not.toBeNull();
    // The server is not in the daemon's process group (the terminal's), so Ctrl-C does not reach it.
    expect(fs.readFileSync(`/proc/${serverPid}/stat`, 'utf8').split(') ')[1]!.split(' ')[2]).not.toBe(String(daemon.pid));

    // An ERP action that works inside the embedded database for 8 seconds: its connection must survive the drain.
    await onEmbedded(s, (c) => c.query(`
      CREATE TABLE public.slow_done (id serial PRIMARY KEY, slept_ms integer NOT NULL, finished timestamptz NOT NULL DEFAULT clock_timestamp());
      CREATE FUNCTION public.slow_job(ms integer) RETURNS integer LANGUAGE plpgsql AS $$
      BEGIN
        PERFORM pg_sleep(ms / 1000.0);
        INSERT INTO public.slow_done (slept_ms) VALUES (ms);
        RETURN ms;
      END $$;
      INSERT INTO xtbatch.action (action_name, action_schema, action_function, action_args)
      VALUES ('SlowJob', 'public', 'slow_job', '[{"param": "ms", "type": "integer", "required": true}]');`));
    const submitted = await runXt(['submit', 'action', 'SlowJob', '--config', s.config, '--param', 'ms=8000']);
    expect({ code: submitted.code, stderr: submitted.stderr }).toEqual({ code: 0, stderr: '' });
    const id = Number(submitted.stdout.trim());
    // Sleeping in the database now: the job is running. Found by its wait, not its statement text: ERP actions
    // are called through xtbatch.xtconnect_run_actions, so the function's name is not in the query.
    const startedAt = await waitFor(`job ${id} sleeping in the database`, async () => onEmbedded(s, async (c) => {
      const r = await c.query(`SELECT 1 FROM pg_stat_activity WHERE wait_event = 'PgSleep' AND state = 'active' AND pid <> pg_backend_pid()`);
      return r.rowCount ? Date.now() : null;
    }), 30_000, 100);

    const mark = daemon.lines.length;
    ctrlC(daemon);
    await daemon.waitForLine(/\[daemon\] stopping: waiting up to \d+ s for 1 running job\(s\)/, { from: mark });
    const exit = await daemon.waitForExit(60_000);
    const said = daemon.lines.slice(mark);
    const stopped = said.findIndex((l) => /\[daemon\] daemon \S+ stopped/.test(l));
    const dbStopped = said.findIndex((l) => /\[embedded\] embedded PostgreSQL stopped/.test(l));
    expect({ exit, lost: said.filter((l) => LOST.test(l)) }).toEqual({ exit: { code: 0, signal: null }, lost: [] });
    // The job ran its 8 seconds; the daemon stopped after it, and the database after the daemon.
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(7_000);
    expect(stopped).toBeGreaterThanOrEqual(0);
    expect(dbStopped).toBeGreaterThan(stopped);
    expect(alive(serverPid!)).toBe(false);
    expect(postmasterPid(s)).toBeNull();

    // With the daemon stopped, the CLI reads the outcome from the embedded database (starting it for itself).
    const show = await runXt(['show', String(id), '--json', '--config', s.config], { timeoutMs: 60_000 });
    expect({ code: show.code, stderr: show.stderr }).toEqual({ code: 0, stderr: '' });
    const job = JSON.parse(show.stdout) as { job: { state: string; batch_attempts: number; batch_exitstatus: string | null } };
    expect({ state: job.job.state, attempts: job.job.batch_attempts, exitstatus: job.job.batch_exitstatus }).toEqual({ state: 'done', attempts: 1, exitstatus: '' });
    expect(postmasterPid(s)).toBeNull();
  });

  it('an idle daemon stops on Ctrl-C with no lost connection, then its database', async () => {
    const s = setup();
    const daemon = await startDaemon(s);
    const serverPid = postmasterPid(s)!;
    await daemon.waitForLine(/\[listener\] LISTEN on /, { timeoutMs: 15_000 });
    const mark = daemon.lines.length;
    ctrlC(daemon);
    const exit = await daemon.waitForExit(30_000);
    const said = daemon.lines.slice(mark);
    expect({ exit, lost: said.filter((l) => LOST.test(l) || /\b(warn|error)\b/.test(l)) }).toEqual({ exit: { code: 0, signal: null }, lost: [] });
    expect(said.findIndex((l) => /\[embedded\] embedded PostgreSQL stopped/.test(l)))
      .toBeGreaterThan(said.findIndex((l) => /\[daemon\] daemon \S+ stopped/.test(l)));
    await waitFor('the embedded server gone', () => !alive(serverPid), 10_000, 50);
    expect(fs.existsSync(path.join(s.dataDir, 'embedded-postgres.json'))).toBe(false);
  });
});
