import { createTestDatabase, type TestDatabase } from '../support/db';
import { killAll, removeTempDirs } from '../support/proc';
import { startTcpProxy, type TcpProxy } from '../support/tcpProxy';
import { waitFor } from '../support/wait';
import { startChaosDaemon, stopDaemon } from './support/daemons';
import { summary } from './support/intervals';
import { jobStates, submitMail } from './support/jobs';
import { startRecordingSmtp, type RecordingSmtp } from './support/recordingSmtp';

// (f) The connection breaks while the server runs a claim: the server commits it, and its answer never reaches the
// daemon. The job is then marked running under the daemon's name, and nobody runs it. The daemon must put it back
// as soon as the database answers again. It must not wait for the lease to expire, and the rescue must not count an
// attempt for a job that never ran. The claim is made slow by a trigger that sleeps once, on the first row a claim
// takes, so that the test can cut the connection while the statement runs.

const LEASE_SECONDS = 40;

let db: TestDatabase;
let smtp: RecordingSmtp;
let pgProxy: TcpProxy;

beforeEach(async () => {
  db = await createTestDatabase();
  smtp = await startRecordingSmtp();
  const direct = new URL(db.url);
  pgProxy = await startTcpProxy({ host: direct.hostname, port: Number(direct.port || 5432) });
  await db.pool.query(`
    CREATE TABLE public.claim_slept (at timestamptz NOT NULL DEFAULT clock_timestamp());
    CREATE FUNCTION public.slow_first_claim() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF OLD.batch_started IS NULL AND NEW.batch_started IS NOT NULL AND NOT EXISTS (SELECT 1 FROM public.claim_slept) THEN
        INSERT INTO public.claim_slept DEFAULT VALUES;
        PERFORM pg_sleep(3);
      END IF;
      RETURN NEW;
    END $$;
    CREATE TRIGGER slow_first_claim BEFORE UPDATE ON xtbatch.batch FOR EACH ROW EXECUTE FUNCTION public.slow_first_claim();`);
});
afterEach(async () => {
  await killAll();
  await pgProxy?.close();
  await smtp?.close();
  await db?.drop();
});
afterAll(() => removeTempDirs());

test('a claim whose answer the cut connection lost is put back at once, its attempt not counted, and the job runs once', async () => {
  const d = await startChaosDaemon({ url: pgProxy.url(db.url), smtpPort: smtp.port, leaseSeconds: LEASE_SECONDS });
  const id = (await submitMail(db.pool, ['lost1'])).get('lost1')!;

  await waitFor('the claim sleeping in the trigger', async () => {
    const { rows } = await db.pool.query(
      `SELECT 1 FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND state = 'active' AND wait_event = 'PgSleep'
          AND query ILIKE '%UPDATE xtbatch.batch%'`);
    return rows.length > 0;
  }, 20_000);
  await pgProxy.cut();
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
