import pg from 'pg';
import { limitedDbFailure, setStatementTimeout, withDedicatedClient } from '../db/jobConnection';
import type { BatchRow } from '../db/queries/batch';
import type { Client } from '../db/pool';
import { JobInputError, PermanentError } from '../errors';
import { refuseUnknownParams } from '../jobs/knownParams';
import { timeoutSeconds as jobTimeoutSeconds } from '../jobs/timeout';
import type { Handler, JobContext } from './types';

/*
 * Database maintenance actions: Vacuum, Analyze, Reindex and xTuple's ServerMaintenance.
 *
 * Job parameters (batchparam rows, by name):
 *   table                    one table, "name" or "schema.name" (SQL identifier rules: unquoted parts are folded to
 *                            lower case, "Quoted" parts are kept); repeat the row for several tables
 *   tables                   several tables in one row, separated by commas (a name with a comma in it needs a
 *                            `table` row of its own)
 *   full                     Vacuum and ServerMaintenance: VACUUM FULL (rewrites the table under an exclusive lock)
 *   analyze                  Vacuum: VACUUM ANALYZE
 *   concurrently             Reindex: REINDEX TABLE CONCURRENTLY (does not block writes; not for system catalogs)
 *   statementTimeoutSeconds  limit for each statement (0: none); default the job's timeout
 * With no table the action covers every table of the database outside pg_catalog, information_schema and the
 * toast and temporary schemas (system catalogs are left to autovacuum, and need a superuser anyway).
 *
 * Who may do what (PostgreSQL 15 and 16; from 17 the MAINTAIN privilege and the pg_maintain role also allow all
 * three): VACUUM and ANALYZE need the table's owner or the database's owner; REINDEX TABLE needs the table's
 * owner. A named table the daemon's role may not maintain fails the job (PostgreSQL itself would only warn and do
 * nothing); in a whole-database run such tables are listed as skipped.
 */

// Running statements on a connection of their own, and the database's errors as job outcomes: src/db/jobConnection.ts.

// --- parameters ----------------------------------------------------------------------------------------------

const TRUE_WORDS = new Set(['true', 't', '1', 'yes', 'y', 'on']);
const FALSE_WORDS = new Set(['false', 'f', '0', 'no', 'n', 'off', '']);

export function boolParam(ctx: Pick<JobContext, 'job' | 'params'>, name: string): boolean {
  const v = ctx.params.get(name);
  if (v === undefined || v === null) return false;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v !== 0;
  const s = v.trim().toLowerCase();
  if (TRUE_WORDS.has(s)) return true;
  if (FALSE_WORDS.has(s)) return false;
  throw new JobInputError(ctx.job.batch_id, `parameter "${name}"`, `is ${JSON.stringify(v)}, which is not true or false`);
}

function timeoutParam(ctx: Pick<JobContext, 'job' | 'params' | 'cfg'>): number {
  const v = ctx.params.get('statementTimeoutSeconds');
  if (v === undefined || v === null || (typeof v === 'string' && v.trim() === '')) return jobTimeoutSeconds(ctx.cfg, ctx.job);
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\s*\d+\s*$/.test(v) ? Number(v) : NaN;
  if (!Number.isInteger(n) || n < 0 || n > 7 * 86_400) {
    throw new JobInputError(ctx.job.batch_id, 'parameter "statementTimeoutSeconds"',
      `is ${JSON.stringify(v)}, which is not a whole number of seconds from 0 (none) to 604800`);
  }
  return n;
}

export interface TableName {
  schema: string | null;
  name: string;
}

const PART = /\s*(?:"((?:[^"]|"")+)"|([A-Za-z_\u0080-\uffff][A-Za-z0-9_$\u0080-\uffff]*))\s*/y;

/**
 * Parses "name", "schema.name" or their quoted forms the way PostgreSQL reads an identifier: unquoted parts are
 * folded to lower case, quoted parts are kept with "" as one quote. Anything else (spaces between words,
 * semicolons, a third part) is no table name; null then.
 */
