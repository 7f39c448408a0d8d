import pg from 'pg';
import type { Client } from '../../db/pool';
import { dbFailure } from '../../db/jobConnection';
import { errorMessage, isRetryableDbError, JobInputError, PermanentError, UnknownActionError } from '../../errors';
import type { ParamValue } from '../../jobs/params';

/*
 * What an ERP action's job needs besides its parameters: its row of xtbatch.action (sql/0006_actions.sql), its
 * argument types and its function as the catalog resolves them, and the statement that calls it. Resolved once
 * per version of xtbatch.action and cached per pool.
 */

export interface ArgSpec {
  param: string;
  type: string;
  required: boolean;
  default: string | null;
}

interface ActionRow {
  action_name: string;
  action_schema: string;
  action_function: string;
  action_args: unknown;
  action_timeout_seconds: number | null;
  action_enabled: boolean;
}

export interface ResolvedType {
  /** format_type's spelling: a valid SQL type name, safe to write into the statement. */
  sql: string;
  isArray: boolean;
  isText: boolean;
}

interface PgError {
  code?: string;
  message?: string;
}

/** Reads action_args, which the ERP side writes by hand: every fault names the action and the argument. */
export function parseArgSpec(action: string, raw: unknown): ArgSpec[] {
  const bad = (what: string): never => {
    throw new PermanentError(`xtbatch.action "${action}": action_args ${what}; ` +
      'each argument is {"param": "<batchparam name>", "type": "<SQL type>", "required": true|false, "default": "<text>"|null}');
  };
  if (!Array.isArray(raw)) return bad('is not a JSON array');
  return raw.map((a: unknown, i) => {
    const n = `argument ${i + 1}`;
    if (!a || typeof a !== 'object' || Array.isArray(a)) return bad(`${n} is not an object`);
    const o = a as Record<string, unknown>;
    if (typeof o.param !== 'string' || o.param.trim() === '') return bad(`${n} has no "param"`);
    if (typeof o.type !== 'string' || o.type.trim() === '') return bad(`${n} ("${o.param}") has no "type"`);
    if (o.required !== undefined && typeof o.required !== 'boolean') return bad(`${n} ("${o.param}"): "required" is not true or false`);
    const d = o.default;
    if (d !== undefined && d !== null && !['string', 'number', 'boolean'].includes(typeof d)) {
      return bad(`${n} ("${o.param}"): "default" is not text or null`);
    }
    return { param: o.param, type: o.type.trim(), required: o.required === true, default: d === undefined || d === null ? null : String(d) };
  });
}

/** A PostgreSQL array literal of the elements as text: the server casts it to the argument's array type. */
function arrayLiteral(items: string[]): string {
  return `{${items.map((s) => `"${s.replace(/(["\\])/g, '\\$1')}"`).join(',')}}`;
}

/** What a batchparam value becomes for one argument: text for the server to cast, or null. */
export function argText(value: ParamValue | undefined, type: ResolvedType): string | null {
  if (value === undefined || value === null) return null;
  const s = typeof value === 'string' ? value : String(value);
  // An empty field is "not given" for every type but text: '' is no number, date or boolean.
  if (s.trim() === '' && !type.isText) return null;
  if (type.isArray && !s.trim().startsWith('{')) return arrayLiteral(s.split(',').map((x) => x.trim()));
  return s;
}

export async function resolveType(client: Client, action: string, spec: ArgSpec, i: number): Promise<ResolvedType> {
  const notAType = (why: string) => new PermanentError(`xtbatch.action "${action}": argument ${i + 1} ("${spec.param}") has type ` +
    `${JSON.stringify(spec.type)}, which is not a type: ${why}`);
  let r: { sql: string | null; category: string | null };
  try {
    const { rows } = await client.query<{ sql: string | null; category: string | null }>(
      `SELECT format_type(t.oid, NULL) AS sql, t.typcategory::text AS category
         FROM (SELECT to_regtype($1) AS oid) r LEFT JOIN pg_type t ON t.oid = r.oid`,
      [spec.type],
    );
    r = rows[0]!;
  } catch (err) {
    // A lost connection, a timeout or a server going down says nothing about the type: try the job again later.
    if (isRetryableDbError(err)) throw dbFailure(`looking up the type of argument ${i + 1} ("${spec.param}") of "${action}"`, err);
    // to_regtype raises (rather than returning null) on text that does not parse as a type name.
    throw notAType(errorMessage(err));
  }
  if (r.sql === null) throw notAType(`no type "${spec.type}" in this database`);
  return { sql: r.sql, isArray: r.category === 'A', isText: r.category === 'S' };
}

