import type { Pool } from '../db/pool';
import { JOB_STATES, type JobState } from '../db/queries/inspect';

/** What the job list can be narrowed to; every field is optional. Times are instants. */
export interface JobFilter {
  state?: JobState;
  action?: string;
  user?: string;
  /** Text anywhere in the subject or the recipients (To, Cc), case-insensitive. */
  text?: string;
  /** batch_scheduled from/to. */
  from?: Date;
  to?: Date;
}

export interface JobRow {
  batch_id: number;
  batch_action: string;
  batch_user: string | null;
  batch_email: string | null;
  batch_subject: string | null;
  batch_parameter: string | null;
  state: JobState;
  batch_attempts: number;
  scheduled: Date | null;
  started: Date | null;
  completed: Date | null;
  batch_exitstatus: string | null;
  batch_last_error: string | null;
}

/** The state predicate on the table's columns, so that each one can use its partial index (sql/0020). */
const STATE_SQL: Record<JobState, string> = {
  scheduled: 'b.batch_started IS NULL AND b.batch_completed IS NULL AND b.batch_attempts = 0',
  retrying: 'b.batch_started IS NULL AND b.batch_completed IS NULL AND b.batch_attempts > 0',
  running: 'b.batch_started IS NOT NULL AND b.batch_completed IS NULL',
  done: "b.batch_completed IS NOT NULL AND coalesce(b.batch_exitstatus, '') = ''",
  failed: "b.batch_completed IS NOT NULL AND coalesce(b.batch_exitstatus, '') <> '' AND b.batch_exitstatus NOT LIKE 'Cancelled by %'",
  cancelled: "b.batch_completed IS NOT NULL AND b.batch_exitstatus LIKE 'Cancelled by %'",
};

export const STATE_EXPR = `CASE
  WHEN b.batch_completed IS NOT NULL THEN
    CASE WHEN coalesce(b.batch_exitstatus, '') = '' THEN 'done'
         WHEN b.batch_exitstatus LIKE 'Cancelled by %' THEN 'cancelled'
         ELSE 'failed' END
  WHEN b.batch_started IS NOT NULL THEN 'running'
  WHEN b.batch_attempts > 0 THEN 'retrying'
  ELSE 'scheduled' END`;

/** batch_* timestamps are local time of the server without a zone (xTuple's); as timestamptz they are instants. */
const COLUMNS = `b.batch_id, b.batch_action, b.batch_user, b.batch_email, b.batch_subject, b.batch_parameter,
  ${STATE_EXPR} AS state, b.batch_attempts,
  b.batch_scheduled::timestamptz AS scheduled, b.batch_started::timestamptz AS started,
  b.batch_completed::timestamptz AS completed, b.batch_exitstatus, b.batch_last_error`;

export function isJobState(v: unknown): v is JobState {
  return typeof v === 'string' && (JOB_STATES as readonly string[]).includes(v);
}

/**
 * The WHERE clause of a filter for a viewer (`onlyUser`: a non-administrator sees their own jobs only), with its
 * parameters numbered from `first`.
 */
export function filterSql(f: JobFilter, onlyUser: string | null, first = 1): { where: string; params: unknown[] } {
  const parts: string[] = [];
  const params: unknown[] = [];
  const p = (v: unknown): string => {
    params.push(v);
    return `$${first + params.length - 1}`;
  };
  if (onlyUser !== null) parts.push(`b.batch_user = ${p(onlyUser)}`);
  if (f.user && onlyUser === null) parts.push(`b.batch_user = ${p(f.user)}`);
  if (f.state) parts.push(STATE_SQL[f.state]);
  if (f.action) parts.push(`b.batch_action = ${p(f.action)}`);
  if (f.text) {
    const like = p(`%${f.text.replace(/[\\%_]/g, (c) => '\\' + c)}%`);
    parts.push(`(b.batch_subject ILIKE ${like} OR b.batch_email ILIKE ${like} OR b.batch_cc ILIKE ${like})`);
  }
  // The bounds are compared as local timestamps, like the column, so the batch_scheduled index is usable.
  if (f.from) parts.push(`b.batch_scheduled >= ${p(f.from)}::timestamptz::timestamp`);
  if (f.to) parts.push(`b.batch_scheduled < ${p(f.to)}::timestamptz::timestamp`);
  return { where: parts.length ? parts.join(' AND ') : 'true', params };
}

