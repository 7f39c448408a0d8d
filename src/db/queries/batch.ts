import { redactSecrets } from '../../secrets';
import type { Client, Pool } from '../pool';
import { distinctSentMail, sentMailCtes, sentMailParams, type SentMail } from './sentMail';

/** A pool, or a client inside a transaction (the ERP action records its outcome in its own transaction). */
export type Queryable = Pool | Client;

/** A claimed job: xTuple's columns, the daemon's, and the batchparam rows in order. */
export interface BatchRow {
  batch_id: number;
  batch_action: string;
  batch_parameter: string | null;
  batch_user: string | null;
  batch_email: string | null;
  batch_submitted: string | null;
  batch_scheduled: string;
  batch_started: string | null;
  batch_responsebody: string | null;
  batch_subject: string | null;
  batch_filename: string | null;
  batch_fromemail: string | null;
  batch_reschedinterval: string | null;
  batch_cc: string | null;
  batch_bcc: string | null;
  batch_replyto: string | null;
  batch_emailhtml: boolean | null;
  batch_recurring_batch_id: number | null;
  batch_priority: number;
  batch_attempts: number;
  batch_max_attempts: number | null;
  batch_timeout_seconds: number | null;
  params: BatchParamRow[];
  /** This claim's fencing token (bigint as text): every write under the lease names it. Always set by claimDue. */
  lease_token?: string;
  /** Seconds (server clock) since the current series of transient failures began; null when none. */
  retrying_for_seconds?: number | null;
  /** The errors of that series, oldest first (at most 10). */
  error_history?: ErrorHistoryEntry[] | null;
}

export interface ErrorHistoryEntry {
  at: string;
  attempt: number;
  error: string;
}

export interface BatchParamRow {
  order: number | null;
  name: string | null;
  value: string | null;
  type: string | null;
}

export interface ActionLimit {
  action: string;
  remaining: number;
}

/** What a claim returns for each job: the row, its fencing token and its parameters. */
const CLAIM_RETURNING = `
RETURNING b.batch_id, b.batch_action, b.batch_parameter, b.batch_user, b.batch_email, b.batch_submitted,
          b.batch_scheduled, b.batch_started, b.batch_responsebody, b.batch_subject, b.batch_filename,
          b.batch_fromemail, b.batch_reschedinterval, b.batch_cc, b.batch_bcc, b.batch_replyto, b.batch_emailhtml,
          b.batch_recurring_batch_id, b.batch_priority, b.batch_attempts, b.batch_max_attempts, b.batch_timeout_seconds,
          b.batch_lease_token::text AS lease_token,
          extract(epoch FROM now() - b.batch_retrying_since)::float8 AS retrying_for_seconds,
          b.batch_error_history AS error_history,
          (SELECT coalesce(json_agg(json_build_object('order', p.batchparam_order, 'name', p.batchparam_name,
                                                      'value', p.batchparam_value, 'type', p.batchparam_type)
                                    ORDER BY p.batchparam_order, p.batchparam_id), '[]'::json)
             FROM xtbatch.batchparam p WHERE p.batchparam_batch_id = b.batch_id) AS params`;

/** The waiting rows a claim may take: walks batch_due_idx (only waiting rows). Exported for bench/lib/ceiling.ts. */
export const DUE_WHERE = `
   WHERE batch_started IS NULL
     AND batch_completed IS NULL
     -- localtimestamp, not now(): batch_scheduled is "without time zone", and comparing it with a timestamptz
     -- would cast every row and lose the index.
     AND batch_scheduled <= localtimestamp
     AND (SELECT xtbatch.enabled())
     -- Its submitter may still be adding batchparam rows (sql/0011, docs/xtuple.md "Settle time").
     AND (batch_settle_until IS NULL OR batch_settle_until <= now())`;