interface FunctionInfo {
  schema: string;
  name: string;
  kind: string;
  retset: boolean;
  void: boolean;
  anonRecord: boolean;
  /** Returns one plain value (not a row, a record or a pseudo-type): what a group's one-statement form calls. */
  scalar: boolean;
  canExecute: boolean;
}

/** The function with exactly these argument types, by its catalog name (or, failing that, the name folded to lower case). */
async function findFunction(client: Client, schema: string, name: string, types: string[]): Promise<FunctionInfo | null> {
  for (const n of name === name.toLowerCase() ? [name] : [name, name.toLowerCase()]) {
    const signature = `${pg.escapeIdentifier(schema)}.${pg.escapeIdentifier(n)}(${types.join(', ')})`;
    const { rows } = await client.query<FunctionInfo>(
      `SELECT n.nspname AS schema, p.proname AS name, p.prokind::text AS kind, p.proretset AS retset,
              p.prorettype = 'void'::regtype AS void,
              p.prorettype = 'record'::regtype AND p.proallargtypes IS NULL AS "anonRecord",
              (SELECT t.typtype IN ('b', 'd', 'e', 'r', 'm') FROM pg_type t WHERE t.oid = p.prorettype) AS scalar,
              has_function_privilege(p.oid, 'EXECUTE') AS "canExecute"
         FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE p.oid = to_regprocedure($1)`,
      [signature],
    );
    if (rows[0]) return rows[0];
  }
  return null;
}

/**
 * The statement that calls the function and gives back its result as one row (result jsonb, n int), for
 * xtbatch.xtconnect_run_actions (sql/0032) to EXECUTE with the arguments as text in $1 (text[]): `args` casts
 * each to its catalog type, so a value that is no valid value of it fails before the function runs.
 */
function callSql(fn: string, info: FunctionInfo, args: string): string {
  const call = `${fn}(${args})`;
  // In FROM, a void function is called exactly once (in the select list the planner could leave an unused
  // column out of a subquery; not out of FROM).
  if (info.void) return `SELECT NULL::jsonb AS result, NULL::int AS n FROM ${call} AS r`;
  // A bare "record" has no column list to expand it by: its text form is what there is.
  const value = info.anonRecord ? `to_jsonb(${call}::text)` : null;
  if (!info.retset) {
    return value ? `SELECT ${value} AS result, 1 AS n` : `SELECT to_jsonb(r) AS result, 1 AS n FROM ${call} AS r`;
  }
  // Every row is produced (the function's work must all be done); only the first ones are kept for the job row.
  const rows = value ? `SELECT ${value} AS j` : `SELECT to_jsonb(r) AS j FROM ${call} AS r`;
  return `SELECT coalesce(jsonb_agg(j) FILTER (WHERE k <= ${MAX_ROWS}), '[]'::jsonb) AS result, count(*)::int AS n
            FROM (SELECT j, row_number() OVER () AS k FROM (${rows}) s0) s`;
}

const MAX_ROWS = 1000;

export interface ErpActionResult {
  function: string;
  result: unknown;
  /** For a set-returning function: how many rows it returned (result holds the first 1000). */
  rowCount?: number;
}

