import pg from 'pg';
import { migrate } from '../../src/db/migrate';
import { createPool, type Pool } from '../../src/db/pool';
import { silentLogger } from '../../src/log';
import { startPgCluster, type PgCluster } from '../support/pgCluster';
import { killAll, removeTempDirs } from '../support/proc';
import { waitFor } from '../support/wait';
import { startChaosDaemon, stopDaemon, type ChaosDaemon } from './support/daemons';
import { summary, tally } from './support/intervals';
import { describeNotDone, erpExecutions, installLedger, jobStates, submitErp, submitMail } from './support/jobs';
import { startRecordingSmtp, type RecordingSmtp } from './support/recordingSmtp';

// (c) PostgreSQL restarts while two daemons work through 2,000 jobs (ERP actions and mail): once with
// `pg_ctl restart -m fast` (sessions terminated, clean shutdown) and once with `-m immediate` (crash and WAL
// recovery). Every job must end done, each ERP action committed once, each mail delivered once, no execution
// overlapping another of the same job; the test measures how long the daemons take to complete jobs again.
//
// The server is a private cluster started by the test (test/support/pgCluster.ts) on a loopback port of its own:
// the shared server on 5432 serves everyone else's tests and is never restarted.

const ERP_JOBS = 1000;
const MAIL_JOBS = 1000;
const ERP_MS = 0;

let cluster: PgCluster;
let pool: Pool;
let smtp: RecordingSmtp;

beforeAll(async () => {
  cluster = await startPgCluster();
  const admin = new pg.Client({ connectionString: cluster.url() });
  await admin.connect();
  await admin.query('CREATE DATABASE xtc_chaos');
  await admin.end();
  pool = createPool({ url: cluster.url('xtc_chaos'), max: 4, statementTimeoutMs: 0, applicationName: 'xtconnect chaos test' }, silentLogger());
  await migrate(pool);
  await installLedger(pool);
  smtp = await startRecordingSmtp();
}, 60_000);
afterAll(async () => {
  await killAll();
  await pool?.end().catch(() => undefined);
  await cluster?.stop();
  await smtp?.close();
  removeTempDirs();
});

async function completedBy(): Promise<Map<string, number>> {
  const { rows } = await pool.query<{ by: string | null; n: number }>(
    `SELECT batch_locked_by AS by, count(*)::int AS n FROM xtbatch.batch WHERE batch_completed IS NOT NULL GROUP BY 1`);
  return new Map(rows.map((r) => [r.by ?? '', r.n]));
}
const total = (m: Map<string, number>): number => [...m.values()].reduce((a, b) => a + b, 0);

/**
 * Restarts the server once `atCompleted` jobs are complete; resolves with how long the restart took and how long,
 * from its start, until every daemon had completed a job again.
 */
async function restartUnderLoad(mode: 'fast' | 'immediate', atCompleted: number, daemons: ChaosDaemon[], budget: () => number): Promise<{ restartMs: number; recoverMs: number; completedAt: number }> {
  await waitFor(`${atCompleted} jobs complete before the ${mode} restart`, async () => total(await completedBy()) >= atCompleted, budget(), 50);
  const t0 = Date.now();
  const restartMs = await cluster.restart(mode);
  const after = await waitFor('the restarted server answering the test', () => completedBy(), budget(), 50);
  await waitFor(`every daemon completing jobs again after the ${mode} restart`, async () => {
    const now = await completedBy();
    return daemons.every((d) => (now.get(d.id) ?? 0) > (after.get(d.id) ?? 0));
  }, budget(), 20);
  return { restartMs, recoverMs: Date.now() - t0, completedAt: total(after) };
}