const CLAIM_SET = `
   SET batch_started = localtimestamp,
       batch_attempts = b.batch_attempts + 1,
       batch_locked_by = $1,
       batch_lease_expires = now() + make_interval(secs => $3),
       batch_lease_token = $4,
       batch_exitstatus = NULL`;

/**
 * The claim of a daemon without per-action limits (the default). Its plan does not depend on its parameters, so
 * PostgreSQL plans it once per connection and reuses the plan (issue 17: planning was 0.26 ms of a 0.95 ms claim
 * round trip, bench/profile.ts). Two things make that plan safe to reuse: the LIMIT is a sub-select, whose value
 * the planner cannot see, so every plan is costed alike and the server keeps the generic one after its five
 * trial runs; and the claimed rows are found again by primary key (= ANY of the locked ids), so the plan has no
 * join whose method would be chosen from a guessed row count (a generic plan of the join form hashed the whole
 * table: 2.5 ms for one job).
 */
export const CLAIM_ANY_SQL = `
UPDATE xtbatch.batch b${CLAIM_SET}
 WHERE b.batch_id = ANY (ARRAY(
   SELECT batch_id
     FROM xtbatch.batch${DUE_WHERE}
    ORDER BY batch_priority, batch_scheduled, batch_id
    LIMIT (SELECT $2::int)
      FOR UPDATE SKIP LOCKED))${CLAIM_RETURNING}`;

/**
 * The claim with per-action limits (daemon.actionConcurrency): `$5` actions are full and skipped, `$6`/`$7` cap
 * the others. Planned for each run: with the action list a parameter, a generic plan would guess that the
 * exclusion keeps almost no row and scan the whole table.
 */
export const CLAIM_SQL = `
WITH due AS (
  SELECT batch_id, batch_action, batch_priority, batch_scheduled
    FROM xtbatch.batch${DUE_WHERE}
     AND batch_action <> ALL ($5::text[])
   ORDER BY batch_priority, batch_scheduled, batch_id
   LIMIT $2
   FOR UPDATE SKIP LOCKED
), allowed AS (
  -- Per-action concurrency in the same statement: rows of a limited action beyond its free slots stay locked
  -- only until this statement ends, then are free for the next claim (ours or another daemon's).
  SELECT d.batch_id
    FROM (SELECT batch_id, batch_action,
                 row_number() OVER (PARTITION BY batch_action ORDER BY batch_priority, batch_scheduled, batch_id) AS rn
            FROM due) d
    LEFT JOIN unnest($6::text[], $7::int[]) AS lim(action, remaining) ON lim.action = d.batch_action
   WHERE lim.remaining IS NULL OR d.rn <= lim.remaining
)
UPDATE xtbatch.batch b${CLAIM_SET}
  FROM allowed
 WHERE b.batch_id = allowed.batch_id${CLAIM_RETURNING}`;

let lastToken = 0;

/**
 * A fencing token this process never used before: (owner, token) names one claim of one row, so a daemon whose
 * job was taken back and claimed again, even by itself, cannot write over the newer run. Microseconds since
 * the epoch, kept strictly increasing: unique within the process, which the owner name already identifies.
 */
export function nextLeaseToken(): string {
  lastToken = Math.max(lastToken + 1, Date.now() * 1000);
  return String(lastToken);
}

/**
 * Claims up to `limit` due jobs in one autocommit statement (no transaction stays open while they run) and
 * marks them started under a lease with a fresh fencing token. `full` actions are skipped; `limits` caps the others.
 */
export async function claimDue(
  pool: Pool,
  owner: string,
  limit: number,
  leaseSeconds: number,
  full: string[],
  limits: ActionLimit[],
  token: string = nextLeaseToken(),
): Promise<BatchRow[]> {
  const limited = full.length > 0 || limits.length > 0;
  const { rows } = await pool.query<BatchRow>(
    limited
      ? { name: 'xtconnect_claim_limited', text: CLAIM_SQL, values: [owner, limit, leaseSeconds, token, full, limits.map((l) => l.action), limits.map((l) => l.remaining)] }
      : { name: 'xtconnect_claim', text: CLAIM_ANY_SQL, values: [owner, limit, leaseSeconds, token] },
  );
  return rows.sort(
    (a, b) =>
      a.batch_priority - b.batch_priority ||
      a.batch_scheduled.localeCompare(b.batch_scheduled) ||
      a.batch_id - b.batch_id,
  );
}