/**
 * What a job of one mapped action needs besides its parameters, resolved from xtbatch.action and the catalog.
 * Cached per pool (issue 17: reading the mapping and the catalog for every job cost 4 of 8 round trips) under
 * the number in xtbatch.action_version (sql/0022) it was read with. Every group of calls carries that number to
 * the server (sql/0032), which runs nothing when xtbatch.action has changed since: the cache is then emptied and
 * the mapping read again. A call that fails drops its entry, so a function dropped or replaced without a change
 * of xtbatch.action is looked up again by the next job.
 */
export interface Resolved {
  action: string;
  row: ActionRow;
  specs: ArgSpec[];
  types: ResolvedType[];
  info: FunctionInfo;
  fnName: string;
  signature: string;
  sql: string;
  /** All the calls of a group in one statement: (results jsonb[], ns int[]) from the jobs' arguments in $1 (jsonb); null for set-returning and bare-record functions. */
  batchSql: string | null;
  /** xtbatch.action_version it was read under (bigint as text); null on a database without that table. */
  version: string | null;
}

interface ActionCache {
  /** xtbatch.action_version when the entries were read; null before the first read. */
  version: string | null;
  entries: Map<string, Resolved>;
}

const caches = new WeakMap<object, ActionCache>();

function cacheOf(pool: object): ActionCache {
  let c = caches.get(pool);
  if (!c) caches.set(pool, (c = { version: null, entries: new Map() }));
  return c;
}

/** Forgets every cached mapping of `pool` (tests; an operator's change is seen through the version number). */
export function clearActionCache(pool: object): void {
  caches.delete(pool);
}

/** Forgets one action's mapping (its call failed: the function may have been dropped or replaced). */
export function forgetAction(pool: object, action: string): void {
  caches.get(pool)?.entries.delete(action);
}

/** The cached mapping of `action`, if any: no round trip. */
export function cachedMapping(pool: object, action: string): Resolved | undefined {
  return caches.get(pool)?.entries.get(action);
}

/** Reads and checks an action's mapping, its argument types and its function: the work done once per version. */
async function resolveAction(client: Client, action: string, builtIns: () => Iterable<string>): Promise<Resolved> {
  let found: { row: ActionRow | null; mapped: string[]; version: string | null };
  try {
    const { rows } = await client.query<{ row: ActionRow | null; mapped: string[] | null; version: string | null }>(
      `SELECT (SELECT to_jsonb(a) FROM xtbatch.action a WHERE a.action_name = $1) AS row,
              (SELECT array_agg(action_name ORDER BY action_name) FROM xtbatch.action WHERE action_enabled) AS mapped,
              (SELECT action_version FROM xtbatch.action_version) AS version`,
      [action],
    );
    found = { row: rows[0]!.row, mapped: rows[0]!.mapped ?? [], version: rows[0]!.version };
  } catch (err) {
    if ((err as PgError).code === '42P01') {
      throw new PermanentError(`no handler for action "${action}": this database has no xtbatch.action table (run xtconnect migrate)`);
    }
    throw dbFailure(`reading xtbatch.action for "${action}"`, err);
  }
  const known = [...new Set([...builtIns()].filter((a) => a !== '*').concat(found.mapped))].sort();
  const row = found.row;
  if (!row || !row.action_enabled) {
    const err = new UnknownActionError(action, known);
    if (row) err.message += `; xtbatch.action maps it to ${row.action_schema}.${row.action_function} but action_enabled is false`;
    throw err;
  }

  const specs = parseArgSpec(action, row.action_args);
  const types: ResolvedType[] = [];
  for (const [i, s] of specs.entries()) types.push(await resolveType(client, action, s, i));
  const fnName = `${row.action_schema}.${row.action_function}`;
  const signature = `${fnName}(${types.map((t) => t.sql).join(', ')})`;
  const info = await findFunction(client, row.action_schema, row.action_function, types.map((t) => t.sql));
  if (!info) throw new PermanentError(`action "${action}" is mapped to function ${signature}, which does not exist in this database`);
  if (info.kind !== 'f') throw new PermanentError(`action "${action}" is mapped to ${signature}, which is not a function (a procedure or aggregate)`);
  if (!info.canExecute) {
    throw new PermanentError(`action "${action}": xtconnect's database role may not execute ${signature} ` +
      `(GRANT EXECUTE ON FUNCTION ${signature} TO <the daemon's role>)`);
  }
  const qualified = `${pg.escapeIdentifier(info.schema)}.${pg.escapeIdentifier(info.name)}`;
  const sql = callSql(qualified, info, types.map((t, i) => `($1)[${i + 1}]::${t.sql}`).join(', '));
  // A group's calls in one statement (sql/0032's common case), for functions that return one plain value. The
  // call is in the select list of a subquery over the jobs, so it is made once per job: in FROM (as `sql` has it)
  // a call whose arguments do not depend on the job (a function without arguments) would be made once and its
  // result read again for every job. For a plain value to_jsonb(f(...)) is what to_jsonb(r) of `sql` gives.
  const batchSql = info.retset || info.void || !info.scalar ? null
    : `SELECT array_agg(c.result ORDER BY c.k) AS results, array_agg(1 ORDER BY c.k) AS ns
         FROM (SELECT a.k, to_jsonb(${qualified}(${types.map((t, i) => `(x.args)[${i + 1}]::${t.sql}`).join(', ')})) AS result
                 FROM jsonb_array_elements($1) WITH ORDINALITY AS a(v, k)
                CROSS JOIN LATERAL (SELECT ARRAY(SELECT jsonb_array_elements_text(a.v)) AS args) x) c`;
  return { action, row, specs, types, info, fnName, signature, sql, batchSql, version: found.version };
}

