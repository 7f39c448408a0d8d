import type { Pool } from '../db/pool';
import { ruleOf, type ScheduleRow } from '../db/queries/schedules';
import type { Logger } from '../log';
import { planOccurrences } from '../schedule/plan';

export interface SchedulerOptions {
  /** The time to plan for; the database's now() when absent (tests inject a clock). */
  now?: Date;
  /** How far ahead occurrences are inserted; they wait as scheduled rows until due. */
  horizonMs: number;
  /**
   * An occurrence not inserted and older than now minus this was missed (a running scheduler inserts ahead).
   * Also how recent a daemon's heartbeat must be for it to count as running now: more than its heartbeat interval.
   */
  graceMs: number;
  /** Series handled per transaction. */
  batchSize?: number;
}

export interface SchedulerResult {
  series: number;
  inserted: number;
  /** Missed occurrences the policies did not run (never inserted, or waiting rows cancelled). */
  skipped: number;
  /** Waiting occurrence rows cancelled because their time came while no daemon ran and the policy said so. */
  cancelled: number;
  /** The earliest next occurrence of any active series after this pass (for the daemon's own timing). */
  earliestNext: Date | null;
  /** Occurrences this pass inserted for later than now: the daemon wakes its claim loop at each. */
  upcoming: Date[];
}

/**
 * A waiting occurrence row (inserted ahead, never tried) whose time came while no daemon ran: due by `$now`,
 * and no registered daemon had started by then and was still heartbeating at that time (or, for a time within
 * the grace, is heartbeating now). A daemon that stops cleanly deregisters, so after a stop of all of them every
 * such row qualifies; a backlog of a running daemon never does. `b` is the batch row; the arguments are the SQL
 * for now (timestamptz) and for the grace in milliseconds.
 */
function staleWaiting(nowParam: string, graceParam: string): string {
  return `b.batch_schedule_id IS NOT NULL AND b.batch_started IS NULL AND b.batch_completed IS NULL
      AND b.batch_attempts = 0 AND b.batch_scheduled::timestamptz <= ${nowParam}
      AND NOT EXISTS (SELECT 1 FROM xtbatch.daemon d
                       WHERE d.daemon_started <= b.batch_scheduled::timestamptz
                         AND d.daemon_heartbeat >= least(b.batch_scheduled::timestamptz, ${nowParam} - ${graceParam} * interval '1 millisecond'))`;
}

const INSERT_OCCURRENCES = `
WITH o AS (
  SELECT * FROM unnest($1::int[], $2::timestamptz[]) AS o(sid, at)
), ins AS (
  INSERT INTO xtbatch.batch (batch_action, batch_parameter, batch_user, batch_email, batch_submitted, batch_scheduled,
                             batch_responsebody, batch_subject, batch_filename, batch_fromemail, batch_cc, batch_bcc,
                             batch_replyto, batch_emailhtml, batch_priority, batch_max_attempts, batch_timeout_seconds,
                             batch_schedule_id, batch_occurrence)
  SELECT s.schedule_action, j->>'parameter', s.schedule_created_by, j->>'email', localtimestamp,
         -- The instant in the server's local time, as xTuple stores every batch time.
         o.at::timestamp,
         j->>'body', j->>'subject', j->>'filename', j->>'fromemail', j->>'cc', j->>'bcc', j->>'replyto',
         coalesce((j->>'emailhtml')::boolean, false), coalesce((j->>'priority')::smallint, 0),
         (j->>'maxAttempts')::int, (j->>'timeoutSeconds')::int, s.schedule_id, o.at
    FROM o JOIN xtbatch.schedule s ON s.schedule_id = o.sid, LATERAL (SELECT s.schedule_job AS j) t
  -- The unique index on (series, occurrence) makes a second insert of the same occurrence a no-op.
  ON CONFLICT DO NOTHING
  RETURNING batch_id, batch_schedule_id
), params AS (
  INSERT INTO xtbatch.batchparam (batchparam_batch_id, batchparam_order, batchparam_name, batchparam_value, batchparam_type)
  SELECT ins.batch_id, p.ord, p.v->>'name', p.v->>'value', coalesce(p.v->>'type', 'QString')
    FROM ins JOIN xtbatch.schedule s ON s.schedule_id = ins.batch_schedule_id,
         jsonb_array_elements(coalesce(s.schedule_job->'params', '[]'::jsonb)) WITH ORDINALITY AS p(v, ord)
)
SELECT count(*)::int AS inserted FROM ins`;

