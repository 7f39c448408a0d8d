import { createTestDatabase, type TestDatabase } from '../support/db';
import { killAll, removeTempDirs } from '../support/proc';
import { startTcpProxy, type TcpProxy } from '../support/tcpProxy';
import { waitFor } from '../support/wait';
import { startChaosDaemon, stopDaemon } from './support/daemons';
import { summary } from './support/intervals';
import { erpExecutions, installLedger, jobStates, submitErp, submitMail } from './support/jobs';
import { startRecordingSmtp, type RecordingSmtp } from './support/recordingSmtp';

// (f) The connection breaks while the server runs one of the daemon's statements: the server commits it, and its
// answer never reaches the daemon.
// - A claim: the job is then marked running under the daemon's name, and nobody runs it. The daemon must put it
//   back as soon as the database answers again. It must not wait for the lease to expire, and the rescue must not
//   count an attempt for a job that never ran.
// - An outcome: the retry finds the row finished, and the finish's guard no longer matches it. The daemon must see
//   that its own earlier try wrote it, not log it as "not recorded", taken back by someone else.
// - The COMMIT of an ERP action's transaction, which carries the job's work and its "done": the daemon takes the
//   transaction for failed and writes "retry", which the guard refuses (the row is done). It must report the job
//   done, once, and not run it again.
// A trigger makes the statement sleep once, on the first row it changes that way, so that the test can cut the
// connection while the statement runs.

const LEASE_SECONDS = 40;

let db: TestDatabase;
let smtp: RecordingSmtp;
let pgProxy: TcpProxy;

beforeEach(async () => {
  db = await createTestDatabase();
  smtp = await startRecordingSmtp();
  const direct = new URL(db.url);
  pgProxy = await startTcpProxy({ host: direct.hostname, port: Number(direct.port || 5432) });
});
afterEach(async () => {
  await killAll();
  await pgProxy?.close();
  await smtp?.close();
  await db?.drop();
});
afterAll(() => removeTempDirs());

/**
 * The first UPDATE of xtbatch.batch that claims a row (or finishes one) sleeps 3 s in a trigger; the others do not.
 * 'commit': the sleep is in a deferred trigger, so it happens inside the COMMIT of the transaction that finished it.
 */
async function slowOnce(when: 'claim' | 'finish' | 'commit'): Promise<void> {
  const change = when === 'claim' ? 'OLD.batch_started IS NULL AND NEW.batch_started IS NOT NULL'
    : 'OLD.batch_completed IS NULL AND NEW.batch_completed IS NOT NULL';
  const trigger = when === 'commit'
    ? 'CREATE CONSTRAINT TRIGGER slow_once AFTER UPDATE ON xtbatch.batch DEFERRABLE INITIALLY DEFERRED'
    : 'CREATE TRIGGER slow_once BEFORE UPDATE ON xtbatch.batch';
  await db.pool.query(`
    CREATE TABLE public.slept (at timestamptz NOT NULL DEFAULT clock_timestamp());
    CREATE FUNCTION public.slow_once() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF ${change} AND NOT EXISTS (SELECT 1 FROM public.slept) THEN
        INSERT INTO public.slept DEFAULT VALUES;
        PERFORM pg_sleep(3);
      END IF;
      RETURN NEW;
    END $$;
    ${trigger} FOR EACH ROW EXECUTE FUNCTION public.slow_once();`);
}

/**
 * Cuts the daemon's connections while a statement sleeps in the trigger: in this test's database only, since other
 * suites running at the same time sleep in theirs (a cut before the sleep would leave nothing to commit).
 */
async function cutWhileItSleeps(): Promise<void> {
  await waitFor('the statement sleeping in the trigger', async () => {
    const { rows } = await db.pool.query(
      `SELECT 1 FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND state = 'active' AND wait_event = 'PgSleep'
        AND datname = current_database()`);
    return rows.length > 0;
  }, 20_000);
  await pgProxy.cut();
}

