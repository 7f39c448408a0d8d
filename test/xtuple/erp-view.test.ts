/**
 * Installing xtconnect must never change what an ERP session sees (issue 12). Every desktop session runs login(),
 * which puts enabled package schemas BEFORE public on its search_path; once xtbatch is a registered package, any
 * name in xtbatch that also exists in public or api would replace the ERP's own for every user.
 *
 * On xTuple's real 4.4 schema with quickstart data: every table, view, sequence, index, type and function name of
 * public and api is resolved under the ERP session's search_path before and after `migrate`, and must resolve to
 * the same object; `pg_dump --schema-only -n public -n api` may differ only by the documented additions
 * (docs/xtuple.md); xtbatch holds no name of public or api at all.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type pg from 'pg';
import { migrate } from '../../src/db/migrate';
import type { TestDatabase } from '../support/db';
import { createXtupleDatabase, erpSession } from '../support/xtupleDb';

const run = promisify(execFile);

let db: TestDatabase;
beforeAll(async () => {
  db = await createXtupleDatabase({ data: true });
}, 180_000);
afterAll(async () => {
  await db?.drop();
});

interface Resolution {
  kind: string;
  name: string;
  resolved: string | null;
}

/**
 * What each unqualified name of public and api means in this session: relations (tables, views, sequences, indexes,
 * composite types) by to_regclass, types by to_regtype, and every function signature by to_regprocedure with its
 * argument types spelled unqualified too (so a type hidden by a package would show here as well). The object is
 * named by schema-qualified identity, so a different object under the same name cannot go unnoticed.
 */
async function resolveAll(s: pg.Client): Promise<Resolution[]> {
  const { rows } = await s.query<Resolution>(`
    WITH names AS (
      SELECT DISTINCT 'relation' AS kind, quote_ident(c.relname) AS name
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname IN ('public', 'api')
      UNION
      SELECT DISTINCT 'type', quote_ident(t.typname)
        FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE n.nspname IN ('public', 'api')
      UNION
      SELECT DISTINCT 'function', quote_ident(p.proname) || '(' ||
             coalesce((SELECT string_agg(format_type(a.t, NULL), ', ' ORDER BY a.o)
                         FROM unnest(p.proargtypes::oid[]) WITH ORDINALITY AS a(t, o)), '') || ')'
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname IN ('public', 'api')
    )
    SELECT kind, name,
           CASE kind
             WHEN 'relation' THEN (SELECT n.nspname || '.' || c.relname || ':' || c.relkind::text FROM pg_class c
                                     JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = to_regclass(name))
             WHEN 'type' THEN (SELECT n.nspname || '.' || t.typname FROM pg_type t
                                 JOIN pg_namespace n ON n.oid = t.typnamespace WHERE t.oid = to_regtype(name))
             ELSE (SELECT to_regprocedure(name)::oid::regprocedure::text || '@' || n.nspname FROM pg_proc p
                     JOIN pg_namespace n ON n.oid = p.pronamespace WHERE p.oid = to_regprocedure(name))
           END AS resolved
      FROM names ORDER BY kind, name`);
  return rows;
}

async function dump(): Promise<string[]> {
  const { stdout } = await run('pg_dump', ['--schema-only', '-n', 'public', '-n', 'api', db.url], { maxBuffer: 256 * 1024 * 1024 });
  // \restrict / \unrestrict carry a random key per run (pg_dump 15.14+, 16.10+, 17.6+).
  return stdout.split('\n').filter((l) => !/^\\(un)?restrict /.test(l));
}

/** Lines added by the migration, and lines it removed, in order (a plain LCS-free walk: additions only shift). */
function lineDiff(before: string[], after: string[]): { added: string[]; removed: string[] } {
  const count = (lines: string[]) => lines.reduce((m, l) => m.set(l, (m.get(l) ?? 0) + 1), new Map<string, number>());
  const b = count(before);
  const a = count(after);
  const added: string[] = [];
  const removed: string[] = [];
  for (const [l, n] of a) for (let i = (b.get(l) ?? 0); i < n; i++) added.push(l);
  for (const [l, n] of b) for (let i = (a.get(l) ?? 0); i < n; i++) removed.push(l);
  return { added, removed };
}

