/**
 * The default claim (no per-action limits) and the finish are planned once per connection and their plans reused
 * (issue 17): the server keeps the generic plan after its trial runs. The claim's walks batch_due_idx and finds the
 * claimed rows by primary key, on a small table and on a big one alike; the finish's finds the outcomes' rows by
 * primary key, also when the statistics are from before thousands of jobs were claimed. A generic plan that
 * scanned the table, or compared every running row with every outcome, would make each statement cost as much as
 * the table or the backlog is big.
 */
import pg from 'pg';
import { CLAIM_ANY_SQL, claimDue, FINISH_SENT_SQL, FINISH_SQL, finishMany, type Finish } from '../../src/db/queries/batch';
import { createTestDatabase, type TestDatabase } from '../support/db';

interface PlanNode { 'Node Type': string; 'Index Name'?: string; 'Relation Name'?: string; 'Actual Rows'?: number; Plans?: PlanNode[] }

function nodes(p: PlanNode): PlanNode[] {
  return [p, ...(p.Plans ?? []).flatMap(nodes)];
}

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
}, 60_000);
afterAll(async () => {
  await db.drop();
});

/** The generic plan of `sql` (EXPLAIN ANALYZE when `analyze`, rolled back), as the server keeps it after its trial runs. */
async function genericPlan(client: pg.ClientBase, sql: string, types: string, args: string, analyze = false): Promise<PlanNode[]> {
  await client.query('BEGIN');
  await client.query('SET LOCAL plan_cache_mode = force_generic_plan');
  await client.query(`PREPARE plan_test (${types}) AS ${sql}`);
  try {
    const { rows } = await client.query(`EXPLAIN (FORMAT JSON${analyze ? ', ANALYZE' : ''}) EXECUTE plan_test(${args})`);
    return nodes((rows[0]['QUERY PLAN'] as Array<{ Plan: PlanNode }>)[0]!.Plan);
  } finally {
    await client.query('ROLLBACK');
    await client.query('DEALLOCATE plan_test');
  }
}

function claimPlan(client: pg.ClientBase): Promise<PlanNode[]> {
  return genericPlan(client, CLAIM_ANY_SQL, 'text, int, float8, bigint', `'plan-test', 5, 60, 1`);
}

const done = (rows: Array<{ batch_id: number; batch_attempts: number; lease_token?: string }>): Finish[] =>
  rows.map((r) => ({ batchId: r.batch_id, attempt: r.batch_attempts, kind: 'done', message: null, delaySeconds: 0, result: null, token: r.lease_token! }));

test.each([
  ['a table of waiting jobs only (2,000)', 2_000, 0],
  ['a big table (100,000 finished jobs, 200 waiting)', 100_200, 100_000],
])('on %s the generic plan walks the due index and the primary key: no sequential scan, no hash', async (_what, total, finished) => {
  await db.pool.query('TRUNCATE xtbatch.batch CASCADE');
  await db.pool.query(
    `INSERT INTO xtbatch.batch (batch_action, batch_started, batch_completed)
     SELECT 'Noop', CASE WHEN g <= $2 THEN localtimestamp END, CASE WHEN g <= $2 THEN localtimestamp END
       FROM generate_series(1, $1::int) g`,
    [total, finished],
  );
  await db.pool.query('ANALYZE xtbatch.batch');
  const client = await db.pool.connect();
  try {
    const plan = await claimPlan(client);
    const types = plan.map((n) => n['Node Type']);
    expect(types).not.toContain('Seq Scan');
    expect(types).not.toContain('Hash Join');
    expect(types).not.toContain('Nested Loop');
    const indexes = plan.map((n) => n['Index Name']).filter(Boolean);
    expect(indexes).toEqual(expect.arrayContaining(['batch_due_idx', 'batch_pkey']));
  } finally {
    client.release();
  }
}, 60_000);

/**
 * 4,000 waiting jobs (enough that a plan seeing the parameters' values, a custom plan, looks far cheaper than one
 * that does not), and `fn` given a pool of one connection, so that every run goes through the same prepared statement.
 */
async function onOneConnection(fn: (pool: pg.Pool) => Promise<void>): Promise<void> {
  await db.pool.query('TRUNCATE xtbatch.batch CASCADE');
  await db.pool.query(`INSERT INTO xtbatch.batch (batch_action) SELECT 'Noop' FROM generate_series(1, 4000)`);
  await db.pool.query('ANALYZE xtbatch.batch');
  const pool = new pg.Pool({ connectionString: db.url, max: 1 });
  try {
    await fn(pool);
  } finally {
    await pool.end();
  }
}

