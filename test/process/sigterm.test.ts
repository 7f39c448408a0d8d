import { testConfig, writeConfigFile } from '../support/config';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { startDaemon, type RunningDaemon } from '../support/daemon';
import { daemonYaml, killAll, removeTempDirs, spawnXt, tempDir, type XtProcess } from '../support/proc';
import { startSmtp, type TestSmtp } from '../support/smtp';
import { startTcpProxy, type TcpProxy } from '../support/tcpProxy';
import { waitFor } from '../support/wait';
import { jobRow, submitEmailAsErp, type JobRow } from './helpers';

// SIGTERM (systemctl stop, docker stop, a deploy) drains: no new claims, running jobs may finish within
// daemon.drainTimeoutSeconds, the rest are put back as if never started, and the daemon deregisters.

let db: TestDatabase;
let smtp: TestSmtp;
let smtpProxy: TcpProxy;
const inProcess: RunningDaemon[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
});
beforeEach(async () => {
  smtp = await startSmtp();
  smtpProxy = await startTcpProxy({ host: '127.0.0.1', port: smtp.port }, { capture: true });
});
afterEach(async () => {
  await killAll();
  await Promise.all(inProcess.splice(0).map((d) => d.stop(0)));
  await smtpProxy.close();
  smtp.dropStalled();
  await smtp.close();
  await db.pool.query('TRUNCATE xtbatch.batch, xtbatch.batchparam, xtbatch.daemon CASCADE');
});
afterAll(async () => {
  await killAll();
  await db.drop();
  removeTempDirs();
});

const row = (id: number): Promise<JobRow> => jobRow(db, id);
const submitEmail = (subject: string): Promise<number> => submitEmailAsErp(db, subject);

async function daemonRows(): Promise<string[]> {
  const { rows } = await db.pool.query<{ daemon_id: string }>('SELECT daemon_id FROM xtbatch.daemon');
  return rows.map((r) => r.daemon_id);
}

async function startChild(drainTimeoutSeconds: number): Promise<{ proc: XtProcess; id: string }> {
  const dir = tempDir();
  const file = writeConfigFile(dir, daemonYaml({ url: db.url, smtpPort: smtpProxy.port, dataDir: dir, daemon: { leaseSeconds: 2, drainTimeoutSeconds } }));
  const proc = spawnXt(['start', '--config', file]);
  const line = await proc.waitForLine(/\[daemon\] daemon \S+ started/);
  const id = /daemon (\S+) started/.exec(line)![1]!;
  await waitFor('the daemon registered', async () => (await daemonRows()).includes(id));
  return { proc, id };
}

/** Queues a message and waits until the child holds the job and the SMTP server holds the message unanswered. */
async function jobInFlight(owner: string, subject: string): Promise<number> {
  smtp.mode = 'stall';
  const id = await submitEmail(subject);
  await waitFor(`job ${id} started by ${owner}`, async () => {
    const r = await row(id);
    return r.batch_started !== null && r.batch_locked_by === owner;
  });
  await waitFor('the whole message sent to the SMTP server', () => smtpProxy.clientText().includes('\r\n.\r\n'));
  await waitFor('the SMTP server holding the message unanswered', () => smtp.held === 1);
  return id;
}

