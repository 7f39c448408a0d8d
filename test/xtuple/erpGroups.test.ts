/**
 * ERP-action groups on xTuple's real 4.4 schema with its quickstart data (sql/0032, 0035, 0036): sql/0036 runs again,
 * twice, from an ERP session (its search_path, standard_conforming_strings off), and from that session groups of
 * jobs calling one of xTuple's own functions commit with their "done", their fence and "done" write planned once
 * per connection and reaching xTuple's batch rows by primary key.
 */
import pg from 'pg';
import { claimDue, nextLeaseToken } from '../../src/db/queries/batch';
import { loadMigrations } from '../../src/db/migrate';
import type { TestDatabase } from '../support/db';
import { groupPlanKinds, PLANNED_ONCE } from '../support/groupPlans';
import { createXtupleDatabase, erpSession } from '../support/xtupleDb';

let db: TestDatabase;
beforeAll(async () => {
  db = await createXtupleDatabase({ data: true, migrated: true });
}, 180_000);
afterAll(async () => {
  await db?.drop();
});

// xTuple's fetchMetricText(text), called as src/handlers/erpAction/mapping.ts builds the calls (one job, and all
// of a group's jobs in one statement).
const SQL = `SELECT to_jsonb(r) AS result, 1 AS n FROM "public"."fetchmetrictext"(($1)[1]::text) AS r`;
const BATCH_SQL = `SELECT array_agg(c.result ORDER BY c.k) AS results, array_agg(1 ORDER BY c.k) AS ns
  FROM (SELECT a.k, to_jsonb("public"."fetchmetrictext"((x.args)[1]::text)) AS result
          FROM jsonb_array_elements($1) WITH ORDINALITY AS a(v, k)
         CROSS JOIN LATERAL (SELECT ARRAY(SELECT jsonb_array_elements_text(a.v)) AS args) x) c`;

it('sql/0036 (the group function as it stands) runs again from an ERP session, and groups run there with their plans kept', async () => {
  const s: pg.Client = await erpSession(db.url);
  try {
    const file = loadMigrations().find((m) => m.name.startsWith('0036_'))!;
    await s.query(file.sql);
    await s.query(file.sql);
    const { rows: [metric] } = await s.query<{ name: string; value: string }>(
      `SELECT metric_name AS name, metric_value AS value FROM metric WHERE metric_value <> '' ORDER BY metric_name LIMIT 1`);
    await db.pool.query(`SELECT xtbatch.setsetting('EnableBatchManager', 't')`);
    // Settled at once: the submitter here is this test, not the desktop client (sql/0011).
    const { rows: inserted } = await db.pool.query<{ id: number }>(
      `INSERT INTO xtbatch.batch (batch_action, batch_settle_until) SELECT 'MetricText', now() FROM generate_series(1, 21) RETURNING batch_id AS id`);
    expect(inserted).toHaveLength(21);
    // Finished rows, as an ERP that has used xTuple Connect for a while keeps them, with the statistics read.
    await db.pool.query(`INSERT INTO xtbatch.batch (batch_action, batch_completed) SELECT 'Filler', localtimestamp FROM generate_series(1, 5000)`);
    await db.pool.query('ANALYZE xtbatch.batch');
    const jobs = (await claimDue(db.pool, 'X', 21, 60, [], [], nextLeaseToken())).sort((a, b) => a.batch_id - b.batch_id);
    expect(jobs).toHaveLength(21);

    const kinds = await groupPlanKinds(s, 'X', jobs, { sql: SQL, batchSql: BATCH_SQL, fn: 'public.fetchmetrictext', args: () => [metric!.name] });
    expect(kinds).toEqual(PLANNED_ONCE);
    const { rows } = await db.pool.query<{ state: string; result: unknown }>(
      `SELECT j.state, b.batch_result AS result FROM xtbatch.job j JOIN xtbatch.batch b USING (batch_id) WHERE batch_id = ANY ($1) ORDER BY batch_id`,
      [jobs.map((j) => j.batch_id)]);
    expect(rows).toEqual(jobs.map(() => ({ state: 'done', result: { function: 'public.fetchmetrictext', result: metric!.value } })));
  } finally {
    await s.end();
  }
}, 120_000);