test('after its trial runs the server reuses one plan for the claim (pg_prepared_statements counts generic plans)', async () => {
  // One connection, so that every claim goes through the same prepared statement; limits vary as the daemon's do.
  await onOneConnection(async (pool) => {
    let claimed = 0;
    for (let i = 0; i < 12; i++) claimed += (await claimDue(pool, 'plan-test', 1 + (i % 4), 60, [], [])).length;
    expect(claimed).toBe(30);
    const { rows } = await pool.query<{ generic: string; custom: string }>(
      `SELECT generic_plans::text AS generic, custom_plans::text AS custom FROM pg_prepared_statements WHERE name = 'xtconnect_claim'`,
    );
    expect(rows).toHaveLength(1);
    // PostgreSQL tries five custom plans, then keeps the generic one when it costs no more.
    expect(Number(rows[0]!.generic)).toBeGreaterThanOrEqual(6);
    expect(Number(rows[0]!.custom)).toBeLessThanOrEqual(6);
  });
}, 60_000);

// The finish with the records of sent mail (FINISH_SENT_SQL) shares the outcomes' part; here with one record.
const SENT_TYPES = ', bytea[], timestamptz[], text[], text[], int[], int[], text[], text[], text[], bytea';
const SENT_ARGS = `, '{"\\\\x0102"}', '{2026-12-06}', '{s}', '{b}', '{2}', '{1}', '{TO}', '{a@customer.example}', '{""}', '\\x0102'`;

test.each([
  ['FINISH_SQL', FINISH_SQL, '', ''],
  ['FINISH_SENT_SQL', FINISH_SENT_SQL, SENT_TYPES, SENT_ARGS],
])('%s: its generic plan, with statistics from before 20,000 jobs were claimed, finds 1,000 outcomes by primary key', async (_name, sql, moreTypes, moreArgs) => {
  await db.pool.query('TRUNCATE xtbatch.batch CASCADE');
  await db.pool.query(`INSERT INTO xtbatch.batch (batch_action) SELECT 'Noop' FROM generate_series(1, 30000)`);
  await db.pool.query('ANALYZE xtbatch.batch');
  const claimed: Awaited<ReturnType<typeof claimDue>> = [];
  for (let i = 0; i < 20; i++) claimed.push(...(await claimDue(db.pool, 'plan-test', 1000, 600, [], [])));
  expect(claimed).toHaveLength(20_000);
  const outcomes = done(claimed.slice(0, 1000));
  const arr = (xs: unknown[]) => `'{${xs.join(',')}}'`;
  const client = await db.pool.connect();
  try {
    const plan = await genericPlan(client, sql, `text, int[], int[], text[], text[], float8[], jsonb[], bigint[], boolean${moreTypes}`,
      `'plan-test', ${arr(outcomes.map((o) => o.batchId))}, ${arr(outcomes.map((o) => o.attempt))}, ${arr(outcomes.map(() => 'done'))}, ` +
      `${arr(outcomes.map(() => 'NULL'))}, ${arr(outcomes.map(() => 0))}, ${arr(outcomes.map(() => 'NULL'))}, ${arr(outcomes.map((o) => o.token))}, false${moreArgs}`, true);
    const types = plan.map((n) => n['Node Type']);
    expect(types).not.toContain('Seq Scan');
    expect(types).not.toContain('Nested Loop');
    const update = plan.find((n) => n['Node Type'] === 'ModifyTable' && n['Relation Name'] === 'batch')!;
    expect(update['Actual Rows']).toBe(1000);
    // The record's inserts, where there is one (a ModifyTable counts the rows it returns: eml's RETURNING gives its one).
    expect(plan.filter((n) => n['Node Type'] === 'ModifyTable' && n['Relation Name'] !== 'batch').map((n) => `${n['Relation Name']} ${n['Actual Rows']}`))
      .toEqual(moreArgs ? ['eml 1', 'emladdr 0'] : []);
    expect(plan.filter((n) => n['Relation Name'] === 'batch' && n['Node Type'] !== 'ModifyTable').map((n) => n['Index Name'])).toEqual(['batch_pkey']);
  } finally {
    client.release();
  }
}, 120_000);

test('after its trial runs the server reuses one plan for the finish, for outcomes a few at a time as for many', async () => {
  await onOneConnection(async (pool) => {
    let written = 0;
    // Three outcomes at a time, as slow jobs finish: a plan that saw the arrays would look cheaper than the
    // generic one, and the server would plan each run.
    for (let i = 0; i < 12; i++) written += (await finishMany(pool, 'plan-test', done(await claimDue(pool, 'plan-test', 3, 60, [], [])))).size;
    for (let i = 0; i < 4; i++) written += (await finishMany(pool, 'plan-test', done(await claimDue(pool, 'plan-test', 200, 60, [], [])))).size;
    expect(written).toBe(36 + 800);
    const { rows } = await pool.query<{ generic: string }>(`SELECT generic_plans::text AS generic FROM pg_prepared_statements WHERE name = 'xtconnect_finish'`);
    expect(Number(rows[0]!.generic)).toBeGreaterThanOrEqual(11);
  });
}, 60_000);
