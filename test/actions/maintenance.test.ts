import pg from 'pg';
import { analyzeHandler, parseTableName, reindexHandler, serverMaintenanceHandler, vacuumHandler } from '../../src/handlers/maintenance';
import { testConfig } from '../support/config';
import { startDaemon, type RunningDaemon } from '../support/daemon';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { waitFor } from '../support/wait';
import { finished, submit } from './helpers';

let db: TestDatabase;
let daemon: RunningDaemon;

beforeAll(async () => {
  db = await createTestDatabase();
  await db.pool.query(`
    CREATE TABLE public.widget (id serial PRIMARY KEY, name text);
    CREATE SCHEMA other;
    CREATE TABLE other.widget (id serial PRIMARY KEY, name text);
    CREATE TABLE public."Odd Name" (id serial PRIMARY KEY);
    CREATE TABLE public.victim (id integer);
    CREATE VIEW public.widget_view AS SELECT * FROM public.widget;
    INSERT INTO public.widget (name) SELECT 'w' || g FROM generate_series(1, 2000) g;
    INSERT INTO other.widget (name) SELECT 'o' || g FROM generate_series(1, 100) g;
    DELETE FROM public.widget WHERE id % 2 = 0;`);
  daemon = await startDaemon(testConfig(db.url), {
    Vacuum: vacuumHandler, Analyze: analyzeHandler, Reindex: reindexHandler, ServerMaintenance: serverMaintenanceHandler,
  });
});
afterAll(async () => {
  await daemon?.stop(0);
  await db?.drop();
});

/** vacuum_count and analyze_count of a table, as the statistics system records them. */
async function counts(table: string): Promise<{ vacuums: number; analyzes: number }> {
  const { rows } = await db.pool.query(
    `SELECT (vacuum_count + 0)::int AS vacuums, (analyze_count + 0)::int AS analyzes FROM pg_stat_all_tables WHERE relid = $1::regclass`, [table]);
  return rows[0];
}

async function filenode(rel: string): Promise<number> {
  const { rows } = await db.pool.query(`SELECT pg_relation_filenode($1::regclass)::int AS f`, [rel]);
  return rows[0].f;
}

describe('table names', () => {
  it('are read as PostgreSQL reads identifiers, and anything else is no name', () => {
    expect(parseTableName('Widget')).toEqual({ schema: null, name: 'widget' });
    expect(parseTableName(' other . WIDGET ')).toEqual({ schema: 'other', name: 'widget' });
    expect(parseTableName('"Odd Name"')).toEqual({ schema: null, name: 'Odd Name' });
    expect(parseTableName('public."a""b"')).toEqual({ schema: 'public', name: 'a"b' });
    for (const bad of ['batch; DROP TABLE x', 'a.b.c', 'two words', '"unclosed', '', '1abc', 'a.', '.a', 'x--']) {
      expect([bad, parseTableName(bad)]).toEqual([bad, null]);
    }
  });
});

