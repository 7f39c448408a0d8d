import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { checkSchema, loadMigrations, migrate, SchemaTooNewError } from '../../src/db/migrate';
import { claimDue } from '../../src/db/queries/batch';
import { readSettings } from '../../src/db/queries/settings';
import { createTestDatabase, type TestDatabase } from '../support/db';

const fixture = (name: string) => fs.readFileSync(path.join(__dirname, '..', 'fixtures', name), 'utf8');
const versions = loadMigrations().map((m) => m.version);

let dbs: TestDatabase[] = [];
async function emptyDb(): Promise<TestDatabase> {
  const db = await createTestDatabase({ empty: true });
  dbs.push(db);
  return db;
}
afterEach(async () => {
  await Promise.all(dbs.map((d) => d.drop()));
  dbs = [];
});

describe('migrations on a plain PostgreSQL database', () => {
  it('create the schema, record each version once, and apply nothing the second time', async () => {
    const db = await emptyDb();
    const first = await migrate(db.pool);
    expect(first.applied.map((m) => m.version)).toEqual(versions);
    const second = await migrate(db.pool);
    expect(second.applied).toEqual([]);
    const { rows } = await db.pool.query(`SELECT migration_version FROM xtbatch.xtconnect_migration ORDER BY 1`);
    expect(rows.map((r) => r.migration_version)).toEqual(versions);
    const s = await readSettings(db.pool);
    expect(s).toEqual({ enabled: true, defaultFrom: null, purgeDays: 30, createContacts: false, exclusions: [] });
  });

  it('are idempotent: every file runs again on a migrated database without error or change', async () => {
    const db = await emptyDb();
    await migrate(db.pool);
    await db.pool.query(`SELECT xtbatch.setsetting('BatchManagerPurgeDays', '9')`);
    for (const m of loadMigrations()) await db.pool.query(m.sql);
    expect((await readSettings(db.pool)).purgeDays).toBe(9);
    // 0001 and 0007 made the old tables again; 0010 merged and dropped them.
    const old = await db.pool.query(`SELECT to_regclass('xtbatch.metric') AS m, to_regclass('xtbatch.report') AS r, to_regclass('xtbatch.metasql') AS q`);
    expect(old.rows[0]).toEqual({ m: null, r: null, q: null });
  });

  it('let two migrators race without applying anything twice', async () => {
    const db = await emptyDb();
    const [a, b] = await Promise.all([migrate(db.pool), migrate(db.pool)]);
    expect([...a.applied, ...b.applied].map((m) => m.version).sort((x, y) => x - y)).toEqual(versions);
  });

  it('dry run lists what is pending and changes nothing', async () => {
    const db = await emptyDb();
    const dry = await migrate(db.pool, { dryRun: true });
    expect(dry.pending.map((m) => m.version)).toEqual(versions);
    const { rows } = await db.pool.query(`SELECT to_regclass('xtbatch.batch') AS t`);
    expect(rows[0].t).toBeNull();
  });

  it('refuse a schema newer than this build knows', async () => {
    const db = await emptyDb();
    await migrate(db.pool);
    await db.pool.query(`INSERT INTO xtbatch.xtconnect_migration VALUES (9999, '9999_future')`);
    await expect(checkSchema(db.pool)).rejects.toThrow(SchemaTooNewError);
    await expect(checkSchema(db.pool)).rejects.toThrow(/version 9999 .* upgrade xtconnect/);
    await expect(migrate(db.pool)).rejects.toThrow(SchemaTooNewError);
  });

  it('upgrade a database migrated before 0010: settings, reports and MetaSQL move to names of their own, rows kept', async () => {
    const db = await emptyDb();
    for (const m of loadMigrations().filter((x) => x.version <= 9)) {
      await db.pool.query(m.sql);
      await db.pool.query(`INSERT INTO xtbatch.xtconnect_migration (migration_version, migration_name) VALUES ($1, $2)`, [m.version, m.name]);
    }
    await db.pool.query(`UPDATE xtbatch.metric SET metric_value = '11' WHERE metric_name = 'BatchManagerPurgeDays'`);
    await db.pool.query(`INSERT INTO xtbatch.report (report_name, report_grade, report_source) VALUES ('Mine', 3, '<report/>')`);
    await db.pool.query(`INSERT INTO xtbatch.metasql (metasql_group, metasql_name, metasql_query) VALUES ('g', 'n', 'SELECT 1')`);
    const { applied } = await migrate(db.pool);
    expect(applied.map((m) => m.version)).toEqual(versions.filter((v) => v > 9));
    const { rows } = await db.pool.query(`SELECT to_regclass('xtbatch.metric') AS m, to_regclass('xtbatch.report') AS r,
      to_regclass('xtbatch.metasql') AS q, to_regclass('xtbatch.report_report_id_seq') AS rs,
      (SELECT report_grade FROM xtbatch.xtconnect_report WHERE report_name = 'Mine') AS grade,
      (SELECT metasql_query FROM xtbatch.xtconnect_metasql WHERE metasql_group = 'g') AS query`);
    expect(rows[0]).toEqual({ m: null, r: null, q: null, rs: null, grade: 3, query: 'SELECT 1' });
    expect(await readSettings(db.pool)).toEqual({ enabled: true, defaultFrom: null, purgeDays: 11, createContacts: false, exclusions: [] });
    // New rows still get ids from the renamed sequences.
    await db.pool.query(`INSERT INTO xtbatch.xtconnect_report (report_name, report_source) VALUES ('Next', '<report/>')`);
    await db.pool.query(`SELECT xtbatch.setsetting('BatchManagerPurgeDays', '12')`);
    expect((await readSettings(db.pool)).purgeDays).toBe(12);
  });

  it('keep finding the next due job on the partial index with a million finished rows', async () => {
    const db = await emptyDb();
    await migrate(db.pool);
    await db.pool.query(`INSERT INTO xtbatch.batch (batch_action, batch_started, batch_completed, batch_exitstatus)
                         SELECT 'Email', localtimestamp, localtimestamp, '' FROM generate_series(1, 1000000)`);
    await db.pool.query(`INSERT INTO xtbatch.batch (batch_action) VALUES ('Email')`);
    await db.pool.query('ANALYZE xtbatch.batch');
    const plan = await db.pool.query(`EXPLAIN (FORMAT JSON)
      SELECT batch_id FROM xtbatch.batch WHERE batch_started IS NULL AND batch_completed IS NULL
         AND batch_scheduled <= localtimestamp ORDER BY batch_priority, batch_scheduled, batch_id LIMIT 10`);
    // A partial index of waiting rows: 0001's batch_due_idx, or the console's batch_waiting_id_idx (0020).
    expect(JSON.stringify(plan.rows[0])).toMatch(/batch_due_idx|batch_waiting_id_idx/);
    // And the claim itself reads no more than that: its plans, as the server ran them (auto_explain, sent to this
    // session as notices), scan xtbatch.batch by an index only. A time limit said the same on an idle machine only.
    const one = new pg.Pool({ connectionString: db.url, max: 1 });
    const plans: string[] = [];
    one.on('connect', (c) => c.on('notice', (n) => plans.push(n.message ?? '')));
    try {
      await one.query(`LOAD 'auto_explain'`);
      await one.query(`SET auto_explain.log_min_duration = 0; SET auto_explain.log_nested_statements = on; SET client_min_messages = log`);
      const claimed = await claimDue(one, 'me', 10, 60, [], []);
      expect(claimed).toHaveLength(1);
    } finally {
      await one.end();
    }
    const scans = plans.join('\n').match(/[A-Za-z ]*Scan[^\n]* on batch\b/g) ?? [];
    expect(scans.length).toBeGreaterThan(0);
    for (const scan of scans) expect(scan).toMatch(/Index (Only )?Scan/);
  }, 120_000);
});

