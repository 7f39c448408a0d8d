import fs from 'node:fs';
import path from 'node:path';
import { purgeOnce } from '../../src/purge/finishedJobs';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { recordingLogger } from '../support/recordingLogger';
import { killAll, removeTempDirs, runXt, tempDir, type RunResult } from '../support/proc';

// `xtconnect purge` and the nightly Purge action against a real database: a job finished seconds ago is never
// deleted unless the command is told so twice (--older-than under a day, and --yes); --days 0 is refused, since for
// BatchManagerPurgeDays 0 means "never"; with the setting at 0 both say so instead of "not set".

let db: TestDatabase;
let emptyConfig: string;

beforeAll(async () => {
  db = await createTestDatabase();
  emptyConfig = path.join(tempDir(), 'empty.yaml');
  fs.writeFileSync(emptyConfig, '');
});
afterAll(async () => {
  await killAll();
  await db?.drop();
  removeTempDirs();
});

function xt(...args: string[]): Promise<RunResult> {
  return runXt(['--config', emptyConfig, '--database-url', db.url, ...args]);
}

/** 5 jobs finished 10 seconds ago, 3 finished 2 days ago (one with a parameter), 2 not finished. */
beforeEach(async () => {
  await db.pool.query('TRUNCATE xtbatch.batch, xtbatch.batchparam CASCADE');
  await db.pool.query(`
    INSERT INTO xtbatch.batch (batch_action, batch_scheduled, batch_started, batch_completed, batch_exitstatus)
    SELECT 'Tick', localtimestamp - interval '1 minute', localtimestamp - interval '11 seconds', localtimestamp - interval '10 seconds', ''
      FROM generate_series(1, 5)`);
  const old = await db.pool.query<{ batch_id: number }>(`
    INSERT INTO xtbatch.batch (batch_action, batch_scheduled, batch_started, batch_completed, batch_exitstatus)
    SELECT 'Tick', localtimestamp - interval '3 days', localtimestamp - interval '2 days', localtimestamp - interval '2 days', 'it failed'
      FROM generate_series(1, 3) RETURNING batch_id`);
  await db.pool.query(`INSERT INTO xtbatch.batchparam (batchparam_batch_id, batchparam_order, batchparam_name, batchparam_value, batchparam_type)
                       VALUES ($1, 1, 'site', 'WH1', 'QString')`, [old.rows[0]!.batch_id]);
  await db.pool.query(`INSERT INTO xtbatch.batch (batch_action, batch_scheduled) SELECT 'Tick', localtimestamp FROM generate_series(1, 2)`);
});

async function counts(): Promise<{ recent: number; old: number; open: number; params: number }> {
  const { rows } = await db.pool.query(`
    SELECT count(*) FILTER (WHERE batch_completed > localtimestamp - interval '1 day')::int AS recent,
           count(*) FILTER (WHERE batch_completed <= localtimestamp - interval '1 day')::int AS old,
           count(*) FILTER (WHERE batch_completed IS NULL)::int AS open,
           (SELECT count(*)::int FROM xtbatch.batchparam) AS params
      FROM xtbatch.batch`);
  return rows[0];
}
const ALL = { recent: 5, old: 3, open: 2, params: 1 };

async function setting(value: string | null): Promise<void> {
  // Empty is "not set", as xTuple's screen leaves it.
  await db.pool.query(`SELECT xtbatch.setsetting('BatchManagerPurgeDays', $1)`, [value ?? '']);
}

function expectUsageError(r: RunResult, says: RegExp): void {
  expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 2, stdout: '' });
  expect(r.stderr).toMatch(says);
  expect(r.stderr).not.toMatch(/^\s+at /m);
}