describe('Vacuum, Analyze and Reindex of named tables', () => {
  it('vacuums the tables named, plain, schema-qualified and quoted, and no others', async () => {
    const before = { pub: await counts('public.widget'), other: await counts('other.widget'), odd: await counts('public."Odd Name"'), victim: await counts('public.victim') };
    const id = await submit(db, 'Vacuum', [{ name: 'table', value: 'widget' }, { name: 'tables', value: 'other.widget, "Odd Name"' }]);
    const r = await finished(db, id);
    expect([r.state, r.batch_exitstatus]).toEqual(['done', '']);
    expect(r.batch_result.scope).toBe('tables');
    expect(r.batch_result.tables.map((t: { table: string }) => t.table)).toEqual(['public.widget', 'other.widget', 'public."Odd Name"']);
    for (const t of r.batch_result.tables) {
      expect(t.done).toEqual([{ command: 'VACUUM', ms: expect.any(Number) }]);
    }
    await waitFor('vacuum counted', async () => (await counts('public.widget')).vacuums === before.pub.vacuums + 1);
    expect((await counts('other.widget')).vacuums).toBe(before.other.vacuums + 1);
    expect((await counts('public."Odd Name"')).vacuums).toBe(before.odd.vacuums + 1);
    expect((await counts('public.victim')).vacuums).toBe(before.victim.vacuums);
  });

  it('VACUUM FULL rewrites the table; ANALYZE analyzes only the one named', async () => {
    const node = await filenode('public.widget');
    const full = await finished(db, await submit(db, 'Vacuum', [{ name: 'table', value: 'public.widget' }, { name: 'full', value: 'true', type: 'bool' }]));
    expect(full.state).toBe('done');
    expect(full.batch_result.action).toBe('VACUUM (FULL)');
    expect(await filenode('public.widget')).not.toBe(node);

    const before = { pub: await counts('public.widget'), other: await counts('other.widget') };
    const an = await finished(db, await submit(db, 'Analyze', [{ name: 'table', value: 'other.widget' }]));
    expect(an.state).toBe('done');
    await waitFor('analyze counted', async () => (await counts('other.widget')).analyzes === before.other.analyzes + 1);
    expect((await counts('public.widget')).analyzes).toBe(before.pub.analyzes);
  });

  it('REINDEX rebuilds the indexes of the table named only', async () => {
    const pub = await filenode('public.widget_pkey');
    const other = await filenode('other.widget_pkey');
    const r = await finished(db, await submit(db, 'Reindex', [{ name: 'table', value: 'public.widget' }]));
    expect(r.state).toBe('done');
    expect(r.batch_result.tables).toEqual([{ table: 'public.widget', done: [{ command: 'REINDEX TABLE', ms: expect.any(Number) }], ms: expect.any(Number) }]);
    expect(await filenode('public.widget_pkey')).not.toBe(pub);
    expect(await filenode('other.widget_pkey')).toBe(other);
    const c = await finished(db, await submit(db, 'Reindex', [{ name: 'table', value: 'other.widget' }, { name: 'concurrently', value: 'yes' }]));
    expect([c.state, c.batch_result.action]).toEqual(['done', 'REINDEX TABLE CONCURRENTLY']);
    expect(await filenode('other.widget_pkey')).not.toBe(other);
  });

  it('refuses a table that does not exist, naming the job and the table', async () => {
    const id = await submit(db, 'Vacuum', [{ name: 'table', value: 'widget' }, { name: 'table', value: 'other.nosuch' }]);
    const r = await finished(db, id);
    expect(r.state).toBe('failed');
    expect(r.batch_exitstatus).toBe(`job ${id}: table "other.nosuch" does not exist (no such table in schema "other")`);
    expect(r.batch_attempts).toBe(1);
  });

  it('refuses an injection attempt and a view, and runs nothing', async () => {
    const before = await counts('public.widget');
    const inj = await submit(db, 'Vacuum', [{ name: 'table', value: 'widget; DROP TABLE victim' }]);
    const r = await finished(db, inj);
    expect(r.state).toBe('failed');
    expect(r.batch_exitstatus).toBe(`job ${inj}: table "widget; DROP TABLE victim" is not a table name ` +
      '(give name or schema.name; quote unusual names with double quotes)');
    const quotedInj = await submit(db, 'Analyze', [{ name: 'table', value: '"widget""; DROP TABLE victim; --"' }]);
    expect((await finished(db, quotedInj)).batch_exitstatus).toMatch(/^job \d+: table .* does not exist/);
    const view = await submit(db, 'Vacuum', [{ name: 'table', value: 'widget_view' }]);
    expect((await finished(db, view)).batch_exitstatus).toBe(`job ${view}: table "widget_view" is a view (public.widget_view), not a table`);
    const { rows } = await db.pool.query(`SELECT to_regclass('public.victim') IS NOT NULL AS there`);
    expect(rows[0].there).toBe(true);
    expect((await counts('public.widget')).vacuums).toBe(before.vacuums);
  });

  it('refuses an option that is not true or false', async () => {
    const id = await submit(db, 'Vacuum', [{ name: 'table', value: 'widget' }, { name: 'full', value: 'maybe' }]);
    expect((await finished(db, id)).batch_exitstatus).toBe(`job ${id}: parameter "full" is "maybe", which is not true or false`);
  });

  it('refuses a parameter it does not read, and a table in batch_parameter, before running anything over every table', async () => {
    const vacuums = async (): Promise<number> => (await db.pool.query<{ n: number }>(
      `SELECT coalesce(sum(vacuum_count), 0)::int AS n FROM pg_stat_user_tables`)).rows[0]!.n;
    const before = await vacuums();
    const typo = await submit(db, 'Vacuum', [{ name: 'tabel', value: 'widget' }, { name: 'ful', value: 'true' }]);
    expect((await finished(db, typo)).batch_exitstatus).toBe(
      `job ${typo}: parameter "tabel" is not a Vacuum parameter (it takes table, tables, statementTimeoutSeconds, full, analyze)`);
    const reindex = await submit(db, 'Reindex', [{ name: 'table', value: 'widget' }, { name: 'concurrent', value: 'true' }]);
    expect((await finished(db, reindex)).batch_exitstatus).toMatch(/parameter "concurrent" is not a Reindex parameter \(it takes .*concurrently\)/);
    const { rows: [p] } = await db.pool.query<{ id: number }>(
      `INSERT INTO xtbatch.batch (batch_action, batch_parameter) VALUES ('Vacuum', 'public.widget') RETURNING batch_id AS id`);
    expect((await finished(db, p!.id)).batch_exitstatus).toBe(`job ${p!.id}: batch_parameter is "public.widget", but Vacuum does not read it: ` +
      'name the tables in the parameter "table" or "tables", or leave both out for every table');
    expect(await vacuums()).toBe(before);
  });
});

