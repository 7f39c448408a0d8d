import { writeConfigFile } from '../support/config';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { daemonYaml, killAll, removeTempDirs, spawnXt, tempDir, type XtProcess } from '../support/proc';
import { startSmtp, type TestSmtp } from '../support/smtp';
import { startTcpProxy, type TcpProxy } from '../support/tcpProxy';
import { waitFor } from '../support/wait';

// The network between a daemon and PostgreSQL fails (failover, a firewall, a restart) while jobs run and more are
// queued. The daemon must neither exit nor lose or repeat work: outcomes wait in memory, claims resume.

let db: TestDatabase;
let smtp: TestSmtp;
/** Between the daemon and PostgreSQL; the test's own pool (db.pool) connects directly. */
let pgProxy: TcpProxy;

beforeAll(async () => {
  db = await createTestDatabase();
});
beforeEach(async () => {
  smtp = await startSmtp();
  const direct = new URL(db.url);
  pgProxy = await startTcpProxy({ host: direct.hostname, port: Number(direct.port || 5432) });
});
afterEach(async () => {
  await killAll();
  await pgProxy.close();
  smtp.dropStalled();
  await smtp.close();
  await db.pool.query('TRUNCATE xtbatch.batch, xtbatch.batchparam, xtbatch.daemon CASCADE');
});
afterAll(async () => {
  await killAll();
  await db.drop();
  removeTempDirs();
});

async function submitEmails(prefix: string, n: number): Promise<number[]> {
  const ids: number[] = [];
  for (let i = 0; i < n; i++) {
    const { rows } = await db.pool.query<{ id: number }>(
      `SELECT xtbatch.submitEmailToBatch('f@x.y', 'to@example.com', NULL, $1, 'body', NULL, NULL::timestamp, false, NULL, NULL) AS id`,
      [`${prefix} ${i}`],
    );
    ids.push(rows[0]!.id);
  }
  return ids;
}

interface Row {
  batch_id: number;
  state: string;
  batch_attempts: number;
  batch_locked_by: string | null;
  batch_exitstatus: string | null;
}

async function rows(ids: number[]): Promise<Row[]> {
  const r = await db.pool.query<Row>(
    `SELECT batch_id, state, batch_attempts, batch_locked_by, batch_exitstatus FROM xtbatch.job WHERE batch_id = ANY ($1) ORDER BY batch_id`,
    [ids],
  );
  return r.rows;
}

async function startChild(leaseSeconds = 60): Promise<{ proc: XtProcess; id: string }> {
  const dir = tempDir();
  const file = writeConfigFile(dir, daemonYaml({
    url: pgProxy.url(db.url),
    smtpPort: smtp.port,
    dataDir: dir,
    daemon: { leaseSeconds, concurrency: 10 },
  }));
  const proc = spawnXt(['start', '--config', file]);
  const line = await proc.waitForLine(/\[daemon\] daemon \S+ started/);
  return { proc, id: /daemon (\S+) started/.exec(line)![1]! };
}

function headerIds(): number[] {
  return smtp.messages.map((m) => Number(m.parsed.headers.get('x-xtconnect-batch-id'))).sort((a, b) => a - b);
}

