import type { JobContext } from '../../src/handlers';
import type { TestDatabase } from '../support/db';
import { databaseSuite } from '../support/suite';
import { testConfig } from '../support/config';
import { startDaemon } from '../support/daemon';
import { waitFor } from '../support/wait';

// Issue 17: a job that waits for a transaction it will share with others (JobLease.sharing: an ERP action queued
// for its group) does not hold one of daemon.concurrency's slots while it waits, so that a group counts as one job.
// What must stay true: the jobs that do hold slots never exceed the concurrency, and the daemon never holds more
// than a bounded number of waiting jobs (src/daemon/runner.ts, WAITING_MAX).

const suite = databaseSuite(`TRUNCATE xtbatch.batch, xtbatch.batchparam, xtbatch.daemon CASCADE`);
let db: TestDatabase;
beforeAll(() => {
  db = suite.db;
});

async function insertJobs(action: string, n: number): Promise<void> {
  await db.pool.query(`INSERT INTO xtbatch.batch (batch_action) SELECT $1 FROM generate_series(1, $2)`, [action, n]);
}

async function done(): Promise<number> {
  return (await db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM xtbatch.job WHERE state = 'done'`)).rows[0]!.n;
}

/** A handler that counts its start, waits without its slot, and ends when `until` settles. */
function waitsShared(started: () => void, until: Promise<void>): (ctx: JobContext) => Promise<void> {
  return async (ctx) => {
    started();
    ctx.lease!.sharing(true);
    await until;
  };
}

function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((r) => (open = r));
  return { wait, open };
}

describe('jobs that wait for a shared transaction', () => {
  it('free their slots while they wait; the jobs holding slots stay within the concurrency', async () => {
    const shared = gate();
    const work = gate();
    let sharing = 0;
    let working = 0;
    let peak = 0;
    const d = await startDaemon(testConfig(db.url, { daemon: { concurrency: 2 } }), {
      Share: waitsShared(() => sharing++, shared.wait),
      Work: async () => {
        working++;
        peak = Math.max(peak, working);
        await work.wait;
        working--;
      },
    });
    suite.daemons.push(d);
    await insertJobs('Share', 6);
    // With two slots, six jobs run at once only because the waiting ones gave theirs up.
    await waitFor('all six Share jobs running', () => sharing === 6);
    await insertJobs('Work', 4);
    await waitFor('two Work jobs running', () => working === 2);
    const polls = d.daemon.stats.polls;
    await waitFor('two more claim passes', () => d.daemon.stats.polls >= polls + 2, 5_000, 20);
    expect(peak).toBe(2);
    expect(d.daemon.runningCount).toBe(8);
    work.open();
    await waitFor('the Work jobs done', async () => (await done()) === 4);
    expect(peak).toBe(2);
    shared.open();
    await waitFor('every job done', async () => (await done()) === 10);
  });

  it('are bounded: past 64 waiting, a job keeps its slot', async () => {
    const shared = gate();
    let started = 0;
    const d = await startDaemon(testConfig(db.url, { daemon: { concurrency: 1 } }), {
      Share: waitsShared(() => started++, shared.wait),
    });
    suite.daemons.push(d);
    await insertJobs('Share', 70);
    await waitFor('64 waiting and one in the slot', () => started >= 65, 10_000);
    // Each claim pass asks for what the slots allow: two more, and none of the five left has started.
    const polls = d.daemon.stats.polls;
    await waitFor('two more claim passes', () => d.daemon.stats.polls >= polls + 2, 5_000, 20);
    expect(started).toBe(65);
    expect(d.daemon.runningCount).toBe(65);
    shared.open();
    await waitFor('every job done', async () => (await done()) === 70, 20_000);
  });

  it('take their slot back when they stop waiting', async () => {
    const shared = gate();
    const rest = gate();
    const works: Array<() => void> = [];
    let workStarted = 0;
    let back = 0;
    const d = await startDaemon(testConfig(db.url, { daemon: { concurrency: 2 } }), {
      Share: async (ctx: JobContext) => {
        ctx.lease!.sharing(true);
        await shared.wait;
        ctx.lease!.sharing(false);
        back++;
        await rest.wait;
      },
      Work: async () => {
        workStarted++;
        await Promise.race([new Promise<void>((r) => works.push(r)), rest.wait]);
      },
    });
    suite.daemons.push(d);
    await insertJobs('Share', 2);
    await waitFor('both Share jobs running', () => d.daemon.runningCount === 2);
    await insertJobs('Work', 3);
    await waitFor('two Work jobs in the freed slots', () => workStarted === 2);
    shared.open();
    await waitFor('both Share jobs holding their slots again', () => back === 2);
    // Four jobs hold slots now; one ending leaves three, still more than two: the third Work job must not start.
    works[0]!();
    await waitFor('the first Work job done', async () => (await done()) === 1);
    const polls = d.daemon.stats.polls;
    await waitFor('two more claim passes', () => d.daemon.stats.polls >= polls + 2, 5_000, 20);
    expect(workStarted).toBe(2);
    rest.open();
    await waitFor('every job done', async () => (await done()) === 5);
    expect(workStarted).toBe(3);
  });
});