export interface JobPage {
  rows: JobRow[];
  /** The batch_id to continue after (keyset), or null on the last page. */
  next: number | null;
}

/**
 * Running rows are not in the action, time and text indexes (sql/0033: the claim's row version skips them), so a
 * list that may hold running jobs reads them as a part of their own, through batch_running_idx; the other part
 * states that it wants no running rows, which lets the planner use those partial indexes. A state filter already
 * says which of the two parts it is.
 */
const NOT_RUNNING = '(b.batch_started IS NULL OR b.batch_completed IS NOT NULL)';
const RUNNING = '(b.batch_started IS NOT NULL AND b.batch_completed IS NULL)';

/** The statement of one page (exported for the plan checks in test/console/listPlan.test.ts and bench/console.ts). */
export function jobPageSql(f: JobFilter, onlyUser: string | null, before: number | null, limit: number): { sql: string; params: unknown[] } {
  const { where, params } = filterSql(f, onlyUser, 1);
  const n = params.length;
  const keyset = before !== null ? ` AND b.batch_id < $${n + 1}` : '';
  const page = (part: string): string => `SELECT ${COLUMNS} FROM xtbatch.batch b
    WHERE ${part}${keyset}
    ORDER BY b.batch_id DESC LIMIT ${limit + 1}`;
  // Each part is one page at most, newest first; the page is the newest of both (at most twice a page sorted).
  const sql = f.state ? page(where)
    : `SELECT * FROM ((${page(`${where} AND ${NOT_RUNNING}`)}) UNION ALL (${page(`${where} AND ${RUNNING}`)})) j
    ORDER BY j.batch_id DESC LIMIT ${limit + 1}`;
  return { sql, params: before !== null ? [...params, before] : params };
}

/** Newest first, `limit` rows after the keyset cursor `before` (a batch_id): no OFFSET, so page 1000 is as fast as page 1. */
export async function listJobPage(pool: Pool, f: JobFilter, onlyUser: string | null, before: number | null, limit: number): Promise<JobPage> {
  const { sql, params } = jobPageSql(f, onlyUser, before, limit);
  const { rows } = await pool.query<JobRow>(sql, params);
  const more = rows.length > limit;
  const page = more ? rows.slice(0, limit) : rows;
  return { rows: page, next: more ? page[page.length - 1]!.batch_id : null };
}

/** The rows of these IDs that the viewer may see (live updates of rows already on the page). */
export async function jobsByIds(pool: Pool, ids: number[], onlyUser: string | null): Promise<JobRow[]> {
  const { rows } = await pool.query<JobRow>(
    `SELECT ${COLUMNS} FROM xtbatch.batch b WHERE b.batch_id = ANY ($1::int[]) AND ($2::text IS NULL OR b.batch_user = $2)
      ORDER BY b.batch_id DESC`,
    [ids, onlyUser],
  );
  return rows;
}

export interface JobDetail extends JobRow {
  batch_fromemail: string | null;
  batch_cc: string | null;
  batch_bcc: string | null;
  batch_replyto: string | null;
  batch_responsebody: string | null;
  batch_filename: string | null;
  batch_emailhtml: boolean | null;
  submitted: Date | null;
  batch_priority: number;
  batch_max_attempts: number | null;
  batch_timeout_seconds: number | null;
  batch_locked_by: string | null;
  lease_expires: Date | null;
  batch_result: unknown;
  batch_schedule_id: number | null;
  batch_recurring_batch_id: number | null;
  /** The errors of the current run of retries ([{at, attempt, error}]), where the schema records them (sql/0015). */
  error_history: Array<{ at?: string; attempt?: number; error?: string }> | null;
}