describe('xtconnect purge', () => {
  it('--days 0 is refused with exit 2 and a message saying why and what to give instead; nothing is deleted', async () => {
    expectUsageError(await xt('purge', '--days', '0'), /xtconnect: --days 0 is refused: for BatchManagerPurgeDays 0 means "never purge".*--older-than 0s --yes/);
    expect(await counts()).toEqual(ALL);
  });

  it('with BatchManagerPurgeDays 0, purge says the setting is 0 (never purge), not "not set", and deletes nothing', async () => {
    await setting('0');
    const r = await xt('purge');
    expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 0, stdout: 'BatchManagerPurgeDays is 0 (never purge) and no --days given: nothing purged\n' });
    expect(await counts()).toEqual(ALL);
  });

  it('with BatchManagerPurgeDays not set, purge says so and deletes nothing', async () => {
    await setting(null);
    const r = await xt('purge');
    expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 0, stdout: 'BatchManagerPurgeDays is not set and no --days given: nothing purged\n' });
    expect(await counts()).toEqual(ALL);
  });

  it('with BatchManagerPurgeDays 1, purge deletes the jobs finished two days ago and their parameters, not those finished seconds ago', async () => {
    await setting('1');
    const r = await xt('purge');
    expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 0, stdout: 'purged 3 job(s) finished more than 1 day(s) ago\n' });
    expect(await counts()).toEqual({ recent: 5, old: 0, open: 2, params: 0 });
  });

  it('--days 1 does the same whatever the setting', async () => {
    await setting('0');
    const r = await xt('purge', '--days', '1');
    expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 0, stdout: 'purged 3 job(s) finished more than 1 day(s) ago\n' });
    expect(await counts()).toEqual({ recent: 5, old: 0, open: 2, params: 0 });
  });

  it('removes the spool folders of the jobs it deleted, as the nightly purge does, and no other', async () => {
    const { rows } = await db.pool.query<{ id: number; old: boolean }>(
      `SELECT batch_id AS id, batch_completed < localtimestamp - interval '1 day' AS old FROM xtbatch.batch WHERE batch_completed IS NOT NULL ORDER BY batch_id`);
    const spool = tempDir();
    const cfg = path.join(tempDir(), 'spool.yaml');
    fs.writeFileSync(cfg, `spoolDir: ${spool}\n`);
    for (const r of rows) fs.mkdirSync(path.join(spool, String(r.id), 'x'), { recursive: true });
    const r = await runXt(['--config', cfg, '--database-url', db.url, 'purge', '--days', '1']);
    expect({ code: r.code, stdout: r.stdout }).toEqual({
      code: 0, stdout: `purged 3 job(s) finished more than 1 day(s) ago\nremoved 3 spool folder(s) of purged jobs from ${spool}\n` });
    expect(fs.readdirSync(spool).map(Number).sort((a, b) => a - b)).toEqual(rows.filter((x) => !x.old).map((x) => x.id));
  });

  it('--older-than under a day without --yes is refused; nothing is deleted', async () => {
    expectUsageError(await xt('purge', '--older-than', '0s'), /--older-than 0s would delete jobs finished less than a day ago; add --yes/);
    expectUsageError(await xt('purge', '--older-than', '23h'), /add --yes/);
    expect(await counts()).toEqual(ALL);
  });

  it('--older-than 0s --yes deletes every finished job, and never an unfinished one', async () => {
    const r = await xt('purge', '--older-than', '0s', '--yes');
    expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 0, stdout: 'purged 8 job(s) finished more than 0s ago\n' });
    expect(await counts()).toEqual({ recent: 0, old: 0, open: 2, params: 0 });
  });

  it('--older-than 1d needs no --yes; a bad age or both --days and --older-than are refused', async () => {
    const r = await xt('purge', '--older-than', '1d');
    expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 0, stdout: 'purged 3 job(s) finished more than 1d ago\n' });
    expectUsageError(await xt('purge', '--older-than', 'soon'), /--older-than "soon" must be a number and a unit/);
    expectUsageError(await xt('purge', '--days', '2', '--older-than', '3d'), /give --days or --older-than, not both/);
    expect(await counts()).toEqual({ recent: 5, old: 0, open: 2, params: 0 });
  });
});

describe('the nightly Purge action', () => {
  it.each([
    ['0', 'BatchManagerPurgeDays is 0 (never purge): nothing purged', ALL],
    [null, 'BatchManagerPurgeDays is not set: nothing purged', ALL],
    ['1', 'purged 3 job(s) finished more than 1 day(s) ago', { recent: 5, old: 0, open: 2, params: 0 }],
  ] as const)('with BatchManagerPurgeDays %s', async (value, says, after) => {
    await setting(value);
    const rec = recordingLogger();
    await purgeOnce(db.pool, rec.log);
    expect(rec.lines.some((l) => l.endsWith(says))).toBe(true);
    expect(await counts()).toEqual(after);
  });
});