/** Looks `action` up (a round trip or more on `client`) and caches it under the version it was read with. */
export async function resolveMapping(client: Client, pool: object, action: string, builtIns: () => Iterable<string>): Promise<Resolved> {
  const resolved = await resolveAction(client, action, builtIns);
  if (resolved.version === null) return resolved;
  const cache = cacheOf(pool);
  // Entries read under another number than the cache's are not kept together: the cache starts again.
  if (cache.version !== resolved.version) {
    cache.entries.clear();
    cache.version = resolved.version;
  }
  cache.entries.set(action, resolved);
  return resolved;
}

/**
 * Why a value cannot be an argument's type, for a job whose call failed with a data error (SQLSTATE class 22):
 * the server's word on each non-text argument, the first that fails named; null when all are valid (the error
 * was the function's own). A round trip per argument, only after such a failure.
 */
export async function badArgument(client: Client, m: Resolved, values: Array<string | null>): Promise<{ index: number; message: string } | null> {
  for (const [i, t] of m.types.entries()) {
    const v = values[i];
    // Any text is a valid text value: only other types need the server's word.
    if (v === null || v === undefined || (t.isText && !t.isArray)) continue;
    try {
      await client.query(`SELECT $1::${t.sql}`, [v]);
    } catch (err) {
      if (!(err as PgError).code?.startsWith('22')) throw dbFailure(`checking parameter "${m.specs[i]!.param}"`, err);
      return { index: i, message: errorMessage(err) };
    }
  }
  return null;
}

/**
 * The job's arguments as text for the call, by name in the mapping's order, defaults filled in; a required one
 * missing fails the job naming the parameter, before anything is sent. Whether each value fits its type the
 * server says in the call (the casts come before the function runs).
 */
export function bindArgs(ctx: { job: { batch_id: number; batch_action: string }; params: ReadonlyMap<string, ParamValue> }, m: Resolved): Array<string | null> {
  const values: Array<string | null> = [];
  for (const [i, s] of m.specs.entries()) {
    const t = m.types[i]!;
    let v = argText(ctx.params.get(s.param), t);
    if (v === null && s.default !== null) v = argText(s.default, t);
    if (v === null && s.required) {
      throw new JobInputError(ctx.job.batch_id, `parameter "${s.param}"`,
        `is required by action ${ctx.job.batch_action} (argument ${i + 1} of ${m.signature}) but the job has no value for it`);
    }
    values.push(v);
  }
  return values;
}