/**
 * Milliseconds until the earliest waiting, due job held back by its settle time (batch_settle_until, sql/0011)
 * may be claimed, by the server's clock; null when none waits for that. The daemon sets an alarm for it (issue
 * 17) instead of waiting for the next poll.
 */
export async function nextSettleMs(pool: Pool): Promise<number | null> {
  const { rows } = await pool.query<{ ms: number | null }>({
    name: 'xtconnect_next_settle',
    text: `SELECT (extract(epoch FROM min(batch_settle_until) - now()) * 1000)::float8 AS ms
             FROM xtbatch.batch
            WHERE batch_started IS NULL AND batch_completed IS NULL
              AND batch_scheduled <= localtimestamp AND batch_settle_until > now()`,
  });
  return rows[0]?.ms ?? null;
}

export type FinishKind = 'done' | 'failed' | 'retry' | 'release';

export interface Finish {
  batchId: number;
  /** The attempt this outcome belongs to; a write for an older attempt (the job was rescued since) is ignored. */
  attempt: number;
  kind: FinishKind;
  /** For failed and retry: the sentence a person reads. */
  message: string | null;
  /** For retry: seconds from now until the next attempt. */
  delaySeconds: number;
  result: unknown;
  /** The claim's fencing token; null only for callers outside the daemon (benchmarks), which the owner alone guards. */
  token?: string | null;
  /** Records of mail the job sent, written in the same statement whatever the guard decides (the mail is out). */
  sentMail?: readonly SentMail[];
}

