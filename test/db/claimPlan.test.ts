/**
 * The default claim (no per-action limits) is planned once per connection and the plan reused (issue 17): the
 * server keeps the generic plan after its trial runs, and that plan walks batch_due_idx and finds the claimed rows
 * by primary key, on a small table and on a big one alike. A generic plan that scanned or hashed the table would
 * make every claim cost as much as the table is big.
 */
import pg from 'pg';
import { CLAIM_ANY_SQL, claimDue } from '../../src/db/queries/batch';
import { createTestDatabase, type TestDatabase } from '../support/db';

interface PlanNode { 'Node Type': string; 'Index Name'?: string; 'Relation Name'?: string; Plans?: PlanNode[] }

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

async function genericPlan(client: pg.ClientBase): Promise<PlanNode[]> {
  await client.query('SET plan_cache_mode = force_generic_plan');
  await client.query(`PREPARE claim_plan (text, int, float8, bigint) AS ${CLAIM_ANY_SQL}`);
  try {
    const { rows } = await client.query(`EXPLAIN (FORMAT JSON) EXECUTE claim_plan('plan-test', 5, 60, 1)`);
    return nodes((rows[0]['QUERY PLAN'] as Array<{ Plan: PlanNode }>)[0]!.Plan);
  } finally {
    await client.query('DEALLOCATE claim_plan');
    await client.query('RESET plan_cache_mode');
  }
}

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
    const plan = await genericPlan(client);
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

test('after its trial runs the server reuses one plan for the claim (pg_prepared_statements counts generic plans)', async () => {
  await db.pool.query('TRUNCATE xtbatch.batch CASCADE');
  // Enough waiting rows that a plan seeing the LIMIT's value (a custom plan) looks far cheaper than one that does not.
  await db.pool.query(`INSERT INTO xtbatch.batch (batch_action) SELECT 'Noop' FROM generate_series(1, 4000)`);
  await db.pool.query('ANALYZE xtbatch.batch');
  // One connection, so that every claim goes through the same prepared statement; limits vary as the daemon's do.
  const pool = new pg.Pool({ connectionString: db.url, max: 1 });
  try {
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
  } finally {
    await pool.end();
  }
}, 60_000);