export interface JobParam {
  order: number | null;
  name: string | null;
  value: string | null;
  type: string | null;
}

export async function getJobDetail(pool: Pool, id: number): Promise<{ job: JobDetail; params: JobParam[] } | null> {
  const { rows } = await pool.query<JobDetail>(
    `SELECT ${COLUMNS}, b.batch_fromemail, b.batch_cc, b.batch_bcc, b.batch_replyto, b.batch_responsebody,
            b.batch_filename, b.batch_emailhtml, b.batch_submitted::timestamptz AS submitted, b.batch_priority,
            b.batch_max_attempts, b.batch_timeout_seconds, b.batch_locked_by, b.batch_lease_expires AS lease_expires,
            b.batch_result, b.batch_schedule_id, b.batch_recurring_batch_id,
            to_jsonb(b) -> 'batch_error_history' AS error_history
       FROM xtbatch.batch b WHERE b.batch_id = $1`,
    [id],
  );
  if (rows.length === 0) return null;
  const params = await pool.query<JobParam>(
    `SELECT batchparam_order AS "order", batchparam_name AS name, batchparam_value AS value, batchparam_type AS type
       FROM xtbatch.batchparam WHERE batchparam_batch_id = $1 ORDER BY batchparam_order, batchparam_id`,
    [id],
  );
  return { job: rows[0]!, params: params.rows };
}

let cachedChoices: { at: number; pool: Pool; value: Promise<{ actions: string[]; users: string[] }> } | null = null;
/** New actions and users are rare: the choices are read at most every 30 s, not on every page. */
const CHOICES_MS = 30_000;

/** The distinct actions and users, for the filter's choices. */
export async function filterChoices(pool: Pool, onlyUser: string | null): Promise<{ actions: string[]; users: string[] }> {
  if (!cachedChoices || cachedChoices.pool !== pool || Date.now() - cachedChoices.at > CHOICES_MS) {
    cachedChoices = { at: Date.now(), pool, value: readChoices(pool) };
    cachedChoices.value.catch(() => (cachedChoices = null));
  }
  const all = await cachedChoices.value;
  return { actions: all.actions, users: onlyUser !== null ? [onlyUser] : all.users };
}

async function readChoices(pool: Pool): Promise<{ actions: string[]; users: string[] }> {
  // A loose index scan ("skip scan") over the (batch_action, batch_id) and (batch_user, batch_id) indexes: one
  // probe per distinct value instead of reading a million rows.
  const { rows } = await pool.query<{ actions: string[] | null; users: string[] | null }>(
    `WITH RECURSIVE a AS (
       (SELECT batch_action AS v FROM xtbatch.batch ORDER BY batch_action LIMIT 1)
       UNION ALL
       SELECT (SELECT batch_action FROM xtbatch.batch WHERE batch_action > a.v ORDER BY batch_action LIMIT 1) FROM a WHERE a.v IS NOT NULL
     ), u AS (
       (SELECT batch_user AS v FROM xtbatch.batch WHERE batch_user IS NOT NULL ORDER BY batch_user LIMIT 1)
       UNION ALL
       SELECT (SELECT batch_user FROM xtbatch.batch WHERE batch_user > u.v ORDER BY batch_user LIMIT 1) FROM u WHERE u.v IS NOT NULL
     )
     SELECT (SELECT array_agg(v) FROM (SELECT v FROM a WHERE v IS NOT NULL LIMIT 200) x) AS actions,
            (SELECT array_agg(v) FROM (SELECT v FROM u WHERE v IS NOT NULL LIMIT 200) y) AS users`,
  );
  return { actions: rows[0]?.actions ?? [], users: rows[0]?.users ?? [] };
}