test('a claim whose answer the cut connection lost is put back at once, its attempt not counted, and the job runs once', async () => {
  const d = await startChaosDaemon({ url: pgProxy.url(db.url), smtpPort: smtp.port, leaseSeconds: LEASE_SECONDS });
  await slowOnce('claim');
  const id = (await submitMail(db.pool, ['lost1'])).get('lost1')!;
  await cutWhileItSleeps();
  // The server finishes the statement and commits it; its answer goes to a connection that is gone.
  const claimed = await waitFor('the claim committed for the daemon', async () => {
    const s = (await jobStates(db.pool, [id])).get(id);
    return s?.state === 'running' && s.lockedBy === d.id ? s : null;
  }, 10_000);
  expect(claimed.attempts).toBe(1);
  const backAt = Date.now();
  pgProxy.restore();

  // Well inside the lease: without the put-back, the job would stay running for LEASE_SECONDS.
  const done = await waitFor('the job done', async () => {
    const s = (await jobStates(db.pool, [id])).get(id);
    return s?.state === 'done' ? s : null;
  }, 20_000, 50);
  const recoverMs = Date.now() - backAt;
  console.log(summary('(f) a claim whose answer was lost', { jobs: 1, attempts: done.attempts, delivered: smtp.deliveries().get('lost1')?.length ?? 0, leaseMs: LEASE_SECONDS * 1000, recoverMs }));
  expect(recoverMs).toBeLessThan((LEASE_SECONDS * 1000) / 2);
  expect(done).toMatchObject({ attempts: 1, lastError: null, exitstatus: '' });
  expect(smtp.deliveries().get('lost1')).toHaveLength(1);
  await d.proc.waitForLine(new RegExp(`job\\(s\\) ${id} put back: a claim took them, but the connection broke`), { timeoutMs: 1000 });
  await stopDaemon(d);
}, 90_000);

test('an outcome whose answer the cut connection lost is found written by the retry, not reported as taken back', async () => {
  const d = await startChaosDaemon({ url: pgProxy.url(db.url), smtpPort: smtp.port, leaseSeconds: LEASE_SECONDS });
  await slowOnce('finish');
  const id = (await submitMail(db.pool, ['lost2'])).get('lost2')!;
  await cutWhileItSleeps();
  await waitFor('the outcome committed', async () => (await jobStates(db.pool, [id])).get(id)?.state === 'done', 10_000);
  const from = d.proc.lines.length;
  pgProxy.restore();

  await d.proc.waitForLine(new RegExp(`outcome\\(s\\) of job\\(s\\) ${id} were recorded by the try whose answer the connection lost`), { from, timeoutMs: 20_000 });
  const state = (await jobStates(db.pool, [id])).get(id);
  expect(state).toMatchObject({ state: 'done', attempts: 1, exitstatus: '', lastError: null });
  expect(smtp.deliveries().get('lost2')).toHaveLength(1);
  expect(d.proc.lines.filter((l) => l.includes(`job ${id} not recorded`))).toEqual([]);
  await stopDaemon(d);
}, 90_000);

test('an ERP action whose COMMIT answer the cut connection lost is reported done once, not retried or "not recorded"', async () => {
  await installLedger(db.pool);
  const d = await startChaosDaemon({ url: pgProxy.url(db.url), smtpPort: smtp.port, leaseSeconds: LEASE_SECONDS });
  await slowOnce('commit');
  const [id] = await submitErp(db.pool, 1, 0);
  await cutWhileItSleeps();
  await waitFor('the transaction committed', async () => (await jobStates(db.pool, [id!])).get(id!)?.state === 'done', 10_000);
  const from = d.proc.lines.length;
  pgProxy.restore();

  await d.proc.waitForLine(new RegExp(`job ${id} is done: its work and its "done" committed, and the connection lost the COMMIT's answer; the "retry" outcome`), { from, timeoutMs: 20_000 });
  expect((await jobStates(db.pool, [id!])).get(id!)).toMatchObject({ state: 'done', attempts: 1, exitstatus: '', lastError: null });
  expect(d.proc.lines.filter((l) => l.includes(`job ${id} not recorded`))).toEqual([]);
  // Its work committed once, and it was not run again: the job's next claim would have found it due.
  await stopDaemon(d);
  expect((await erpExecutions(db.pool)).get(String(id))).toHaveLength(1);
}, 90_000);