describe('an ERP session after xtconnect is installed on xTuple 4.4 (quickstart)', () => {
  let before: Resolution[];
  let after: Resolution[];
  let dumpBefore: string[];
  let dumpAfter: string[];
  let pathBefore: string;
  let pathAfter: string;

  beforeAll(async () => {
    const s = await erpSession(db.url);
    try {
      pathBefore = (await s.query<{ p: string }>(`SELECT current_setting('search_path') AS p`)).rows[0]!.p;
      before = await resolveAll(s);
      // The quickstart data has no report definitions; the ERP's report writer saves them like this.
      await s.query(`INSERT INTO report (report_name, report_grade, report_source, report_descrip)
                     VALUES ('ErpOwnReport', 0, '<report/>', 'saved by the ERP')`);
      await s.query(`INSERT INTO metasql (metasql_group, metasql_name, metasql_query, metasql_grade, metasql_notes)
                     VALUES ('erp', 'own', 'SELECT 1', 0, '')`);
    } finally {
      await s.end();
    }
    dumpBefore = await dump();
    await migrate(db.pool);
    const t = await erpSession(db.url);
    try {
      pathAfter = (await t.query<{ p: string }>(`SELECT current_setting('search_path') AS p`)).rows[0]!.p;
      after = await resolveAll(t);
    } finally {
      await t.end();
    }
    dumpAfter = await dump();
  }, 180_000);

  it('has xtbatch first on its search_path, as login() puts every enabled package', () => {
    expect(pathBefore.replace(/\s/g, '')).toBe('public,api');
    expect(pathAfter.replace(/\s/g, '')).toBe('xtbatch,public,api');
  });

  it('resolves every table, view, sequence, index, type and function name of public and api to the same object', () => {
    // Thousands of names (about 1,300 functions, 267 tables with their indexes and types); none may be lost.
    expect(before.length).toBeGreaterThan(3000);
    expect(before.filter((r) => r.resolved === null)).toEqual([]);
    // Among them the names xtconnect's own tables once had (sql/0001, 0007; renamed by 0010).
    expect(before).toEqual(expect.arrayContaining(['metric', 'report', 'metasql'].map((n) =>
      ({ kind: 'relation', name: n, resolved: `public.${n}:r` }))));
    const was = new Map(before.map((r) => [`${r.kind} ${r.name}`, r.resolved]));
    const changed = after.filter((r) => was.has(`${r.kind} ${r.name}`) && was.get(`${r.kind} ${r.name}`) !== r.resolved);
    expect(changed).toEqual([]);
    expect(after.filter((r) => was.has(`${r.kind} ${r.name}`))).toHaveLength(before.length);
  });

  it('finds no name of public or api in xtbatch (relation, type or function), so none can be hidden or overloaded', async () => {
    const { rows } = await db.pool.query(`
      WITH x AS (SELECT relname::text AS n FROM pg_class WHERE relnamespace = 'xtbatch'::regnamespace
                 UNION SELECT typname::text FROM pg_type WHERE typnamespace = 'xtbatch'::regnamespace
                 UNION SELECT proname::text FROM pg_proc WHERE pronamespace = 'xtbatch'::regnamespace),
           p AS (SELECT relname::text AS n FROM pg_class WHERE relnamespace IN ('public'::regnamespace, 'api'::regnamespace)
                 UNION SELECT typname::text FROM pg_type WHERE typnamespace IN ('public'::regnamespace, 'api'::regnamespace)
                 UNION SELECT proname::text FROM pg_proc WHERE pronamespace IN ('public'::regnamespace, 'api'::regnamespace))
      SELECT x.n FROM x JOIN p USING (n) ORDER BY 1`);
    expect(rows).toEqual([]);
  });

  it('dumps public and api with only the documented additions: the settings trigger and grants to xtconnect', () => {
    const { added, removed } = lineDiff(dumpBefore, dumpAfter);
    expect(removed).toEqual([]);
    const documented = [
      /^$/,
      /^--/,
      /^CREATE TRIGGER xtconnect_settings_changed AFTER INSERT OR DELETE OR UPDATE ON public\.metric FOR EACH STATEMENT EXECUTE FUNCTION xtbatch\.notify_settings\(\);$/,
      /^GRANT [A-Z, ]+ ON (TABLE|SEQUENCE|FUNCTION|SCHEMA) [a-z_.(), ]+ TO xtconnect;$/,
    ];
    expect(added.filter((l) => !documented.some((re) => re.test(l)))).toEqual([]);
    expect(added).toContain('CREATE TRIGGER xtconnect_settings_changed AFTER INSERT OR DELETE OR UPDATE ON public.metric FOR EACH STATEMENT EXECUTE FUNCTION xtbatch.notify_settings();');
  });

  it('reads the 290 quickstart metrics, "PostBooks", its report definitions and MetaSQL, through the ERP\'s own functions', async () => {
    const s = await erpSession(db.url);
    try {
      const m = await s.query(`SELECT count(*)::int AS n, fetchMetricText('Application') AS app,
                                      fetchMetricBool('EnableBatchManager') AS enabled FROM metric`);
      expect(m.rows[0]).toEqual({ n: 290, app: 'PostBooks', enabled: false });
      const r = await s.query(`SELECT report_descrip FROM report WHERE report_name = 'ErpOwnReport'`);
      expect(r.rows).toEqual([{ report_descrip: 'saved by the ERP' }]);
      const q = await s.query(`SELECT metasql_query FROM metasql WHERE metasql_group = 'erp' AND metasql_name = 'own'`);
      expect(q.rows).toEqual([{ metasql_query: 'SELECT 1' }]);
      // Unqualified writes land in public, as before.
      await s.query(`INSERT INTO report (report_name, report_grade, report_source) VALUES ('ErpSecond', 0, '<report/>')`);
      expect((await db.pool.query(`SELECT count(*)::int AS n FROM ONLY public.report WHERE report_name = 'ErpSecond'`)).rows[0].n).toBe(1);
      // The ERP turns xTuple Connect on with its own function; xtconnect reads the same row.
      await s.query(`SELECT setMetric('EnableBatchManager', 't')`);
      expect((await s.query(`SELECT fetchMetricBool('EnableBatchManager') AS on`)).rows[0].on).toBe(true);
      expect((await db.pool.query(`SELECT xtbatch.enabled() AS on`)).rows[0].on).toBe(true);
    } finally {
      await s.end();
    }
  });
});
