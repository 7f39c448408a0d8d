import type { Pool } from '../db/pool';
import { ruleOf, type ScheduleRow } from '../db/queries/schedules';
import type { Logger } from '../log';
import { planOccurrences } from '../schedule/plan';

export interface SchedulerOptions {
  /** The time to plan for; the database's now() when absent (tests inject a clock). */
  now?: Date;
  /** How far ahead occurrences are inserted; they wait as scheduled rows until due. */
  horizonMs: number;
  /** Occurrences older than now minus this count as missed (the missed-run policy applies). */
  graceMs: number;
  /** Series handled per transaction. */
  batchSize?: number;
}

export interface SchedulerResult {
  series: number;
  inserted: number;
  skipped: number;
  /** The earliest next occurrence of any active series after this pass (for the daemon's own timing). */
  earliestNext: Date | null;
  /** Occurrences this pass inserted for later than now: the daemon wakes its claim loop at each. */
  upcoming: Date[];
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

/**
 * One pass of the scheduler: locks the due series (SKIP LOCKED, so daemons split them), plans each one's
 * occurrences, inserts them and advances the series, all in one transaction. Cheap when nothing is due: one
 * indexed query.
 */
export async function scheduleOnce(pool: Pool, log: Logger, opts: SchedulerOptions): Promise<SchedulerResult> {
  const batchSize = opts.batchSize ?? 500;
  const result: SchedulerResult = { series: 0, inserted: 0, skipped: 0, earliestNext: null, upcoming: [] };
  const peek = await pool.query<{ next: Date | null; now: Date }>(
    `SELECT min(schedule_next) AS next, coalesce($1::timestamptz, now()) AS now FROM xtbatch.schedule
      WHERE schedule_next IS NOT NULL AND NOT schedule_paused AND schedule_removed IS NULL`,
    [opts.now ?? null],
  );
  const now = peek.rows[0]!.now;
  const horizon = new Date(now.getTime() + opts.horizonMs);
  result.earliestNext = peek.rows[0]!.next;
  if (!result.earliestNext || result.earliestNext > horizon) return result;

  for (;;) {
    const client = await pool.connect();
    let locked = 0;
    try {
      await client.query('BEGIN');
      const { rows } = await client.query<ScheduleRow>(
        `SELECT * FROM xtbatch.schedule
          WHERE schedule_next <= $1 AND NOT schedule_paused AND schedule_removed IS NULL
          ORDER BY schedule_next LIMIT $2 FOR UPDATE SKIP LOCKED`,
        [horizon, batchSize],
      );
      locked = rows.length;
      const sids: number[] = [];
      const ats: Date[] = [];
      const updates: { id: number; next: Date | null; count: number; last: Date | null }[] = [];
      for (const s of rows) {
        const plan = planOccurrences(ruleOf(s), {
          next: s.schedule_next!, count: s.schedule_count, maxCount: s.schedule_max_count,
          missed: s.schedule_missed, missedMax: s.schedule_missed_max,
        }, now, horizon, opts.graceMs);
        for (const at of plan.occurrences) {
          sids.push(s.schedule_id);
          ats.push(at);
        }
        if (plan.skipped > 0) {
          log.warn(`series ${s.schedule_id}${s.schedule_name ? ` (${s.schedule_name})` : ''}: ${plan.skipped} occurrence(s) missed while no daemon ran were not run (policy "${s.schedule_missed}")`, { scope: 'scheduler' });
        }
        result.skipped += plan.skipped;
        updates.push({ id: s.schedule_id, next: plan.next, count: plan.count, last: plan.occurrences.at(-1) ?? s.schedule_last });
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