describe('the whole database', () => {
  it('Analyze with no table analyzes every table outside the system schemas', async () => {
    const before = await counts('other.widget');
    const r = await finished(db, await submit(db, 'Analyze'));
    expect(r.state).toBe('done');
    expect(r.batch_result.scope).toBe('database');
    const names = r.batch_result.tables.map((t: { table: string }) => t.table);
    expect(names).toEqual(expect.arrayContaining(['public.widget', 'other.widget', 'public."Odd Name"', 'xtbatch.batch', 'xtbatch.action']));
    expect(names.some((n: string) => n.startsWith('pg_catalog.') || n.startsWith('information_schema.'))).toBe(false);
    expect(r.batch_result.skipped).toEqual([]);
    await waitFor('analyze counted', async () => (await counts('other.widget')).analyzes > before.analyzes);
  });

  it('ServerMaintenance vacuums, analyzes and reindexes every table', async () => {
    const node = await filenode('public.widget_pkey');
    const before = await counts('public.widget');
    const r = await finished(db, await submit(db, 'ServerMaintenance'));
    expect([r.state, r.batch_exitstatus]).toEqual(['done', '']);
    const widget = r.batch_result.tables.find((t: { table: string }) => t.table === 'public.widget');
    expect(widget.done.map((d: { command: string }) => d.command)).toEqual(['VACUUM (ANALYZE)', 'REINDEX TABLE']);
    expect(r.batch_result.tables.length).toBeGreaterThan(5);
    expect(await filenode('public.widget_pkey')).not.toBe(node);
    await waitFor('vacuum counted', async () => (await counts('public.widget')).vacuums > before.vacuums);
  });
});

describe('stopping a long statement', () => {
  /** Holds a lock on public.widget from another connection until released, so that VACUUM FULL must wait. */
  async function lockWidget(): Promise<{ release: () => Promise<void> }> {
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    await c.query(`BEGIN; LOCK TABLE public.widget IN ACCESS SHARE MODE`);
    return { release: async () => { await c.query('ROLLBACK'); await c.end(); } };
  }

  async function waitingVacuums(): Promise<number> {
    const { rows } = await db.pool.query(
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'VACUUM (FULL)%' AND state = 'active'`);
    return rows[0].n;
  }

  it('the statement timeout stops a VACUUM FULL that waits for a lock, with the database\'s message', async () => {
    const lock = await lockWidget();
    try {
      const t0 = Date.now();
      const id = await submit(db, 'Vacuum', [{ name: 'table', value: 'widget' }, { name: 'full', value: 'true' }, { name: 'statementTimeoutSeconds', value: '1', type: 'int' }]);
      const r = await finished(db, id);
      expect(r.state).toBe('failed');
      expect(r.batch_exitstatus).toBe(`job ${id}: VACUUM (FULL) public.widget failed: canceling statement due to statement timeout`);
      expect(Date.now() - t0).toBeLessThan(10_000);
      expect(await waitingVacuums()).toBe(0);
    } finally {
      await lock.release();
    }
  });

  it('the job\'s timeout cancels the statement on the server', async () => {
    const lock = await lockWidget();
    try {
      // No statement timeout: only the job's own timeout (1 s) can stop it.
      const id = await submit(db, 'Vacuum', [{ name: 'table', value: 'widget' }, { name: 'full', value: 'true' }, { name: 'statementTimeoutSeconds', value: '0' }],
        { timeoutSeconds: 1 });
      await waitFor('the VACUUM to wait for the lock', async () => (await waitingVacuums()) === 1);
      const r = await finished(db, id);
      expect(r.batch_exitstatus).toMatch(/^did not finish within its timeout of 1 s/);
      // Still locked: had the statement not been cancelled it would still be waiting.
      await waitFor('the waiting VACUUM FULL to be gone', async () => (await waitingVacuums()) === 0, 5000);
    } finally {
      await lock.release();
    }
    // Its connection went back to the pool without the job's setting, and the next job works.
    const next = await finished(db, await submit(db, 'Vacuum', [{ name: 'table', value: 'widget' }]));
    expect(next.state).toBe('done');
  });
});