describe('migrations on an xTuple database', () => {
  it('install xtbatch as an xTuple package, so packageIsEnabled and the ERP\'s own functions reach it', async () => {
    const db = await emptyDb();
    await db.pool.query(fixture('xtuple-mini.sql'));
    // xtrole is cluster-wide (xTuple's group of ERP users); creating it is harmless on a test server.
    await db.pool.query(`DO $$ BEGIN CREATE ROLE xtrole NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$`);
    await migrate(db.pool);
    const grants = await db.pool.query(`SELECT has_table_privilege('xtrole', 'xtbatch.batch', 'INSERT') AS b,
      has_table_privilege('xtrole', 'xtbatch.batchparam', 'INSERT') AS p,
      has_sequence_privilege('xtrole', 'xtbatch.batch_batch_id_seq', 'USAGE') AS s`);
    expect(grants.rows[0]).toEqual({ b: true, p: true, s: true });
    const { rows } = await db.pool.query(`SELECT packageisenabled('xtbatch') AS on,
      (SELECT count(*)::int FROM pkghead WHERE pkghead_name = 'xtbatch') AS pkg`);
    expect(rows[0]).toEqual({ on: true, pkg: 1 });
    // An ERP function queueing mail the way hasAlarms() does.
    await db.pool.query(`CREATE FUNCTION public.fake_alarm() RETURNS integer LANGUAGE plpgsql AS $$
      BEGIN
        IF packageIsEnabled('xtbatch') AND fetchMetricBool('EnableBatchManager') THEN
          RETURN xtbatch.submitEmailToBatch('erp@example.com', 'bob@example.com', '', 'Alarm', 'Due', NULL,
                                            CURRENT_TIMESTAMP::timestamp, false, '', '');
        END IF;
        RETURN -1;
      END $$`);
    const queued = await db.pool.query(`SELECT public.fake_alarm() AS id`);
    expect(queued.rows[0].id).toBeGreaterThan(0);
    const claimed = await claimDue(db.pool, 'me', 10, 60, [], []);
    expect(claimed.map((j) => j.batch_subject)).toEqual(['Alarm']);
  });

  it('read and write settings through xTuple\'s metric table', async () => {
    const db = await emptyDb();
    await db.pool.query(fixture('xtuple-mini.sql'));
    await migrate(db.pool);
    expect((await readSettings(db.pool)).purgeDays).toBe(7);
    await db.pool.query(`SELECT xtbatch.setsetting('DefaultBatchFromEmailAddress', 'erp@example.com')`);
    const m = await db.pool.query(`SELECT fetchMetricText('DefaultBatchFromEmailAddress') AS v`);
    expect(m.rows[0].v).toBe('erp@example.com');
    await db.pool.query(`SELECT setMetric('EnableBatchManager', 'f')`);
    expect((await readSettings(db.pool)).enabled).toBe(false);
    await expect(db.pool.query(`SELECT xtbatch.submitActionToBatch('RunMRP', NULL, NULL)`)).rejects.toThrow(/not enabled/);
    // Settings live in public.metric alone on xTuple: no settings table of ours, under any name, that could hide it.
    const own = await db.pool.query(`SELECT to_regclass('xtbatch.metric')::text AS old, to_regclass('xtbatch.xtconnect_setting')::text AS own`);
    expect(own.rows[0]).toEqual({ old: null, own: null });
  });

  it('keep every row of the commercial package\'s xtbatch tables and add the daemon\'s columns', async () => {
    const db = await emptyDb();
    await db.pool.query(fixture('xtuple-mini.sql'));
    await db.pool.query(`SELECT createpkgschema('xtbatch', 'xTuple Connect');
      INSERT INTO pkghead (pkghead_name, pkghead_descrip, pkghead_version) VALUES ('xtbatch', 'xTuple Connect', '4.11.0')`);
    await db.pool.query(fixture('xtbatch-commercial.sql'));
    const before = await db.pool.query(`SELECT * FROM xtbatch.batch ORDER BY batch_id`);
    const params = await db.pool.query(`SELECT * FROM xtbatch.batchparam ORDER BY batchparam_id`);
    await migrate(db.pool);
    const after = await db.pool.query(`SELECT * FROM xtbatch.batch ORDER BY batch_id`);
    expect(after.rows).toHaveLength(3);
    after.rows.forEach((row, i) => {
      for (const [k, v] of Object.entries(before.rows[i])) expect(row[k]).toEqual(v);
      expect(row.batch_attempts).toBe(0);
      expect(row.batch_priority).toBe(0);
    });
    expect((await db.pool.query(`SELECT * FROM xtbatch.batchparam ORDER BY batchparam_id`)).rows).toEqual(params.rows);
    expect((await db.pool.query(`SELECT pkghead_version FROM pkghead WHERE pkghead_name = 'xtbatch'`)).rows[0].pkghead_version).toBe('4.11.0');
    const claimed = await claimDue(db.pool, 'me', 10, 60, [], []);
    expect(claimed.map((j) => j.batch_subject)).toEqual(['Waiting since 2020']);
    const states = await db.pool.query(`SELECT batch_id, state FROM xtbatch.job ORDER BY batch_id`);
    expect(states.rows.map((r) => r.state)).toEqual(['done', 'failed', 'running']);
  });
});
