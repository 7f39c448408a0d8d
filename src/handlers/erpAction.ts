import pg from 'pg';
import type { Client } from '../db/pool';
import { errorMessage, isRetryableDbError, JobInputError, LeaseLostError, PermanentError, UnknownActionError } from '../errors';
import type { ParamValue } from '../jobs/params';
import { cancelBackend, connectUnlessAborted, dbFailure, limitedDbFailure } from '../db/jobConnection';
import { timeoutSeconds as jobTimeoutSeconds } from '../jobs/timeout';
import type { Handler, JobContext } from './types';

/*
 * ERP actions as calls of database functions, mapped in xtbatch.action (sql/0006_actions.sql). Registered as the
 * '*' handler: the executor hands it every action no built-in handler names.
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
function argText(value: ParamValue | undefined, type: ResolvedType): string | null {
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
              has_function_privilege(p.oid, 'EXECUTE') AS "canExecute"
         FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE p.oid = to_regprocedure($1)`,
      [signature],
    );
    if (rows[0]) return rows[0];
  }
  return null;
}

/** The statement that calls the function and gives back its result as JSON (rows for a set-returning one). */
function callSql(fn: string, info: FunctionInfo, args: string): string {
  const call = `${fn}(${args})`;
  if (info.void) return `SELECT ${call}, NULL::jsonb AS result, NULL::int AS n`;
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
 * The '*' handler. `builtIns` lists the daemon's own action names for the "no handler" message (the registry is
 * not in the job's context); the actions mapped in xtbatch.action are listed with them.
 */
export function makeErpActionHandler(builtIns: () => Iterable<string> = () => []): Handler {
  return (ctx) => runErpAction(ctx, builtIns);
}

export const erpActionHandler: Handler = makeErpActionHandler();

/**
 * What a job of one mapped action needs besides its parameters, resolved from xtbatch.action and the catalog.
 * Cached per pool (issue 17: reading the mapping and the catalog for every job cost 4 of 8 round trips) under
 * the number in xtbatch.action_version (sql/0022) it was read with: every job reads that number in the round trip
 * of its BEGIN, and a different one empties the cache. A call that fails drops its entry, so a function dropped
 * or replaced without a change of xtbatch.action is looked up again by the next job.
 */
interface Resolved {
  row: ActionRow;
  specs: ArgSpec[];
  types: ResolvedType[];
  info: FunctionInfo;
  fnName: string;
  signature: string;
  sql: string;
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

/** Reads and checks an action's mapping, its argument types and its function: the work done once per version. */
async function resolveAction(client: Client, action: string, builtIns: () => Iterable<string>): Promise<{ resolved: Resolved; version: string | null }> {
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
  const sql = callSql(qualified, info, types.map((t, i) => `$${i + 1}::${t.sql}`).join(', '));
  return { resolved: { row, specs, types, info, fnName, signature, sql }, version: found.version };
}

/** The mapping of `action`, from the cache when it was read under `version` (the number this job's BEGIN saw). */
async function mappingFor(client: Client, pool: object, action: string, builtIns: () => Iterable<string>): Promise<Resolved> {
  const cache = cacheOf(pool);
  const hit = cache.entries.get(action);
  if (hit) return hit;
  const { resolved, version } = await resolveAction(client, action, builtIns);
  // Entries read under another number than the cache's are not kept together: the cache starts again.
  if (version === null) return resolved;
  if (cache.version !== version) {
    cache.entries.clear();
    cache.version = version;
  }
  cache.entries.set(action, resolved);
  return resolved;
}

/** A pooled client's backend pid, which pg learns at connect (BackendKeyData): no round trip to ask for it. */
function backendPid(client: Client): number | null {
  const pid = (client as unknown as { processID?: number | null }).processID;
  return typeof pid === 'number' ? pid : null;
}

async function runErpAction(ctx: JobContext, builtIns: () => Iterable<string>): Promise<ErpActionResult> {
  const { job } = ctx;
  const action = job.batch_action;
  // Not withDedicatedClient (src/db/jobConnection.ts): that one asks the server for the pid and resets a
  // session statement_timeout afterwards, two round trips per job; here the pid comes with the connection and
  // the timeout is SET LOCAL, gone with the transaction.
  const client = await connectUnlessAborted(ctx.pool, ctx.signal);
  let pid = backendPid(client);
  let cancelling: Promise<void> | null = null;
  const onAbort = (): void => {
    if (pid !== null) cancelling ??= cancelBackend(ctx.pool, pid, ctx.log);
  };
  ctx.signal.addEventListener('abort', onAbort, { once: true });
  let destroy: Error | boolean = false;
  try {
    ctx.signal.throwIfAborted();
    if (pid === null) pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    // Twice at most: a mapping changed between the lookup and the BEGIN is looked up once more.
    for (let round = 0; ; round++) {
      const m = await mappingFor(client, ctx.pool, action, builtIns);
      const out = await callMapped(ctx, client, m, round);
      if (out !== STALE) return out;
      cacheOf(ctx.pool).entries.clear();
    }
  } catch (err) {
    if (ctx.signal.aborted) throw ctx.signal.reason;
    throw err;
  } finally {
    ctx.signal.removeEventListener('abort', onAbort);
    // A cancel request still in flight could hit the next user of this connection: wait for it first.
    if (cancelling) await cancelling;
    // A transaction left open (a failed ROLLBACK) must not reach the next job: such a client is dropped.
    const status = (client as unknown as { getTransactionStatus?: () => string | null }).getTransactionStatus?.();
    if (status && status !== 'I') destroy = true;
    client.release(destroy);
  }
}

const STALE = Symbol('stale mapping');

/** One job's call in its own transaction, with its outcome; STALE when the mapping changed since it was cached. */
async function callMapped(ctx: JobContext, client: Client, m: Resolved, round: number): Promise<ErpActionResult | typeof STALE> {
  const { job } = ctx;
  const action = job.batch_action;
  const { specs, types, signature, fnName, info } = m;
  // Arguments by name, in the mapping's order, each checked against its type before the call so that a bad
  // value fails the job naming the parameter, not with a cast error from inside the call.
  const values: Array<string | null> = [];
  for (const [i, s] of specs.entries()) {
    const t = types[i]!;
    let v = argText(ctx.params.get(s.param), t);
    if (v === null && s.default !== null) v = argText(s.default, t);
    if (v === null && s.required) {
      throw new JobInputError(job.batch_id, `parameter "${s.param}"`,
        `is required by action ${action} (argument ${i + 1} of ${signature}) but the job has no value for it`);
    }
    // Any text is a valid text value: only other types need the server's word.
    if (v !== null && !(t.isText && !t.isArray)) {
      try {
        await client.query(`SELECT $1::${t.sql}`, [v]);
      } catch (err) {
        if (!(err as PgError).code?.startsWith('22')) throw dbFailure(`checking parameter "${s.param}"`, err);
        throw new JobInputError(job.batch_id, `parameter "${s.param}"`,
          `is ${JSON.stringify(v)}, which is not a valid ${t.sql} for argument ${i + 1} of ${signature}: ${errorMessage(err)}`);
      }
    }
    values.push(v);
  }

  const timeout = m.row.action_timeout_seconds ?? jobTimeoutSeconds(ctx.cfg, job);
  if (ctx.log.isLevelEnabled('debug')) ctx.log.debug(`calling ${signature} (statement timeout ${timeout} s)`);
  ctx.lease?.check();
  // Its own transaction: the function's work commits whole or not at all, and SET LOCAL ends with it. BEGIN, the
  // statement timeout and the mapping's version go in one round trip (a simple query: the timeout is a number we
  // computed, not input). A version other than the cached one: roll back and look the mapping up again.
  const cache = cacheOf(ctx.pool);
  const ms = Math.max(0, Math.round(timeout * 1000));
  let results: pg.QueryResult[];
  try {
    results = (await client.query(
      `BEGIN; SET LOCAL statement_timeout = ${ms}; SELECT action_version AS version FROM xtbatch.action_version`,
    )) as unknown as pg.QueryResult[];
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw dbFailure(`starting the transaction of "${action}"`, err);
  }
  const version = (results[2]?.rows[0] as { version: string | null } | undefined)?.version ?? null;
  if (version !== null && cache.version !== null && version !== cache.version && round < 2) {
    await client.query('ROLLBACK');
    return STALE;
  }
  try {
    const { rows } = await client.query<{ result: unknown; n: number }>(m.sql, values);
    const out: ErpActionResult = { function: fnName, result: rows[0]?.result ?? null };
    if (info.retset) out.rowCount = rows[0]?.n ?? 0;
    // Fencing: the job's "done" is written in this transaction, only while the daemon still holds the lease by
    // the server's clock, and the row stays locked until COMMIT. The work and its outcome commit together or
    // not at all: a daemon that lost its lease (paused, cut off) commits nothing, and no rescue can slip in.
    if (ctx.lease) await ctx.lease.commitDone(client, out);
    await client.query('COMMIT');
    return out;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    if (err instanceof LeaseLostError) {
      ctx.log.warn(`rolled back the call of ${signature}: ${err.message}`);
      throw err;
    }
    // The function may have been dropped, replaced or revoked without a change of xtbatch.action.
    cache.entries.delete(action);
    if (ctx.signal.aborted) throw ctx.signal.reason;
    // The statement timeout set above is this job's own time limit and fails it; other faults by src/errors.ts.
    const e = limitedDbFailure(`function ${fnName}`, err);
    if (e instanceof PermanentError && (err as PgError).code === '57014') {
      e.message += ` (its statement timeout is ${timeout} s: raise action_timeout_seconds in xtbatch.action, or the job's timeout)`;
    }
    throw e;
  }
}