export function parseTableName(text: string): TableName | null {
  const parts: string[] = [];
  let at = 0;
  for (;;) {
    PART.lastIndex = at;
    const m = PART.exec(text);
    if (!m) return null;
    parts.push(m[1] !== undefined ? m[1].replace(/""/g, '"') : m[2]!.replace(/[A-Z]/g, (c) => c.toLowerCase()));
    at = PART.lastIndex;
    if (at === text.length) break;
    if (text[at] !== '.' || parts.length === 2) return null;
    at++;
  }
  return parts.length === 2 ? { schema: parts[0]!, name: parts[1]! } : { schema: null, name: parts[0]! };
}

/** The tables a job names, in order: every `table` row, then the entries of every `tables` row. */
export function tableParams(job: BatchRow): string[] {
  const out: string[] = [];
  for (const p of job.params) {
    if (p.name === 'table' && p.value !== null && p.value.trim() !== '') out.push(p.value.trim());
    if (p.name === 'tables' && p.value !== null) {
      for (const t of p.value.split(',')) if (t.trim() !== '') out.push(t.trim());
    }
  }
  return out;
}

// --- tables and who may maintain them ----------------------------------------------------------------------

interface TableRow {
  oid: number;
  schema: string;
  name: string;
  relkind: string;
  owner: string;
  can_vacuum: boolean;
  can_reindex: boolean;
}

const KIND_NAMES: Record<string, string> = {
  v: 'a view', S: 'a sequence', i: 'an index', I: 'a partitioned index', c: 'a composite type', f: 'a foreign table',
};

// Who may maintain a table, as PostgreSQL decides it: the owner (or a member of the owning role), a superuser,
// for VACUUM/ANALYZE the database owner except on shared catalogs, and from PostgreSQL 17 the MAINTAIN privilege
// (has_table_privilege does not know MAINTAIN before 17, hence the CASE).
const PERMS = `
  pg_has_role(c.relowner, 'USAGE')
    OR (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
    OR CASE WHEN current_setting('server_version_num')::int >= 170000 THEN has_table_privilege(c.oid, 'MAINTAIN') ELSE false END`;
const COLUMNS = `
  c.oid::int AS oid, n.nspname AS schema, c.relname AS name, c.relkind::text AS relkind,
  pg_get_userbyid(c.relowner) AS owner,
  (${PERMS}
    OR (NOT c.relisshared AND pg_has_role((SELECT datdba FROM pg_database WHERE datname = current_database()), 'USAGE'))) AS can_vacuum,
  (${PERMS}) AS can_reindex`;

/**
 * Finds each named table in the catalog: a schema-qualified name in its schema, else the first relation of that
 * name along the search_path, as PostgreSQL would. Not found, not a table, or not parseable: the job fails with
 * the name as the job gave it.
 */
async function resolveTables(client: Client, job: BatchRow, names: string[]): Promise<TableRow[]> {
  const parsed = names.map((text) => {
    const p = parseTableName(text);
    if (!p) {
      throw new JobInputError(job.batch_id, `table ${JSON.stringify(text)}`,
        'is not a table name (give name or schema.name; quote unusual names with double quotes)');
    }
    return p;
  });
  const { rows } = await client.query<TableRow & { i: string }>(
    `SELECT w.i::text AS i, ${COLUMNS}
       FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS w(schema, name, i)
       LEFT JOIN LATERAL (
         SELECT c.oid AS found FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE c.relname = w.name
            AND CASE WHEN w.schema IS NULL THEN n.nspname = ANY (current_schemas(true)) ELSE n.nspname = w.schema END
          ORDER BY array_position(current_schemas(true), n.nspname::text) NULLS LAST
          LIMIT 1) f ON true
       LEFT JOIN pg_class c ON c.oid = f.found
       LEFT JOIN pg_namespace n ON n.oid = c.relnamespace
      ORDER BY w.i`,
    [parsed.map((p) => p.schema), parsed.map((p) => p.name)],
  );
  const out: TableRow[] = [];
  const seen = new Set<number>();
  rows.forEach((r, i) => {
    const text = names[i]!;
    if (r.oid === null) {
      const where = parsed[i]!.schema === null ? 'on the search_path' : `in schema "${parsed[i]!.schema}"`;
      throw new JobInputError(job.batch_id, `table ${JSON.stringify(text)}`, `does not exist (no such table ${where})`);
    }
    if (!['r', 'm', 'p', 't'].includes(r.relkind)) {
      throw new JobInputError(job.batch_id, `table ${JSON.stringify(text)}`,
        `is ${KIND_NAMES[r.relkind] ?? `a relation of kind ${r.relkind}`} (${r.schema}.${r.name}), not a table`);
    }
    if (!seen.has(r.oid)) out.push(r);
    seen.add(r.oid);
  });
  return out;
}

