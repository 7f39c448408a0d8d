import fs from 'node:fs';
import path from 'node:path';
import { loadMigrations, migrate, SQL_DIR } from '../../src/db/migrate';
import { erpActionHandler } from '../../src/handlers/erpAction';
import { testConfig } from '../support/config';
import { startDaemon } from '../support/daemon';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { finished, submit } from './helpers';

const dbs: TestDatabase[] = [];
async function emptyDb(): Promise<TestDatabase> {
  const db = await createTestDatabase({ empty: true });
  dbs.push(db);
  return db;
}
afterAll(async () => {
  await Promise.all(dbs.map((d) => d.drop()));
});

async function mapped(db: TestDatabase): Promise<string[]> {
  const { rows } = await db.pool.query(`SELECT action_name FROM xtbatch.action ORDER BY 1`);
  return rows.map((r) => r.action_name);
}

describe('the seeded ERP actions', () => {
  it('are none on a plain database', async () => {
    const db = await emptyDb();
    await migrate(db.pool);
    expect(await mapped(db)).toEqual([]);
  });

  it('are only those whose xTuple function exists with the right arguments, and they run', async () => {
    const db = await emptyDb();
    // xTuple's postInvoices(boolean); and an updateReorderLevel with other arguments than xTuple's, which must not count.
    await db.pool.query(`
      CREATE TABLE public.posted (unprinted boolean);
      CREATE FUNCTION public.postInvoices(boolean) RETURNS integer LANGUAGE plpgsql AS $$
        BEGIN INSERT INTO public.posted VALUES ($1); RETURN 3; END $$;
      CREATE FUNCTION public.updateReorderLevel(integer) RETURNS boolean LANGUAGE sql AS 'SELECT true';`);
    await migrate(db.pool);
    expect(await mapped(db)).toEqual(['PostInvoices']);
    const { rows } = await db.pool.query(`SELECT action_schema, action_function, action_args, action_enabled, action_timeout_seconds
                                            FROM xtbatch.action`);
    expect(rows[0]).toEqual({ action_schema: 'public', action_function: 'postinvoices', action_enabled: true, action_timeout_seconds: null,
      action_args: [{ param: 'postUnprinted', type: 'boolean', required: false, default: 'false' }] });

    // A job as xTuple's Post Invoices screen submits it.
    const daemon = await startDaemon(testConfig(db.url), { '*': erpActionHandler });
    try {
      const id = await submit(db, 'PostInvoices', [
        { name: 'action_name', value: 'PostInvoices' },
        { name: 'postUnprinted', value: 'true', type: 'bool' },
        { name: 'printSalesJournal', value: 'false', type: 'bool' },
      ]);
      const r = await finished(db, id);
      expect(r.batch_result).toEqual({ function: 'public.postinvoices', result: 3 });
      const posted = await db.pool.query(`SELECT unprinted FROM public.posted`);
      expect(posted.rows).toEqual([{ unprinted: true }]);
    } finally {
      await daemon.stop(0);
    }
  });

  it('seeds every xTuple action whose function is there, and running the file again keeps what the ERP side changed', async () => {
    const db = await emptyDb();
    await db.pool.query(`
      CREATE FUNCTION public.createRecurringItems(integer, text) RETURNS integer LANGUAGE sql AS 'SELECT 0';
      CREATE FUNCTION public.postGLSeries(integer) RETURNS integer LANGUAGE sql AS 'SELECT 0';
      CREATE FUNCTION public.updateReorderLevel(integer, integer, integer[]) RETURNS boolean LANGUAGE sql AS 'SELECT true';`);
    await migrate(db.pool);
    expect(await mapped(db)).toEqual(['CreateRecurringIncidents', 'CreateRecurringInvoices', 'CreateRecurringProjects',
      'CreateRecurringTodos', 'CreateRecurringVouchers', 'PostGLSeries', 'UpdateReorderLevel']);
    await db.pool.query(`UPDATE xtbatch.action SET action_timeout_seconds = 600 WHERE action_name = 'PostGLSeries'`);
    await db.pool.query(fs.readFileSync(path.join(SQL_DIR, '0006_actions.sql'), 'utf8'));
    const { rows } = await db.pool.query(`SELECT count(*)::int AS n, max(action_timeout_seconds) AS t FROM xtbatch.action`);
    expect(rows[0]).toEqual({ n: 7, t: 600 });
  });

  it('are readable but not writable by xTuple\'s ERP users', async () => {
    const db = await emptyDb();
    // xtrole is cluster-wide (xTuple's group of ERP users); creating it is harmless on a test server.
    await db.pool.query(`DO $$ BEGIN CREATE ROLE xtrole NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$`);
    await migrate(db.pool);
    // Also after every file runs again (0004 grants xtrole every xtbatch table that exists when it runs).
    for (const m of loadMigrations()) await db.pool.query(m.sql);
    const { rows } = await db.pool.query(`SELECT has_table_privilege('xtrole', 'xtbatch.action', 'SELECT') AS r,
      has_table_privilege('xtrole', 'xtbatch.action', 'INSERT') AS i, has_table_privilege('xtrole', 'xtbatch.action', 'UPDATE') AS u,
      has_table_privilege('xtrole', 'xtbatch.batch', 'INSERT') AS job`);
    expect(rows[0]).toEqual({ r: true, i: false, u: false, job: true });
  });
});