const FINISH_CTES = `
d AS MATERIALIZED (
  -- Materialized: read the parameter arrays once, not once per joined row. Each array is a sub-select, as is the
  -- "= ANY" below: the planner cannot see how many outcomes there are, so every plan is costed alike and the
  -- server keeps its generic plan after five runs (finishMany).
  SELECT * FROM unnest((SELECT $2::int[]), (SELECT $3::int[]), (SELECT $4::text[]), (SELECT $5::text[]),
                       (SELECT $6::float8[]), (SELECT $7::jsonb[]), (SELECT $8::bigint[]))
           AS d(id, attempt, kind, message, delay, result, token)
), fin AS (
UPDATE xtbatch.batch b
   SET batch_completed     = CASE WHEN d.kind IN ('done', 'failed') THEN localtimestamp END,
       batch_exitstatus    = CASE d.kind WHEN 'done' THEN '' WHEN 'failed' THEN d.message END,
       batch_last_error    = CASE WHEN d.kind IN ('failed', 'retry') THEN d.message ELSE b.batch_last_error END,
       batch_started       = CASE WHEN d.kind IN ('retry', 'release') THEN NULL ELSE b.batch_started END,
       batch_scheduled     = CASE WHEN d.kind = 'retry' THEN localtimestamp + make_interval(secs => d.delay)
                                  ELSE b.batch_scheduled END,
       -- A job put back by a shutdown did not really get its attempt.
       batch_attempts      = CASE WHEN d.kind = 'release' THEN greatest(b.batch_attempts - 1, 0) ELSE b.batch_attempts END,
       -- Kept on finished rows: it says which daemon ran the job.
       batch_locked_by     = CASE WHEN d.kind IN ('retry', 'release') THEN NULL ELSE b.batch_locked_by END,
       batch_lease_expires = NULL,
       batch_result        = coalesce(d.result, b.batch_result),
       -- Retries by time: the series of transient failures starts at its first retry and ends with the job.
       batch_retrying_since = CASE WHEN d.kind = 'retry' THEN coalesce(b.batch_retrying_since, now())
                                   WHEN d.kind IN ('done', 'failed') THEN NULL ELSE b.batch_retrying_since END,
       batch_error_history  = CASE WHEN d.kind = 'retry' THEN xtbatch.xtconnect_history_push(b.batch_error_history, b.batch_attempts, d.message)
                                   WHEN d.kind IN ('done', 'failed') THEN NULL ELSE b.batch_error_history END,
       -- The first job of an xTuple-recurring series links to itself, as xTuple's own rows do.
       batch_recurring_batch_id = CASE WHEN d.kind IN ('done', 'failed') AND b.batch_reschedinterval IN ('D', 'W', 'M')
                                       THEN coalesce(b.batch_recurring_batch_id, b.batch_id)
                                       ELSE b.batch_recurring_batch_id END,
       batch_recurrence_anchor  = CASE WHEN d.kind IN ('done', 'failed') AND b.batch_reschedinterval IN ('D', 'W', 'M')
                                       AND b.batch_recurring_batch_id IS NULL
                                       THEN coalesce(b.batch_recurrence_anchor, b.batch_scheduled)
                                       ELSE b.batch_recurrence_anchor END
  FROM d
 WHERE b.batch_id = d.id
   -- Said twice on purpose: "= ANY" makes the primary key the way in, whatever the table's size.
   AND b.batch_id = ANY ((SELECT $2::int[])::int[])
   -- Guarded: only a job this daemon still holds, for the same attempt. A rescue, a cancel or a reschedule that
   -- happened meanwhile wins over a late finisher. Wrapped in IS TRUE so that the planner cannot use these
   -- conditions to estimate (or choose) how to find the rows: with statistics from before the claim it expects
   -- no row to have this batch_locked_by, picks a nested loop over the table, and compares every running row
   -- with every outcome (465 ms for 200 outcomes, 15 s for 1,000). So it looks each outcome up by primary key.
   -- (No "batch_started IS NOT NULL" either: batch_locked_by implies it, and it would invite batch_running_idx.)
   -- The fencing token: a newer claim of the same row (by any daemon, this one included) has another.
   -- With $9 (an ERP action recording its outcome in its own transaction) the lease must also still be running by
   -- the server's clock at this instant (clock_timestamp(), not the transaction's start).
   AND (b.batch_locked_by = $1 AND b.batch_attempts = d.attempt AND b.batch_completed IS NULL
        AND (d.token IS NULL OR b.batch_lease_token = d.token)
        AND ($9::boolean IS NOT TRUE OR b.batch_lease_expires > clock_timestamp())) IS TRUE
RETURNING b.batch_id, d.kind, b.batch_reschedinterval
)`;

const FINISH_SELECT = `
-- xTuple's recurrence: the next occurrence is inserted in this same statement, so a completed recurring job can
-- never be left without its successor (a failure does not end the series either).
SELECT batch_id,
       CASE WHEN kind IN ('done', 'failed') AND batch_reschedinterval IN ('D', 'W', 'M')
            THEN xtbatch.spawn_recurrence(batch_id) END AS next_id,
       -- Jobs put back (shutdown) or retried at once are due now: tell the other daemons.
       (SELECT count(pg_notify('xtconnect_jobs', ''))
          FROM (SELECT 1 FROM fin WHERE kind = 'release' OR kind = 'retry' LIMIT 1) due_again) AS notified
  FROM fin`;

export const FINISH_SQL = `
WITH ${FINISH_CTES}
${FINISH_SELECT}`;

/**
 * FINISH_SQL that also writes the records of mail the jobs sent ($10..$19, sentMailCtes): the record commits with
 * the outcome, in one statement where each record used to take its own (issue 17). The records do not depend on
 * the guard: a job fenced off still sent its mail.
 */
