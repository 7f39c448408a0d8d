/**
 * The job list stays fast on a big table because every filter it offers is answered by walking an index in
 * batch_id order and stopping after one page: no sequential scan, no sort of the whole match. Checked with EXPLAIN
 * on 200,000 finished jobs (bench/console.ts times it on a million).
 */
import { jobPageSql, type JobFilter } from '../../src/console/jobs';
import { createTestDatabase, type TestDatabase } from '../support/db';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
  // 200,000 finished jobs of 5 actions and 20 users, 1 in 100 failed, 1 in 500 cancelled; a few waiting and running.
  await db.pool.query(`
    INSERT INTO xtbatch.batch (batch_action, batch_user, batch_email, batch_subject, batch_submitted, batch_scheduled,
                               batch_started, batch_completed, batch_exitstatus, batch_attempts)
    SELECT (ARRAY['Email','RunReport','FileUpload','ServerMaintenance','EmailSync'])[1 + g % 5], 'user' || (g % 20),
           'c' || g || '@example.com', 'Invoice ' || g, ts, ts, ts, ts + interval '1 second',
           CASE WHEN g % 500 = 0 THEN 'Cancelled by x at y' WHEN g % 100 = 0 THEN 'SMTP 550' END, 1
      FROM generate_series(1, 200000) g, LATERAL (SELECT localtimestamp - (200000 - g) * interval '1 minute' AS ts) t`);
  await db.pool.query(`INSERT INTO xtbatch.batch (batch_action, batch_user, batch_scheduled) SELECT 'Email', 'user1', localtimestamp + interval '1 day' FROM generate_series(1, 50)`);
  // A rare action among the old jobs: walking the primary key would read most of the table to fill a page.
  await db.pool.query(`UPDATE xtbatch.batch SET batch_action = 'CreateInvoices' WHERE batch_id % 4000 = 7`);
  await db.pool.query(`ANALYZE xtbatch.batch`);
}, 120_000);
afterAll(async () => {
  await db.drop();
});

interface PlanNode { 'Node Type': string; 'Index Name'?: string; Plans?: PlanNode[] }

async function plan(f: JobFilter, onlyUser: string | null = null, before: number | null = null): Promise<PlanNode> {
  const { sql, params } = jobPageSql(f, onlyUser, before, 50);
  const { rows } = await db.pool.query(`EXPLAIN (FORMAT JSON) ${sql}`, params);
  return (rows[0]['QUERY PLAN'] as Array<{ Plan: PlanNode }>)[0]!.Plan;
}

function nodes(p: PlanNode): PlanNode[] {
  return [p, ...(p.Plans ?? []).flatMap(nodes)];
}

function describe(p: PlanNode): string {
  return nodes(p).map((n) => `${n['Node Type']}${n['Index Name'] ? ` on ${n['Index Name']}` : ''}`).join(' > ');
}

/**
 * Sorts that could grow with the table: any Sort except one over the running rows (the list reads those as a part
 * of their own, sql/0033; they are at most the daemons' concurrency): a scan that batch_running_idx bounds, alone
 * or in a BitmapAnd with another index.
 */
function unboundedSorts(p: PlanNode): PlanNode[] {
  return nodes(p).filter((n) => {
    if (n['Node Type'] !== 'Sort') return false;
    const under = nodes(n);
    const bounded = under.some((c) => c['Index Name'] === 'batch_running_idx')
      && !under.some((c) => c['Node Type'] === 'Seq Scan' || c['Node Type'] === 'BitmapOr');
    return !bounded;
  });
}

test.each<[string, JobFilter, string | null]>([
  ['the first page, no filter', {}, null],
  ['failed jobs', { state: 'failed' }, null],
  ['cancelled jobs', { state: 'cancelled' }, null],
  ['scheduled jobs', { state: 'scheduled' }, null],
  ['one action', { action: 'RunReport' }, null],
  ['one user (administrator\'s filter)', { user: 'user7' }, null],
  ['a user who sees only their own jobs', {}, 'user7'],
  ['a user\'s failed jobs of one action', { state: 'failed', action: 'Email' }, 'user7'],
])('%s: an index walked in id order, no sequential scan, no sort', async (_what, f, onlyUser) => {
  const p = await plan(f, onlyUser);
  // The whole plan in the message when it fails: the planner's choice is what is being checked.
  expect(describe(p)).not.toContain('Seq Scan');
  expect(unboundedSorts(p).map(describe)).toEqual([]);
  expect(p['Node Type']).toBe('Limit');
  expect(describe(p)).toMatch(/Index (Only )?Scan/);
});