describe('chaos (c): PostgreSQL restarted under load', () => {
  it('loses, repeats and overlaps nothing across a fast and an immediate restart of 2,000 running jobs', async () => {
    const tokens = Array.from({ length: MAIL_JOBS }, (_, i) => `c${i}`);
    const mail = await submitMail(pool, tokens);
    const erp = await submitErp(pool, ERP_JOBS, ERP_MS);
    const all = [...mail.values(), ...erp];
    const started = Date.now();
    // Every wait shares one bound, inside the test's 90 s: on a machine too loaded to finish, the test fails saying
    // how far the jobs got, instead of timing out silently.
    const budget = (): number => Math.max(1000, started + 80_000 - Date.now());
    const progress = async (): Promise<string> => `${total(await completedBy())} of ${all.length} jobs complete after ${Math.round((Date.now() - started) / 1000)} s`;
    const daemons = [
      await startChaosDaemon({ url: cluster.url('xtc_chaos'), smtpPort: smtp.port, leaseSeconds: 10, concurrency: 20 }),
      await startChaosDaemon({ url: cluster.url('xtc_chaos'), smtpPort: smtp.port, leaseSeconds: 10, concurrency: 20 }),
    ];

    const bounded = async <T>(p: Promise<T>): Promise<T> => {
      try {
        return await p;
      } catch (err) {
        throw new Error(`${(err as Error).message}; ${await progress()}`);
      }
    };
    const fast = await bounded(restartUnderLoad('fast', Math.round(all.length * 0.25), daemons, budget));
    const immediate = await bounded(restartUnderLoad('immediate', Math.round(all.length * 0.6), daemons, budget));

    await bounded(waitFor('every job finished', async () => total(await completedBy()) === all.length, budget(), 100));
    const totalMs = Date.now() - started;
    for (const d of daemons) await stopDaemon(d);

    const states = await jobStates(pool, all);
    const done = (id: number | undefined): boolean => id !== undefined && states.get(id)?.state === 'done';
    const erpT = tally(erp.map(String), await erpExecutions(pool), (k) => done(Number(k)));
    const mailT = tally(tokens, smtp.deliveries(), (t) => done(mail.get(t)));
    const notDone = describeNotDone(states);
    const deadlocks = daemons.reduce((n, d) => n + d.proc.lines.filter((l) => /deadlock detected/.test(l)).length, 0);
    // Each mail's record in xtbatch.eml, written in the statement of its job's outcome: through both restarts,
    // exactly one per mail job.
    const { rows: recs } = await pool.query<{ subj: string; n: number }>(`SELECT eml_subj AS subj, count(*)::int AS n FROM xtbatch.eml GROUP BY 1`);
    const recorded = new Map(recs.map((r) => [r.subj, r.n]));
    const badRecords = tokens.filter((t) => recorded.get(`chaos ${t}`) !== 1).map((t) => `${t}: ${recorded.get(`chaos ${t}`) ?? 0} record(s)`);
    console.log(summary('(c) PostgreSQL restart under load', {
      jobs: all.length, lost: erpT.lost + mailT.lost, runTwice: erpT.runTwice + mailT.runTwice,
      overlapping: erpT.overlapping + mailT.overlapping, erpCommittedTwice: erpT.runTwice, mailDeliveredTwice: mailT.runTwice,
      failed: notDone.length, deadlockLines: deadlocks, mailRecords: recs.reduce((n, r) => n + r.n, 0),
      fastRestartAt: fast.completedAt, fastRestartMs: fast.restartMs, fastRecoverMs: fast.recoverMs,
      immediateRestartAt: immediate.completedAt, immediateRestartMs: immediate.restartMs, immediateRecoverMs: immediate.recoverMs,
      totalMs,
    }));

    expect(notDone).toEqual([]);
    expect({ erp: erpT.details, mail: mailT.details }).toEqual({ erp: [], mail: [] });
    expect({ erpOverlapping: erpT.overlapping, mailOverlapping: mailT.overlapping }).toEqual({ erpOverlapping: 0, mailOverlapping: 0 });
    expect(badRecords).toEqual([]);
    expect(recs).toHaveLength(MAIL_JOBS);
    // Both restarts hit the load, not an idle or finished queue.
    expect(fast.completedAt).toBeLessThan(all.length);
    expect(immediate.completedAt).toBeLessThan(all.length);
  }, 90_000);
});