export const FINISH_SENT_SQL = `
WITH ${FINISH_CTES}, ${sentMailCtes(10)}
${FINISH_SELECT}`;

/**
 * Writes many outcomes in one statement; returns the ids that were still ours (same owner, attempt and token)
 * and were written. `requireLiveLease`: only while the lease has not expired by the server's clock (used inside
 * an ERP action's transaction, which then commits its work and its outcome together or neither).
 */
export async function finishMany(pool: Queryable, owner: string, items: Finish[], requireLiveLease = false): Promise<Set<number>> {
  // In batch_id order: rows are locked as they are updated, and two writers that lock in one order cannot
  // deadlock each other (lease renewal does not wait at all: it skips locked rows).
  const sorted = [...items].sort((a, b) => a.batchId - b.batchId);
  // Named: planned once per connection (planning was 0.3-0.4 ms of a small finish, issue 17). Its generic plan
  // finds the outcomes' rows by primary key and hashes the outcomes, also with statistics from before thousands
  // of jobs were claimed (the guard is wrapped in IS TRUE for that, above); test/db/statementPlans.test.ts.
  const sent = sorted.flatMap((i) => i.sentMail ?? []);
  const { rows } = await pool.query<{ batch_id: number }>({
    name: sent.length ? 'xtconnect_finish_sent' : 'xtconnect_finish',
    text: sent.length ? FINISH_SENT_SQL : FINISH_SQL,
    values: [
      owner,
      sorted.map((i) => i.batchId),
      sorted.map((i) => i.attempt),
      sorted.map((i) => i.kind),
      // The last net before the row (executeJob hides them already): what is written here, the console shows.
      sorted.map((i) => (i.message === null ? null : redactSecrets(i.message))),
      sorted.map((i) => i.delaySeconds),
      sorted.map((i) => (i.result === undefined || i.result === null ? null : JSON.stringify(i.result))),
      sorted.map((i) => i.token ?? null),
      requireLiveLease,
      ...(sent.length ? sentMailParams(distinctSentMail(sent).rows) : []),
    ],
  });
  return new Set(rows.map((r) => r.batch_id));
}

export interface LeaseRef {
  batchId: number;
  token: string;
}

export interface Renewal {
  /** Renewed: batch_id → the token the row holds (compare with the claim's). */
  renewed: Map<number, string>;
  /** Still ours but locked by one of our own writes at this moment (its outcome is being written): not renewed, not lost. */
  busy: Map<number, string>;
}

const RENEW_SQL = `
WITH mine AS (
  -- SKIP LOCKED: renewal never waits for a row lock, so it cannot take part in a deadlock (issue 13). A row
  -- skipped here is being written by an outcome or an ERP action's transaction at this moment.
  SELECT b.batch_id
    FROM xtbatch.batch b
   WHERE b.batch_id = ANY ($2::int[])
     AND (b.batch_locked_by = $1 AND b.batch_completed IS NULL) IS TRUE
     FOR UPDATE SKIP LOCKED
)
UPDATE xtbatch.batch b
   SET batch_lease_expires = now() + make_interval(secs => $3)
  FROM mine
 WHERE b.batch_id = mine.batch_id
RETURNING b.batch_id, b.batch_lease_token::text AS token`;

/**
 * Renews the leases of jobs this daemon holds, by the server's clock. A job absent from both maps was cancelled or
 * taken back; a token that differs from the claim's means it was claimed again (by another daemon or this one).
 * A lease that lapsed with no one taking the job back is renewed: no one else can have started it (a claim needs
 * a rescue first, which changes the owner), and the daemon's own deadline (src/daemon/leases.ts) already stopped
 * any job that could not be renewed in time.
 */