describe('losing the database', () => {
  it('keeps the daemon alive through the outage, and every job, running or queued, ends done exactly once', async () => {
    // A lease far longer than the outage: this is about riding it out, not about rescue.
    const d = await startChild(60);
    expect(pgProxy.forwarded).toBeGreaterThan(0);

    // Three jobs running (the mail server holds each message), then the network to PostgreSQL fails.
    smtp.mode = 'stall';
    const running = await submitEmails('running', 3);
    await waitFor('three jobs running on the daemon', async () =>
      (await rows(running)).every((r) => r.state === 'running' && r.batch_locked_by === d.id));
    const mark = d.proc.lines.length;
    await pgProxy.cut();

    // While cut off: more jobs are queued (the ERP still reaches the database), the daemon notices.
    const queued = await submitEmails('queued', 3);
    await d.proc.waitForLine(/database unreachable/, { from: mark });
    expect(d.proc.alive()).toBe(true);

    // The running jobs finish at the mail server; their outcomes cannot be written yet and must be kept.
    smtp.release();
    await smtp.waitForMessages(3);
    const recordFailed = /\[completer\] could not record \d+ job outcome\(s\), database unreachable/;
    await d.proc.waitForLine(recordFailed, { from: mark });
    // Stay cut off until the daemon has retried and failed again: it backs off and keeps trying, it does not give up.
    const firstFailure = d.proc.lines.findIndex((l, i) => i >= mark && recordFailed.test(l));
    await d.proc.waitForLine(recordFailed, { from: firstFailure + 1, timeoutMs: 20_000 });
    expect(d.proc.alive()).toBe(true);
    expect(pgProxy.refused).toBeGreaterThan(0);
    expect((await rows(running)).map((r) => r.state)).toEqual(['running', 'running', 'running']);
    expect((await rows(queued)).map((r) => r.state)).toEqual(['scheduled', 'scheduled', 'scheduled']);

    pgProxy.restore();
    const all = [...running, ...queued];
    await waitFor('all six jobs done', async () => (await rows(all)).every((r) => r.state === 'done'), 40_000, 100);
    await d.proc.waitForLine(/database reachable again after \d+ failed attempt\(s\)/, { from: mark });
    expect(d.proc.alive()).toBe(true);

    const final = await rows(all);
    for (const r of final) {
      expect(r).toMatchObject({ state: 'done', batch_attempts: 1, batch_locked_by: d.id, batch_exitstatus: '' });
    }
    expect(headerIds()).toEqual([...all].sort((a, b) => a - b));
    expect(d.proc.stderr).not.toMatch(/not recorded/);

    d.proc.signal('SIGTERM');
    expect(await d.proc.waitForExit()).toEqual({ code: 0, signal: null });
    expect(smtp.messages).toHaveLength(6);
  });

  it('starts while the database is unreachable and begins work once it comes back', async () => {
    await pgProxy.cut();
    const dir = tempDir();
    const file = writeConfigFile(dir, daemonYaml({ url: pgProxy.url(db.url), smtpPort: smtp.port, dataDir: dir }));
    const proc = spawnXt(['start', '--config', file]);
    await proc.waitForLine(/\[daemon\] database unreachable .*; waiting for it/);
    const ids = await submitEmails('waiting for the database', 2);
    expect(proc.alive()).toBe(true);

    pgProxy.restore();
    await proc.waitForLine(/\[daemon\] daemon \S+ started/, { timeoutMs: 20_000 });
    await waitFor('both jobs done', async () => (await rows(ids)).every((r) => r.state === 'done'), 20_000, 100);
    expect(headerIds()).toEqual(ids);
    proc.signal('SIGTERM');
    expect(await proc.waitForExit()).toEqual({ code: 0, signal: null });
  });

  it('does not take back, and run a second time, the jobs it is still running when the outage outlasted their lease', async () => {
    // Lease renewals every 100 s, the rescuer every 2 s (maintenanceIntervalSeconds 1). The outage is made to
    // outlast the lease by moving the lease expiry into the past while the daemon is cut off, instead of waiting.
    const d = await startChild(300);
    smtp.mode = 'stall';
    const ids = await submitEmails('long outage', 3);
    await waitFor('three jobs running on the daemon', async () =>
      (await rows(ids)).every((r) => r.state === 'running' && r.batch_locked_by === d.id));

    const mark = d.proc.lines.length;
    await pgProxy.cut();
    await d.proc.waitForLine(/database unreachable/, { from: mark });
    await db.pool.query(`UPDATE xtbatch.batch SET batch_lease_expires = now() - interval '1 second' WHERE batch_id = ANY ($1)`, [ids]);
    const before = (await db.pool.query<{ hb: Date }>('SELECT daemon_heartbeat AS hb FROM xtbatch.daemon WHERE daemon_id = $1', [d.id])).rows[0]!.hb;
    pgProxy.restore();

    // Back for three heartbeats (maintenance rounds of 1 s): at least one full rescuer period of 2 s.
    const seen = new Set<number>();
    await waitFor('the daemon back at work for three heartbeats', async () => {
      const hb = (await db.pool.query<{ hb: Date }>('SELECT daemon_heartbeat AS hb FROM xtbatch.daemon WHERE daemon_id = $1', [d.id])).rows[0]!.hb;
      if (hb.getTime() > before.getTime()) seen.add(hb.getTime());
      return seen.size >= 3;
    }, 20_000, 50);

    // The daemon is alive and still running all three: they are its own, not a dead daemon's.
    expect(d.proc.stderr).not.toMatch(/\[rescuer\] job \d+/);
    for (const r of await rows(ids)) {
      expect(r).toMatchObject({ state: 'running', batch_attempts: 1, batch_locked_by: d.id });
    }

    smtp.release();
    await waitFor('all three done', async () => (await rows(ids)).every((r) => r.state === 'done'), 30_000, 100);
    expect(headerIds()).toEqual(ids);
    for (const r of await rows(ids)) expect(r.batch_attempts).toBe(1);
  });
});