describe('SIGTERM', () => {
  it('lets the running job finish, then exits 0 and deregisters', async () => {
    const d = await startChild(20);
    const id = await jobInFlight(d.id, 'drained');

    const mark = d.proc.lines.length;
    d.proc.signal('SIGTERM');
    await d.proc.waitForLine('[daemon] SIGTERM received: stopping', { from: mark });
    await d.proc.waitForLine('[daemon] stopping: waiting up to 20 s for 1 running job(s)', { from: mark });
    // Draining: the job is still ours and still running, and the process waits for it.
    expect(d.proc.alive()).toBe(true);
    expect(await row(id)).toMatchObject({ batch_completed: null, batch_locked_by: d.id });

    smtp.release();
    expect(await d.proc.waitForExit()).toEqual({ code: 0, signal: null });
    expect(d.proc.stderr).toContain(`[daemon] daemon ${d.id} stopped`);
    expect(d.proc.stderr).not.toContain('drain timeout');

    const r = await row(id);
    expect(r.batch_completed).not.toBeNull();
    expect(r.batch_exitstatus).toBe('');
    expect(r.batch_attempts).toBe(1);
    expect(r.batch_lease_expires).toBeNull();
    expect(smtp.messages).toHaveLength(1);
    expect(smtp.messages[0]!.parsed.subject).toBe('drained');
    expect(await daemonRows()).toEqual([]);
  });

  it('claims nothing new while draining', async () => {
    const d = await startChild(20);
    const first = await jobInFlight(d.id, 'in flight');
    const mark = d.proc.lines.length;
    d.proc.signal('SIGTERM');
    await d.proc.waitForLine('[daemon] stopping: waiting up to 20 s', { from: mark });
    const second = await submitEmail('queued during the drain');

    smtp.release();
    expect(await d.proc.waitForExit()).toEqual({ code: 0, signal: null });
    expect((await row(first)).batch_exitstatus).toBe('');
    expect(await row(second)).toMatchObject({ batch_started: null, batch_completed: null, batch_attempts: 0, batch_locked_by: null });
    expect(smtp.messages.map((m) => m.parsed.subject)).toEqual(['in flight']);
  });

  it('puts the job back untouched when the drain timeout passes, exits 0, and the next daemon runs it once', async () => {
    const d = await startChild(1);
    const id = await jobInFlight(d.id, 'put back');

    const mark = d.proc.lines.length;
    d.proc.signal('SIGTERM');
    expect(await d.proc.waitForExit(15_000)).toEqual({ code: 0, signal: null });
    const said = d.proc.lines.slice(mark).join('\n');
    expect(said).toContain('[daemon] stopping: waiting up to 1 s for 1 running job(s)');
    expect(said).toContain('[daemon] drain timeout: putting back 1 unfinished job(s)');
    expect(said).toContain('put back unfinished (shutdown); it will run again');
    expect(said).toContain(`[daemon] daemon ${d.id} stopped`);

    // As if it had never started: due again, with its attempt given back.
    expect(await row(id)).toEqual({
      batch_id: id,
      batch_started: null,
      batch_completed: null,
      batch_exitstatus: null,
      batch_attempts: 0,
      batch_locked_by: null,
      batch_lease_expires: null,
      batch_last_error: null,
    });
    expect(await daemonRows()).toEqual([]);
    const state = await db.pool.query<{ state: string }>('SELECT state FROM xtbatch.job WHERE batch_id = $1', [id]);
    expect(state.rows[0]!.state).toBe('scheduled');

    // The server never answered the stopped daemon; the next daemon sends the message, once.
    smtp.dropStalled();
    expect(smtp.messages).toHaveLength(0);
    inProcess.push(await startDaemon(testConfig(db.url, {
      smtp: { host: '127.0.0.1', port: smtp.port, security: 'none', user: null, password: null, rejectUnauthorized: true, maxConnections: 1, connectionTimeoutMs: 5000 },
    })));
    const done = await waitFor(`job ${id} done`, async () => {
      const r = await row(id);
      return r.batch_completed !== null ? r : null;
    });
    expect(done.batch_exitstatus).toBe('');
    expect(done.batch_attempts).toBe(1);
    expect(smtp.messages.map((m) => m.parsed.subject)).toEqual(['put back']);
  });

  it('a second SIGTERM puts the running job back at once instead of waiting out the drain', async () => {
    const d = await startChild(30);
    const id = await jobInFlight(d.id, 'hurried');
    const mark = d.proc.lines.length;
    d.proc.signal('SIGTERM');
    await d.proc.waitForLine('[daemon] stopping: waiting up to 30 s for 1 running job(s)', { from: mark });
    d.proc.signal('SIGTERM');
    await d.proc.waitForLine('[daemon] SIGTERM received again: putting running jobs back now', { from: mark });
    // Well inside the 30 s drain: the second signal, not the timeout, ended it.
    expect(await d.proc.waitForExit(10_000)).toEqual({ code: 0, signal: null });
    expect(await row(id)).toMatchObject({ batch_started: null, batch_completed: null, batch_attempts: 0, batch_locked_by: null });
    expect(await daemonRows()).toEqual([]);
  });
});
