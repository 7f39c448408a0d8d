import type { Pool } from '../db/pool';
import { errorMessage, PermanentError } from '../errors';
import { parseDefinition, type ReportDefinition } from './openrpt';

/**
 * Where report definitions and MetaSQL statements come from: xTuple's public.report / public.metasql when the
 * database is an xTuple one, and xtbatch.xtconnect_report / xtbatch.xtconnect_metasql (sql/0007, renamed by 0010 so
 * that they cannot hide the ERP's tables on its search_path) always. The highest grade of a name
 * wins, as in xTuple. At equal grade the xtbatch row wins: that table is where an administrator puts a
 * corrected or site-specific copy without editing the ERP's own rows, so it is the more deliberate choice.
 */
export interface StoredDefinition {
  name: string;
  grade: number;
  source: string;
  /** "public.report" or "xtbatch.xtconnect_report", for messages and the job's result. */
  origin: string;
}

export interface StoredMetaSql {
  group: string;
  name: string;
  grade: number;
  query: string;
  origin: string;
}

interface Catalog {
  publicReport: boolean;
  publicMetaSql: boolean;
}

/** Asked once per pool: the catalog does not change under a running daemon in any way that matters here. */
const catalogs = new WeakMap<Pool, Promise<Catalog>>();

async function readCatalog(pool: Pool): Promise<Catalog> {
  // A table counts only with the columns we read: a plain database may have an unrelated "report" table.
  const { rows } = await pool.query<{ rel: string; n: number }>(
    `SELECT c.relname AS rel, count(*)::int AS n
       FROM pg_class c
       JOIN pg_namespace s ON s.oid = c.relnamespace
       JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
      WHERE s.nspname = 'public' AND c.relkind IN ('r', 'v', 'p', 'm', 'f')
        AND ((c.relname = 'report' AND a.attname IN ('report_name', 'report_grade', 'report_source'))
          OR (c.relname = 'metasql' AND a.attname IN ('metasql_group', 'metasql_name', 'metasql_query', 'metasql_grade')))
      GROUP BY c.relname`,
  );
  const count = (rel: string): number => rows.find((r) => r.rel === rel)?.n ?? 0;
  return { publicReport: count('report') === 3, publicMetaSql: count('metasql') === 4 };
}

function catalog(pool: Pool): Promise<Catalog> {
  let c = catalogs.get(pool);
  if (!c) {
    c = readCatalog(pool);
    catalogs.set(pool, c);
    c.catch(() => catalogs.delete(pool)); // a failed look (database down) is asked again next time
  }
  return c;
}

/** The winning definition of `name`, or null with no row of that name anywhere. */
export async function loadDefinition(pool: Pool, name: string): Promise<StoredDefinition | null> {
  const cat = await catalog(pool);
  const sql = `
    SELECT report_name AS name, report_grade AS grade, report_source AS source, 'xtbatch.xtconnect_report' AS origin, 0 AS rank
      FROM xtbatch.xtconnect_report WHERE report_name = $1
    ${cat.publicReport ? `UNION ALL
    SELECT report_name, coalesce(report_grade, 0), report_source, 'public.report', 1
      FROM public.report WHERE report_name = $1 AND report_source IS NOT NULL` : ''}
    ORDER BY grade DESC, rank
    LIMIT 1`;
  const { rows } = await pool.query<StoredDefinition>(sql, [name]);
  const r = rows[0];
  return r ? { name: r.name, grade: Number(r.grade), source: r.source, origin: r.origin } : null;
}

/** Report names that differ from `name` only in case or spacing: what a person most likely meant. */
export async function similarReportNames(pool: Pool, name: string): Promise<string[]> {
  const cat = await catalog(pool);
  const { rows } = await pool.query<{ name: string }>(
    `SELECT DISTINCT report_name AS name FROM (
       SELECT report_name FROM xtbatch.xtconnect_report
       ${cat.publicReport ? 'UNION ALL SELECT report_name FROM public.report' : ''}
     ) r
     WHERE lower(replace(report_name, ' ', '')) = lower(replace($1, ' ', '')) AND report_name <> $1
     ORDER BY 1 LIMIT 5`,
    [name],
  );
  return rows.map((r) => r.name);
}

/** The winning MetaSQL statement of group/name, or null. */
export async function loadMetaSql(pool: Pool, group: string, name: string): Promise<StoredMetaSql | null> {
  const cat = await catalog(pool);
  const sql = `
    SELECT metasql_group AS "group", metasql_name AS name, metasql_grade AS grade, metasql_query AS query,
           'xtbatch.xtconnect_metasql' AS origin, 0 AS rank
      FROM xtbatch.xtconnect_metasql WHERE metasql_group = $1 AND metasql_name = $2
    ${cat.publicMetaSql ? `UNION ALL
    SELECT metasql_group, metasql_name, coalesce(metasql_grade, 0), metasql_query, 'public.metasql', 1
      FROM public.metasql WHERE metasql_group = $1 AND metasql_name = $2 AND metasql_query IS NOT NULL` : ''}
    ORDER BY grade DESC, rank
    LIMIT 1`;
  const { rows } = await pool.query<StoredMetaSql>(sql, [group, name]);
  const r = rows[0];
  return r ? { ...r, grade: Number(r.grade) } : null;
}

export interface LoadedReport {
  def: ReportDefinition;
  stored: StoredDefinition;
}

/**
 * Loads and parses the winning definition of `name`. `missing` makes the error for an unknown name (a job
 * names its field, the CLI its argument); a definition that does not parse is a PermanentError naming it.
 */
export async function loadReport(pool: Pool, name: string, missing: (message: string) => Error): Promise<LoadedReport> {
  const stored = await loadDefinition(pool, name);
  if (!stored) {
    const similar = await similarReportNames(pool, name);
    throw missing(`no report named "${name}" in report or xtbatch.xtconnect_report` +
      (similar.length ? ` (did you mean ${similar.map((s) => `"${s}"`).join(', ')}?)` : ''));
  }
  try {
    return { def: parseDefinition(stored.source, stored.name), stored };
  } catch (err) {
    throw new PermanentError(`report "${name}" (grade ${stored.grade} in ${stored.origin}) cannot be read: ${errorMessage(err)}`);
  }
}