/** Every table of the database an operation would visit with no table named (see the note at the top). */
async function databaseTables(client: Client, kinds: string[]): Promise<TableRow[]> {
  const { rows } = await client.query<TableRow>(
    `SELECT ${COLUMNS}
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind = ANY ($1::"char"[])
        AND n.nspname NOT IN ('pg_catalog', 'information_schema')
        AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'
      ORDER BY n.nspname, c.relname`,
    [kinds],
  );
  return rows;
}

// --- the handlers ------------------------------------------------------------------------------------------

interface Step {
  /** A SQL command; {t} is replaced by the table's quoted name. */
  sql: string;
  needs: 'vacuum' | 'reindex';
}

interface Plan {
  label: string;
  steps: Step[];
  /** relkinds a whole-database run visits (partitioned parents are left out where their partitions are visited). */
  kinds: string[];
}

export interface TableResult {
  table: string;
  done: Array<{ command: string; ms: number }>;
  ms: number;
}

export interface MaintenanceResult {
  action: string;
  scope: 'tables' | 'database';
  statementTimeoutSeconds: number;
  tables: TableResult[];
  skipped: Array<{ table: string; reason: string }>;
  ms: number;
}

function quoted(t: Pick<TableRow, 'schema' | 'name'>): string {
  return `${pg.escapeIdentifier(t.schema)}.${pg.escapeIdentifier(t.name)}`;
}

function display(t: Pick<TableRow, 'schema' | 'name'>): string {
  const plain = (s: string) => (/^[a-z_][a-z0-9_$]*$/.test(s) ? s : pg.escapeIdentifier(s));
  return `${plain(t.schema)}.${plain(t.name)}`;
}

function refusal(t: TableRow, needs: Step['needs']): string {
  return needs === 'reindex'
    ? `owned by ${t.owner}: REINDEX needs the table's owner (or, from PostgreSQL 17, the MAINTAIN privilege)`
    : `owned by ${t.owner}: VACUUM and ANALYZE need the table's or the database's owner (or, from PostgreSQL 17, the MAINTAIN privilege)`;
}

async function runMaintenance(ctx: JobContext, plan: Plan): Promise<MaintenanceResult> {
  const { job, log } = ctx;
  const started = Date.now();
  const named = tableParams(job);
  const timeout = timeoutParam(ctx);
  return withDedicatedClient(ctx, async (client) => {
    const scope = named.length > 0 ? 'tables' : 'database';
    const targets = scope === 'tables' ? await resolveTables(client, job, named) : await databaseTables(client, plan.kinds);
    const result: MaintenanceResult = { action: plan.label, scope, statementTimeoutSeconds: timeout, tables: [], skipped: [], ms: 0 };
    const todo: TableRow[] = [];
    for (const t of targets) {
      const missing = plan.steps.find((s) => !(s.needs === 'reindex' ? t.can_reindex : t.can_vacuum));
      if (!missing) {
        todo.push(t);
      } else if (scope === 'tables') {
        // PostgreSQL would only warn and skip it; the job would claim success for work not done.
        throw new PermanentError(`job ${job.batch_id}: table ${display(t)} is ${refusal(t, missing.needs)}; ` +
          `xtconnect connects as ${await currentUser(client)}`);
      } else {
        result.skipped.push({ table: display(t), reason: refusal(t, missing.needs) });
      }
    }
    // Outside any transaction (VACUUM refuses to run in one), one statement at a time.
    await setStatementTimeout(client, timeout, false);
    log.info(`${plan.label}: ${todo.length} table(s)${result.skipped.length ? `, ${result.skipped.length} skipped (not owner)` : ''}`);
    for (const t of todo) {
      const entry: TableResult = { table: display(t), done: [], ms: 0 };
      for (const step of plan.steps) {
        ctx.signal.throwIfAborted();
        const sql = step.sql.replace('{t}', quoted(t));
        const t0 = Date.now();
        try {
          await client.query(sql);
        } catch (err) {
          // A table dropped since the list was read is no failure of a whole-database run.
          if (scope === 'database' && (err as { code?: string }).code === '42P01') {
            result.skipped.push({ table: display(t), reason: 'dropped while the job ran' });
            break;
          }
          throw limitedDbFailure(`job ${job.batch_id}: ${step.sql.replace('{t}', display(t))}`, err);
        }
        entry.done.push({ command: step.sql.replace(' {t}', ''), ms: Date.now() - t0 });
      }
      if (entry.done.length === plan.steps.length) {
        entry.ms = entry.done.reduce((a, d) => a + d.ms, 0);
        result.tables.push(entry);
        log.debug(`${plan.label} ${entry.table}: ${entry.ms} ms`);
      }
    }
    result.ms = Date.now() - started;
    return result;
  });
}

