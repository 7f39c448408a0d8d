import type { TestDatabase } from '../support/db';
import { databaseSuite } from '../support/suite';
import { testConfig } from '../support/config';
import { startDaemon } from '../support/daemon';
import { waitFor } from '../support/wait';

/*
 * A job held back by its settle time (batch_settle_until, sql/0011) starts when the settle time is over, not at
 * the next poll: the daemon, woken by the job's NOTIFY, finds nothing claimable, asks the server when the earliest
 * settling job becomes claimable and sets an alarm for it (issue 17). The poll interval here is 60 s, so a start
 * within a few seconds can only come from the alarm.
 */
const suite = databaseSuite(`TRUNCATE xtbatch.batch, xtbatch.batchparam, xtbatch.daemon CASCADE`);
let db: TestDatabase;
beforeAll(() => {
  db = suite.db;
});

const slowPoll = () => testConfig(db.url, { daemon: { pollIntervalMs: 60_000 } });

async function startedAfterSettle(id: number): Promise<{ late: number }> {
  const { rows } = await db.pool.query<{ late: number }>(
    `SELECT extract(epoch FROM batch_started::timestamptz - batch_settle_until)::float8 AS late FROM xtbatch.batch WHERE batch_id = $1`, [id]);
  return rows[0]!;
}

describe('the settle time', () => {
  it('starts a settling job when its settle time is over, not at the next poll', async () => {
    const seen: number[] = [];
    suite.daemons.push(await startDaemon(slowPoll(), { Noop: async (ctx) => void seen.push(ctx.job.batch_id) }));
    // Let the daemon's first (start-up) claim pass, so that the job's NOTIFY is what wakes it.
    await waitFor('daemon polled once', async () => suite.daemons[0]!.daemon.stats.polls > 0);
    const { rows } = await db.pool.query<{ batch_id: number }>(
      `INSERT INTO xtbatch.batch (batch_action, batch_settle_until) VALUES ('Noop', now() + interval '1.5 seconds') RETURNING batch_id`);
    const id = rows[0]!.batch_id;
    await waitFor('settled job done', async () => seen.includes(id), 20_000, 20);
    const { late } = await startedAfterSettle(id);
    // Never before the settle time; after it by the alarm's few ms plus a loaded machine's scheduling.
    expect(late).toBeGreaterThanOrEqual(0);
    expect(late).toBeLessThan(10);
  });

  it('follows a settle time moved later by a parameter that arrived meanwhile', async () => {
    const seen: number[] = [];
    suite.daemons.push(await startDaemon(slowPoll(), { Noop: async (ctx) => void seen.push(ctx.job.batch_id) }));
    await waitFor('daemon polled once', async () => suite.daemons[0]!.daemon.stats.polls > 0);
    const { rows } = await db.pool.query<{ batch_id: number }>(
      `INSERT INTO xtbatch.batch (batch_action, batch_settle_until) VALUES ('Noop', now() + interval '1 second') RETURNING batch_id`);
    const id = rows[0]!.batch_id;
    // As the batchparam trigger does for each parameter from another transaction: no NOTIFY, only a later time.
    await db.pool.query(`UPDATE xtbatch.batch SET batch_settle_until = now() + interval '2 seconds' WHERE batch_id = $1`, [id]);
    await waitFor('settled job done', async () => seen.includes(id), 20_000, 20);
    const { late } = await startedAfterSettle(id);
    expect(late).toBeGreaterThanOrEqual(0);
    expect(late).toBeLessThan(10);
  });
});
