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
  const all = nodes(p);
  expect(all.some((n) => n['Node Type'] === 'Seq Scan')).toBe(false);
  expect(all.some((n) => n['Node Type'] === 'Sort')).toBe(false);
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
