import type { TestDatabase } from '../support/db';
import { databaseSuite } from '../support/suite';
import { testConfig } from '../support/config';
import { startDaemon } from '../support/daemon';
import { waitFor } from '../support/wait';

const suite = databaseSuite(`TRUNCATE xtbatch.batch, xtbatch.batchparam, xtbatch.daemon CASCADE`);
const daemons = suite.daemons;
let db: TestDatabase;
beforeAll(() => {
  db = suite.db;
});

async function insertJobs(action: string, n: number): Promise<void> {
  await db.pool.query(`INSERT INTO xtbatch.batch (batch_action) SELECT $1 FROM generate_series(1, $2)`, [action, n]);
}

async function counts(): Promise<Record<string, number>> {
  const { rows } = await db.pool.query<{ state: string; n: number }>(`SELECT state, count(*)::int AS n FROM xtbatch.job GROUP BY state`);
  return Object.fromEntries(rows.map((r) => [r.state, r.n]));
}

describe('the claim loop', () => {
  it('runs a job inserted by SQL and writes completion with an empty exit status', async () => {
    const seen: number[] = [];
    daemons.push(await startDaemon(testConfig(db.url), { Noop: async (ctx) => void seen.push(ctx.job.batch_id) }));
    const { rows } = await db.pool.query<{ batch_id: number }>(`INSERT INTO xtbatch.batch (batch_action) VALUES ('Noop') RETURNING batch_id`);
    const id = rows[0]!.batch_id;
    const row = await waitFor('job completed', async () => (await db.pool.query(`SELECT * FROM xtbatch.batch WHERE batch_id = $1 AND batch_completed IS NOT NULL`, [id])).rows[0]);
    expect(seen).toEqual([id]);
    expect(row.batch_exitstatus).toBe('');
    expect(row.batch_attempts).toBe(1);
    expect(row.batch_started).not.toBeNull();
  });

  it('three daemons on one database run each of 3,000 jobs exactly once', async () => {
    const runs = new Map<number, number>();
    let concurrent = 0;
    let maxConcurrent = 0;
    const handler = async (ctx: { job: { batch_id: number } }) => {
      concurrent++;
      maxConcurrent = Math.max(maxConcurrent, concurrent);
      runs.set(ctx.job.batch_id, (runs.get(ctx.job.batch_id) ?? 0) + 1);
      await new Promise((r) => setImmediate(r));
      concurrent--;
    };
    await insertJobs('Count', 3000);
    for (let i = 0; i < 3; i++) daemons.push(await startDaemon(testConfig(db.url, { daemon: { concurrency: 8 } }), { Count: handler }, { id: `d${i}` }));
    await waitFor('all 3,000 done', async () => (await counts()).done === 3000, 60_000, 50);
    expect(runs.size).toBe(3000);
    expect([...runs.values()].every((n) => n === 1)).toBe(true);
    const byDaemon = await db.pool.query<{ batch_locked_by: string; n: number }>(`SELECT batch_locked_by, count(*)::int AS n FROM xtbatch.batch GROUP BY 1`);
    expect(byDaemon.rows.length).toBe(3);
    expect(maxConcurrent).toBeLessThanOrEqual(24);
  });

  it('keeps per-action concurrency', async () => {
    let running = 0;
    let peak = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const d = await startDaemon(testConfig(db.url, { daemon: { concurrency: 10, actionConcurrency: { Slow: 2 } } }), {
      Slow: async () => {
        running++;
        peak = Math.max(peak, running);
        await gate;
        running--;
      },
      Fast: async () => undefined,
    });
    daemons.push(d);
    await insertJobs('Slow', 6);
    await insertJobs('Fast', 20);
    await waitFor('fast jobs done while slow ones wait', async () => (await counts()).done === 20);
    expect(peak).toBe(2);
    expect(d.daemon.runningCount).toBe(2);
    release();
    await waitFor('all done', async () => (await counts()).done === 26);
    expect(peak).toBe(2);
  });
});