const CANCEL_MISSED = `
UPDATE xtbatch.batch
   SET batch_completed = localtimestamp, batch_started = localtimestamp,
       batch_exitstatus = format('Cancelled by %s at %s (%s)', CURRENT_USER, to_char(localtimestamp, 'YYYY-MM-DD HH24:MI:SS'), r.why)
  FROM unnest($1::int[], $2::text[]) AS r(id, why)
 WHERE batch_id = r.id AND batch_started IS NULL AND batch_completed IS NULL`;

interface DaemonSpan {
  started: Date;
  heartbeat: Date;
}

/** Whether a registered daemon was running at `t` (the same test as staleWaiting, for times not yet inserted). */
function coveredBy(daemons: DaemonSpan[], now: Date, graceMs: number): (t: Date) => boolean {
  const recent = now.getTime() - graceMs;
  return (t) => daemons.some((d) => d.started <= t && d.heartbeat.getTime() >= Math.min(t.getTime(), recent));
}

/**
 * One pass of the scheduler: locks the due series (SKIP LOCKED, so daemons split them) and those with waiting
 * occurrences whose time came while no daemon ran, plans each one's occurrences under its missed-run policy,
 * inserts them, cancels the waiting ones the policy does not run and advances the series, all in one
 * transaction. Cheap when nothing is due: one indexed query.
 */