async function currentUser(client: Client): Promise<string> {
  return (await client.query<{ u: string }>('SELECT current_user AS u')).rows[0]!.u;
}

/**
 * The parameters each action reads. Anything else is refused before anything runs: a misspelt "table" or "full",
 * or a table named in batch_parameter, would otherwise run the command over every table of the database.
 */
function checkParams(ctx: JobContext, action: string, own: readonly string[]): void {
  refuseUnknownParams(ctx.job, ctx.params, action, ['table', 'tables', 'statementTimeoutSeconds', ...own]);
  if (action !== 'ServerMaintenance' && ctx.job.batch_parameter?.trim()) {
    throw new JobInputError(ctx.job.batch_id, 'batch_parameter', `is ${JSON.stringify(ctx.job.batch_parameter.trim())}, but ${action} does not read it: ` +
      'name the tables in the parameter "table" or "tables", or leave both out for every table');
  }
}

export const vacuumHandler: Handler = (ctx) => {
  checkParams(ctx, 'Vacuum', ['full', 'analyze']);
  const full = boolParam(ctx, 'full');
  const analyze = boolParam(ctx, 'analyze');
  const opts = [full && 'FULL', analyze && 'ANALYZE'].filter(Boolean).join(', ');
  const command = opts ? `VACUUM (${opts})` : 'VACUUM';
  return runMaintenance(ctx, { label: command, steps: [{ sql: `${command} {t}`, needs: 'vacuum' }], kinds: ['r', 'm'] });
};

export const analyzeHandler: Handler = (ctx) => {
  checkParams(ctx, 'Analyze', []);
  return runMaintenance(ctx, { label: 'ANALYZE', steps: [{ sql: 'ANALYZE {t}', needs: 'vacuum' }], kinds: ['r', 'm', 'p'] });
};

export const reindexHandler: Handler = (ctx) => {
  checkParams(ctx, 'Reindex', ['concurrently']);
  const command = boolParam(ctx, 'concurrently') ? 'REINDEX TABLE CONCURRENTLY' : 'REINDEX TABLE';
  return runMaintenance(ctx, { label: command, steps: [{ sql: `${command} {t}`, needs: 'reindex' }], kinds: ['r', 'm'] });
};

/**
 * xTuple's ServerMaintenance: a REINDEX (older versions ran VACUUM FULL ANALYZE first). Here VACUUM ANALYZE then
 * REINDEX TABLE, table by table; `full` asks for VACUUM FULL ANALYZE as old xTuple did. Not FULL by default: it
 * rewrites every table under an exclusive lock, which stops the ERP for the length of the run, and a plain VACUUM
 * already makes the space reusable.
 */
export const serverMaintenanceHandler: Handler = (ctx) => {
  checkParams(ctx, 'ServerMaintenance', ['full']);
  const vacuum = boolParam(ctx, 'full') ? 'VACUUM (FULL, ANALYZE)' : 'VACUUM (ANALYZE)';
  return runMaintenance(ctx, {
    label: `ServerMaintenance (${vacuum}, REINDEX TABLE)`,
    steps: [{ sql: `${vacuum} {t}`, needs: 'vacuum' }, { sql: 'REINDEX TABLE {t}', needs: 'reindex' }],
    kinds: ['r', 'm'],
  });
};