export async function renewLeases(pool: Pool, owner: string, leases: LeaseRef[], leaseSeconds: number): Promise<Renewal> {
  const ids = leases.map((l) => l.batchId);
  const { rows } = await pool.query<{ batch_id: number; token: string | null }>(RENEW_SQL, [owner, ids, leaseSeconds]);
  const renewed = new Map(rows.map((r) => [r.batch_id, r.token ?? '']));
  const busy = new Map<number, string>();
  const missing = ids.filter((id) => !renewed.has(id));
  if (missing.length > 0) {
    // A plain read takes no lock: which of the others are still ours (locked by our own write right now)?
    const others = await pool.query<{ batch_id: number; token: string | null }>(
      `SELECT batch_id, batch_lease_token::text AS token FROM xtbatch.batch
        WHERE batch_id = ANY ($2::int[]) AND (batch_locked_by = $1 AND batch_completed IS NULL) IS TRUE`,
      [owner, missing],
    );
    for (const r of others.rows) busy.set(r.batch_id, r.token ?? '');
  }
  return { renewed, busy };
}

/** Extends the leases of jobs this daemon holds, whatever their token; returns those renewed (bench/profile.ts). */
export async function extendLeases(pool: Pool, owner: string, ids: number[], leaseSeconds: number): Promise<Set<number>> {
  const r = await renewLeases(pool, owner, ids.map((batchId) => ({ batchId, token: '' })), leaseSeconds);
  return new Set(r.renewed.keys());
}

export interface Rescued {
  batch_id: number;
  batch_action: string;
  failed: boolean;
}

/**
 * Takes back jobs whose lease expired (their daemon died or lost the database): due again at once, or failed when
 * they have no attempts left. Jobs started by xTuple's own batch manager have no lease and are left alone.
 */
export async function rescueExpired(pool: Pool, defaultMaxAttempts: number, limit = 1000): Promise<Rescued[]> {
  const { rows } = await pool.query<Rescued>(
    `WITH expired AS (
       SELECT batch_id, batch_locked_by AS old_owner
         FROM xtbatch.batch
        WHERE batch_started IS NOT NULL AND batch_completed IS NULL AND batch_lease_expires < now()
        ORDER BY batch_lease_expires
        LIMIT $2
        FOR UPDATE SKIP LOCKED
     ), decided AS (
       SELECT e.batch_id, e.old_owner, b.batch_attempts >= coalesce(b.batch_max_attempts, $1) AS give_up
         FROM expired e JOIN xtbatch.batch b USING (batch_id)
     )
     UPDATE xtbatch.batch b
        SET batch_started       = CASE WHEN d.give_up THEN b.batch_started END,
            batch_completed     = CASE WHEN d.give_up THEN localtimestamp END,
            batch_exitstatus    = CASE WHEN d.give_up THEN format(
              'the daemon running it (%s) stopped responding on attempt %s of %s, and no attempts are left; ' ||
              'check that daemon''s log, then retry the job', d.old_owner, b.batch_attempts, coalesce(b.batch_max_attempts, $1)) END,
            batch_last_error    = format('the daemon running it (%s) stopped responding (lease expired); taken back', d.old_owner),
            batch_locked_by     = CASE WHEN d.give_up THEN b.batch_locked_by END,
            batch_lease_expires = NULL,
            batch_retrying_since = CASE WHEN d.give_up THEN NULL ELSE coalesce(b.batch_retrying_since, now()) END,
            batch_error_history  = CASE WHEN d.give_up THEN NULL ELSE xtbatch.xtconnect_history_push(b.batch_error_history, b.batch_attempts,
              format('the daemon running it (%s) stopped responding (lease expired); taken back', d.old_owner)) END
       FROM decided d
      WHERE b.batch_id = d.batch_id
      RETURNING b.batch_id, b.batch_action, d.give_up AS failed`,
    [defaultMaxAttempts, limit],
  );
  // Taken-back jobs are due now: wake every daemon, not only the next poll.
  if (rows.some((r) => !r.failed)) await pool.query(`SELECT pg_notify('xtconnect_jobs', '')`);
  return rows;
}
