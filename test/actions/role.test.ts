import crypto from 'node:crypto';
import pg from 'pg';
import { erpActionHandler } from '../../src/handlers/erpAction';
import { analyzeHandler, reindexHandler, serverMaintenanceHandler, vacuumHandler } from '../../src/handlers/maintenance';
import { testConfig } from '../support/config';
import { startDaemon, type RunningDaemon } from '../support/daemon';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { finished, submit } from './helpers';

// The daemon as an ordinary database role with the grants the README lists: it runs jobs, maintains the tables
// it owns, and is refused (not silently skipped) on the tables it does not.

const role = `xtc_t_daemon_${crypto.randomBytes(4).toString('hex')}`;
let db: TestDatabase;
let daemon: RunningDaemon;

beforeAll(async () => {
  db = await createTestDatabase();
  await db.pool.query(`CREATE ROLE ${role} LOGIN`);
  await db.pool.query(`
    GRANT USAGE ON SCHEMA xtbatch TO ${role};
    GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA xtbatch TO ${role};
    REVOKE INSERT, UPDATE, DELETE ON xtbatch.action FROM ${role};
    GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA xtbatch TO ${role};
    CREATE TABLE public.owned_by_daemon (id serial PRIMARY KEY);
    ALTER TABLE public.owned_by_daemon OWNER TO ${role};
    CREATE TABLE public.owned_by_admin (id serial PRIMARY KEY);
    CREATE FUNCTION public.open_fn() RETURNS integer LANGUAGE sql AS 'SELECT 1';
    CREATE FUNCTION public.closed_fn() RETURNS integer LANGUAGE sql AS 'SELECT 2';
    REVOKE EXECUTE ON FUNCTION public.closed_fn() FROM PUBLIC;
    INSERT INTO xtbatch.action (action_name, action_function) VALUES ('Open', 'open_fn'), ('Closed', 'closed_fn');`);
  const url = new URL(db.url);
  url.username = role;
  daemon = await startDaemon(testConfig(url.toString()), {
    '*': erpActionHandler, Vacuum: vacuumHandler, Analyze: analyzeHandler, Reindex: reindexHandler, ServerMaintenance: serverMaintenanceHandler,
  });
});
afterAll(async () => {
  await daemon?.stop(0);
  await db?.drop();
  const admin = new pg.Client({ connectionString: process.env.XTCONNECT_TEST_ADMIN_URL });
  await admin.connect();
  await admin.query(`DROP ROLE IF EXISTS ${role}`).finally(() => admin.end());
});

describe('the daemon as an ordinary role', () => {
  it('maintains a table it owns', async () => {
    for (const action of ['Vacuum', 'Analyze', 'Reindex', 'ServerMaintenance']) {
      const r = await finished(db, await submit(db, action, [{ name: 'table', value: 'owned_by_daemon' }]));
      expect([action, r.state, r.batch_exitstatus]).toEqual([action, 'done', '']);
    }
  });

  it('refuses a named table it does not own, saying who owns it and what is needed', async () => {
    const vac = await submit(db, 'Vacuum', [{ name: 'table', value: 'owned_by_admin' }]);
    expect((await finished(db, vac)).batch_exitstatus).toBe(`job ${vac}: table public.owned_by_admin is owned by postgres: ` +
      `VACUUM and ANALYZE need the table's or the database's owner (or, from PostgreSQL 17, the MAINTAIN privilege); xtconnect connects as ${role}`);
    const re = await submit(db, 'Reindex', [{ name: 'table', value: 'owned_by_admin' }]);
    expect((await finished(db, re)).batch_exitstatus).toMatch(/is owned by postgres: REINDEX needs the table's owner/);
  });

  it('over the whole database does the tables it owns and lists the others as skipped', async () => {
    const r = await finished(db, await submit(db, 'ServerMaintenance'));
    expect(r.state).toBe('done');
    expect(r.batch_result.tables.map((t: { table: string }) => t.table)).toEqual(['public.owned_by_daemon']);
    const skipped = r.batch_result.skipped.map((s: { table: string }) => s.table);
    expect(skipped).toEqual(expect.arrayContaining(['public.owned_by_admin', 'xtbatch.batch']));
  });

  it('runs an ERP function it may execute, and names the grant for one it may not', async () => {
    const open = await finished(db, await submit(db, 'Open'));
    expect(open.batch_result).toEqual({ function: 'public.open_fn', result: 1 });
    const closed = await finished(db, await submit(db, 'Closed'));
    expect(closed.batch_exitstatus).toBe(`action "Closed": xtconnect's database role may not execute public.closed_fn() ` +
      '(GRANT EXECUTE ON FUNCTION public.closed_fn() TO <the daemon\'s role>)');
  });
});
