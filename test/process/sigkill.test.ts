import { writeConfigFile } from '../support/config';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { daemonYaml, killAll, removeTempDirs, spawnXt, tempDir, type XtProcess } from '../support/proc';
import { startSmtp, type TestSmtp } from '../support/smtp';
import { startTcpProxy, type TcpProxy } from '../support/tcpProxy';
import { waitFor } from '../support/wait';
import { jobRow, submitEmailAsErp, type JobRow } from './helpers';

// A daemon process that dies without a word (SIGKILL, OOM killer, power loss) while it is sending a message.
// Its lease runs out and another daemon takes the job back and runs it; the mail server gets the message once.

let db: TestDatabase;
let smtp: TestSmtp;
/** In front of the SMTP server, to see when a daemon has handed over a whole message. */
let smtpProxy: TcpProxy;

beforeAll(async () => {
  db = await createTestDatabase();
});
beforeEach(async () => {
  smtp = await startSmtp();
  smtpProxy = await startTcpProxy({ host: '127.0.0.1', port: smtp.port }, { capture: true });
});
afterEach(async () => {
  await killAll();
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

/** `xtconnect start` as a child process (lease 2 s); resolves with its daemon id once it logs that it started. */
async function startChild(): Promise<{ proc: XtProcess; id: string }> {
  const dir = tempDir();
  const file = writeConfigFile(dir, daemonYaml({ url: db.url, smtpPort: smtpProxy.port, dataDir: dir, daemon: { leaseSeconds: 2 } }));
  const proc = spawnXt(['start', '--config', file]);
  const line = await proc.waitForLine(/\[daemon\] daemon \S+ started/);
  const id = /daemon (\S+) started/.exec(line)![1]!;
  expect(id).toContain(`:${proc.pid}:`);
  return { proc, id };
}

/** Waits until daemon `owner` holds job `id` and has sent the whole message, which the server holds unanswered. */
async function waitUntilMidSend(id: number, owner: string): Promise<void> {
  await waitFor(`job ${id} started by ${owner}`, async () => {
    const r = await row(id);
    return r.batch_started !== null && r.batch_completed === null && r.batch_locked_by === owner;
  });
  await waitFor('the message handed to the SMTP server (end of DATA sent)', () => smtpProxy.clientText().includes('\r\n.\r\n'));
  await waitFor('the SMTP server holding the message unanswered', () => smtp.held === 1);
  expect(smtp.messages).toHaveLength(0);
}

async function killHard(p: XtProcess): Promise<void> {
  p.signal('SIGKILL');
  expect(await p.waitForExit()).toEqual({ code: null, signal: 'SIGKILL' });
}

describe('a daemon killed with SIGKILL in the middle of a job', () => {
  it('has the job taken back by another daemon after its lease expires, and the message is sent exactly once', async () => {
    smtp.mode = 'stall';
    const a = await startChild();
    const id = await submitEmail('killed mid-send');
    await waitUntilMidSend(id, a.id);

    await killHard(a.proc);
    // The server never answered the dead daemon's DATA: that message is lost with its connection.
    smtp.dropStalled();
    const orphan = await row(id);
    expect(orphan).toMatchObject({ batch_locked_by: a.id, batch_completed: null, batch_attempts: 1 });
    expect(orphan.batch_started).not.toBeNull();

    const b = await startChild();
    const done = await waitFor(`job ${id} finished`, async () => {
      const r = await row(id);
      return r.batch_completed !== null ? r : null;
    }, 20_000, 50);
    expect(done.batch_exitstatus).toBe('');
    expect(done.batch_attempts).toBe(2);
    expect(done.batch_locked_by).toBe(b.id);
    expect(done.batch_last_error).toBe(`the daemon running it (${a.id}) stopped responding (lease expired); taken back`);
    await b.proc.waitForLine(`[rescuer] job ${id} (Email): its daemon stopped responding; due again`);
    await b.proc.waitForLine(/\[job\] done in \d+ ms batchId=\d+/);

    b.proc.signal('SIGTERM');
    expect(await b.proc.waitForExit()).toEqual({ code: 0, signal: null });
    expect(smtp.messages).toHaveLength(1);
    expect(smtp.messages[0]!.parsed.headers.get('x-xtconnect-batch-id')).toBe(String(id));
    expect(smtp.messages[0]!.parsed.subject).toBe('killed mid-send');
  });

  it('fails the job, naming the dead daemon, when it had no attempts left', async () => {
    smtp.mode = 'stall';
    const a = await startChild();
    const id = await submitEmail('last attempt');
    await db.pool.query('UPDATE xtbatch.batch SET batch_max_attempts = 1 WHERE batch_id = $1', [id]);
    await waitUntilMidSend(id, a.id);

    await killHard(a.proc);
    smtp.dropStalled();

    const b = await startChild();
    const failed = await waitFor(`job ${id} finished`, async () => {
      const r = await row(id);
      return r.batch_completed !== null ? r : null;
    }, 20_000, 50);
    expect(failed.batch_exitstatus).toBe(
      `the daemon running it (${a.id}) stopped responding on attempt 1 of 1, and no attempts are left; check that daemon's log, then retry the job`,
    );
    expect(failed.batch_attempts).toBe(1);
    await b.proc.waitForLine(`[rescuer] job ${id} (Email): its daemon stopped responding; failed (no attempts left)`);
    const state = await db.pool.query<{ state: string }>('SELECT state FROM xtbatch.job WHERE batch_id = $1', [id]);
    expect(state.rows[0]!.state).toBe('failed');
    expect(smtp.messages).toHaveLength(0);
  });
});