export async function scheduleOnce(pool: Pool, log: Logger, opts: SchedulerOptions): Promise<SchedulerResult> {
  const batchSize = opts.batchSize ?? 500;
  const result: SchedulerResult = { series: 0, inserted: 0, skipped: 0, cancelled: 0, earliestNext: null, upcoming: [] };
  const peek = await pool.query<{ next: Date | null; now: Date; stale: boolean }>(
    `SELECT min(schedule_next) AS next, coalesce($1::timestamptz, now()) AS now,
            EXISTS (SELECT 1 FROM xtbatch.batch b WHERE ${staleWaiting('coalesce($1::timestamptz, now())', '$2::float8')}) AS stale
       FROM xtbatch.schedule
      WHERE schedule_next IS NOT NULL AND NOT schedule_paused AND schedule_removed IS NULL`,
    [opts.now ?? null, opts.graceMs],
  );
  const now = peek.rows[0]!.now;
  const stale = peek.rows[0]!.stale;
  const horizon = new Date(now.getTime() + opts.horizonMs);
  result.earliestNext = peek.rows[0]!.next;
  if (!stale && (!result.earliestNext || result.earliestNext > horizon)) return result;

  const done: number[] = [];
  for (;;) {
    const client = await pool.connect();
    let locked = 0;
    try {
      await client.query('BEGIN');
      const { rows } = await client.query<ScheduleRow>(
        `SELECT * FROM xtbatch.schedule s
          WHERE NOT schedule_paused AND schedule_removed IS NULL AND NOT (schedule_id = ANY ($5::int[]))
            AND (schedule_next <= $1
                 ${stale ? `OR EXISTS (SELECT 1 FROM xtbatch.batch b WHERE b.batch_schedule_id = s.schedule_id AND ${staleWaiting('$3::timestamptz', '$4::float8')})`
                         // The same parameters either way; unused ones still need a type.
                         : 'OR ($3::timestamptz IS NULL AND $4::float8 IS NULL)'})
          ORDER BY schedule_next NULLS FIRST LIMIT $2 FOR UPDATE SKIP LOCKED`,
        [horizon, batchSize, now, opts.graceMs, done],
      );
      locked = rows.length;
      // Waiting rows whose time came while no daemon ran, of the series locked here (SKIP LOCKED: a row a daemon
      // is claiming right now is running, not missed).
      const staleRows = new Map<number, { id: number; due: Date }[]>();
      if (stale && rows.length > 0) {
        const r = await client.query<{ id: number; sid: number; due: Date }>(
          `SELECT b.batch_id AS id, b.batch_schedule_id AS sid, b.batch_scheduled::timestamptz AS due
             FROM xtbatch.batch b
            WHERE b.batch_schedule_id = ANY ($1::int[]) AND ${staleWaiting('$2::timestamptz', '$3::float8')}
            ORDER BY due, b.batch_id
            FOR UPDATE OF b SKIP LOCKED`,
          [rows.map((s) => s.schedule_id), now, opts.graceMs],
        );
        for (const row of r.rows) {
          const list = staleRows.get(row.sid) ?? [];
          list.push({ id: row.id, due: row.due });
          staleRows.set(row.sid, list);
        }
      }
      const daemons = rows.length > 0
        ? (await client.query<DaemonSpan>(`SELECT daemon_started AS started, daemon_heartbeat AS heartbeat FROM xtbatch.daemon`)).rows
        : [];
      const covered = coveredBy(daemons, now, opts.graceMs);
      const sids: number[] = [];
      const ats: Date[] = [];
      const cancelIds: number[] = [];
      const cancelWhy: string[] = [];
      const updates: { id: number; next: Date | null; count: number; last: Date | null }[] = [];
      for (const s of rows) {
        done.push(s.schedule_id);
        const waiting = staleRows.get(s.schedule_id) ?? [];
        const plan = planOccurrences(ruleOf(s), {
          next: s.schedule_next, count: s.schedule_count, maxCount: s.schedule_max_count,
          missed: s.schedule_missed, missedMax: s.schedule_missed_max,
        }, now, horizon, { stale: waiting.map((w) => w.due), covered, graceMs: opts.graceMs });
        for (const at of plan.occurrences) {
          sids.push(s.schedule_id);
          ats.push(at);
        }
        const cancel = new Set(plan.cancel.map((d) => d.getTime()));
        for (const w of waiting) {
          if (!cancel.has(w.due.getTime())) continue;
          cancel.delete(w.due.getTime());
          cancelIds.push(w.id);
          cancelWhy.push(`missed while no daemon ran; series ${s.schedule_id} policy "${s.schedule_missed}"`);
        }
        if (plan.missed > 0) {
          const name = `series ${s.schedule_id}${s.schedule_name ? ` (${s.schedule_name})` : ''}`;
          const ran = plan.ranMissed > 0 ? `runs the latest ${plan.ranMissed}` : 'runs none';
          log.warn(`${name}: ${plan.missedCapped ? 'at least ' : ''}${plan.missed} occurrence(s) missed while no daemon ran; policy "${s.schedule_missed}" ${ran}, ${plan.missedCapped ? 'at least ' : ''}${plan.skipped} were not run`, { scope: 'scheduler' });
        }
        result.skipped += plan.skipped;
        const last = [...plan.occurrences, s.schedule_last].filter((d): d is Date => d !== null).sort((a, b) => b.getTime() - a.getTime())[0] ?? null;
        updates.push({ id: s.schedule_id, next: plan.next, count: plan.count, last });
      }
      if (cancelIds.length > 0) {
        const c = await client.query(CANCEL_MISSED, [cancelIds, cancelWhy]);
        result.cancelled += c.rowCount ?? 0;
      }
      if (sids.length > 0) {
        const ins = await client.query<{ inserted: number }>(INSERT_OCCURRENCES, [sids, ats]);
        result.inserted += ins.rows[0]!.inserted;
        result.upcoming.push(...ats.filter((at) => at > now));
      }
      if (updates.length > 0) {
        await client.query(
          `UPDATE xtbatch.schedule s SET schedule_next = u.next, schedule_count = u.count, schedule_last = u.last
             FROM unnest($1::int[], $2::timestamptz[], $3::int[], $4::timestamptz[]) AS u(id, next, count, last)
            WHERE s.schedule_id = u.id`,
          [updates.map((u) => u.id), updates.map((u) => u.next), updates.map((u) => u.count), updates.map((u) => u.last)],
        );
      }
      await client.query('COMMIT');
      result.series += rows.length;
      for (const u of updates) if (u.next && (!result.earliestNext || u.next < result.earliestNext)) result.earliestNext = u.next;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
    if (locked < batchSize) break;
  }
  if (result.inserted > 0) log.info(`scheduled ${result.inserted} occurrence(s) of ${result.series} series`, { scope: 'scheduler' });
  return result;
}