// Running jobs are few (the daemons' concurrency): batch_running_idx (0001) holds exactly them, and sorting that
// handful is cheaper than keeping an index of their ids that every claim would write (sql/0027, issue 17).
test('running jobs: the partial index of running rows, no sequential scan', async () => {
  await db.pool.query(`UPDATE xtbatch.batch SET batch_completed = NULL, batch_exitstatus = NULL, batch_lease_expires = now()
                        WHERE batch_id IN (SELECT batch_id FROM xtbatch.batch WHERE batch_started IS NOT NULL ORDER BY batch_id DESC LIMIT 30)`);
  await db.pool.query(`ANALYZE xtbatch.batch`);
  const p = await plan({ state: 'running' });
  expect(nodes(p).some((n) => n['Node Type'] === 'Seq Scan')).toBe(false);
  expect(describe(p)).toMatch(/Index (Only )?Scan on batch_running_idx|Bitmap Index Scan on batch_running_idx/);
  const { sql, params } = jobPageSql({ state: 'running' }, null, null, 50);
  const { rows } = await db.pool.query<{ batch_id: number }>(sql, params);
  expect(rows).toHaveLength(30);
  expect(rows.map((r) => r.batch_id)).toEqual([...rows.map((r) => r.batch_id)].sort((a, b) => b - a));
});

test('a later page (keyset) is planned like the first', async () => {
  const p = await plan({ state: 'failed' }, null, 100_000);
  expect(nodes(p).some((n) => n['Node Type'] === 'Seq Scan' || n['Node Type'] === 'Sort')).toBe(false);
});

// The claim's row version is not in the action, time and text indexes (sql/0033): the list reads the jobs that are
// not running through them, and the running ones through batch_running_idx.
test('a rare action walks its index for the jobs that are not running', async () => {
  expect(describe(await plan({ action: 'CreateInvoices' }))).toContain('Index Scan on batch_action_id_idx');
});

test('"subject or recipient contains" uses the text indexes for the jobs that are not running', async () => {
  const d = describe(await plan({ text: 'Invoice 123456' }));
  expect(d).toContain('Bitmap Index Scan on batch_subject_trgm_idx');
  expect(d).toContain('batch_running_idx');
  expect(d).not.toContain('Seq Scan');
});

test('a page holds running and other jobs together, newest first, as the filter alone would give', async () => {
  const { rows: finished } = await db.pool.query<{ batch_id: number }>(
    `SELECT batch_id FROM xtbatch.batch WHERE batch_action = 'Email' AND batch_completed IS NOT NULL ORDER BY batch_id DESC LIMIT 90`);
  // Every third of them running: the pages must interleave both parts in id order.
  const running = finished.map((r) => r.batch_id).filter((_, i) => i % 3 === 0);
  await db.pool.query(`UPDATE xtbatch.batch SET batch_completed = NULL, batch_exitstatus = NULL, batch_lease_expires = now()
                        WHERE batch_id = ANY ($1::int[])`, [running]);
  const { rows: expected } = await db.pool.query<{ batch_id: number }>(
    `SELECT batch_id FROM xtbatch.batch WHERE batch_action = 'Email' ORDER BY batch_id DESC LIMIT 102`);
  const all = expected.map((r) => r.batch_id);
  const first = jobPageSql({ action: 'Email' }, null, null, 50);
  const page1 = (await db.pool.query<{ batch_id: number; state: string }>(first.sql, first.params)).rows;
  const second = jobPageSql({ action: 'Email' }, null, all[49]!, 50);
  const page2 = (await db.pool.query<{ batch_id: number; state: string }>(second.sql, second.params)).rows;
  expect(page1.map((r) => r.batch_id)).toEqual(all.slice(0, 51));
  expect(page2.map((r) => r.batch_id)).toEqual(all.slice(50, 101));
  const shown = [...page1.slice(0, 50), ...page2.slice(0, 50)];
  const { rows: runningNow } = await db.pool.query<{ batch_id: number }>(
    `SELECT batch_id FROM xtbatch.batch WHERE batch_id = ANY ($1::int[]) AND batch_started IS NOT NULL AND batch_completed IS NULL
      ORDER BY batch_id DESC`, [all.slice(0, 100)]);
  expect(shown.filter((r) => r.state === 'running').map((r) => r.batch_id)).toEqual(runningNow.map((r) => r.batch_id));
  expect(shown.filter((r) => r.state === 'running').length).toBeGreaterThan(10);
});
