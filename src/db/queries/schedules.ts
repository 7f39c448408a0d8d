import type { Pool } from '../pool';
import type { ParamInput } from './submit';
import { nextAfter, validateRule, ScheduleError, type Rule } from '../../schedule/rule';
import type { MissedPolicy } from '../../schedule/plan';

/** What each occurrence of a series becomes: batch columns by short name, and its parameters. */
export interface JobTemplate {
  parameter?: string | null;
  email?: string | null;
  cc?: string | null;
  bcc?: string | null;
  replyto?: string | null;
  fromemail?: string | null;
  subject?: string | null;
  body?: string | null;
  filename?: string | null;
  emailhtml?: boolean;
  priority?: number;
  timeoutSeconds?: number | null;
  maxAttempts?: number | null;
  params?: ParamInput[];
}

export interface ScheduleDef {
  name: string | null;
  source: 'cli' | 'config' | 'sql';
  action: string;
  job: JobTemplate;
  rule: Rule;
  maxCount: number | null;
  missed: MissedPolicy;
  missedMax: number;
}

export interface ScheduleRow {
  schedule_id: number;
  schedule_name: string | null;
  schedule_source: string;
  schedule_action: string;
  schedule_job: JobTemplate;
  schedule_cron: string | null;
  schedule_every_n: number | null;
  schedule_every_unit: 'minutes' | 'hours' | 'days' | null;
  schedule_timezone: string;
  schedule_start: Date;
  schedule_end: Date | null;
  schedule_max_count: number | null;
  schedule_count: number;
  schedule_missed: MissedPolicy;
  schedule_missed_max: number;
  schedule_next: Date | null;
  schedule_last: Date | null;
  schedule_paused: boolean;
  schedule_removed: Date | null;
  schedule_removed_by: string | null;
}

export function ruleOf(r: ScheduleRow): Rule {
  return {
    cron: r.schedule_cron,
    every: r.schedule_every_n ? { n: r.schedule_every_n, unit: r.schedule_every_unit! } : null,
    timezone: r.schedule_timezone,
    start: r.schedule_start,
    end: r.schedule_end,
  };
}

function columns(def: ScheduleDef): unknown[] {
  return [
    def.name, def.source, def.action, JSON.stringify(def.job), def.rule.cron, def.rule.every?.n ?? null,
    def.rule.every?.unit ?? null, def.rule.timezone, def.rule.start, def.rule.end, def.maxCount, def.missed, def.missedMax,
  ];
}

/** Validates the rule and stores the series with its first occurrence after `now`. */
export async function createSchedule(pool: Pool, def: ScheduleDef, now: Date = new Date()): Promise<ScheduleRow> {
  validateRule(def.rule);
  if (def.maxCount !== null && def.maxCount < 1) throw new ScheduleError(`a maximum count must be at least 1 (got ${def.maxCount})`);
  if (def.name !== null && !/^[A-Za-z0-9_.-]{1,100}$/.test(def.name)) throw new ScheduleError(`a series name is letters, digits, "_", "-" or "." (got ${JSON.stringify(def.name)})`);
  const first = nextAfter(def.rule, now);
  const taken = def.name ? await pool.query(`SELECT schedule_id FROM xtbatch.schedule WHERE schedule_name = $1`, [def.name]) : null;
  if (taken?.rows.length) throw new ScheduleError(`a series named "${def.name}" exists already (ID ${taken.rows[0].schedule_id}); choose another --name`);
  const { rows } = await pool.query<ScheduleRow>(
    `INSERT INTO xtbatch.schedule (schedule_name, schedule_source, schedule_action, schedule_job, schedule_cron,
       schedule_every_n, schedule_every_unit, schedule_timezone, schedule_start, schedule_end, schedule_max_count,
       schedule_missed, schedule_missed_max, schedule_next)
     VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
     RETURNING *`,
    [...columns(def), first],
  );
  return rows[0]!;
}

/**
 * A series from the config file, matched by name. An unchanged definition is left alone (so its next time and
 * count carry on, and a series an administrator removed stays removed); a changed one is replaced and active.
 */
export async function upsertConfigSchedule(pool: Pool, def: ScheduleDef, now: Date = new Date()): Promise<'created' | 'updated' | 'unchanged'> {
  validateRule(def.rule);
  const first = nextAfter(def.rule, now);
  const { rows } = await pool.query<{ inserted: boolean }>(
    `INSERT INTO xtbatch.schedule AS s (schedule_name, schedule_source, schedule_action, schedule_job, schedule_cron,
       schedule_every_n, schedule_every_unit, schedule_timezone, schedule_start, schedule_end, schedule_max_count,
       schedule_missed, schedule_missed_max, schedule_next)
     VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
     ON CONFLICT (schedule_name) DO UPDATE
       SET schedule_source = EXCLUDED.schedule_source, schedule_action = EXCLUDED.schedule_action,
           schedule_job = EXCLUDED.schedule_job, schedule_cron = EXCLUDED.schedule_cron,
           schedule_every_n = EXCLUDED.schedule_every_n, schedule_every_unit = EXCLUDED.schedule_every_unit,
           schedule_timezone = EXCLUDED.schedule_timezone, schedule_start = EXCLUDED.schedule_start,
           schedule_end = EXCLUDED.schedule_end, schedule_max_count = EXCLUDED.schedule_max_count,
           schedule_missed = EXCLUDED.schedule_missed, schedule_missed_max = EXCLUDED.schedule_missed_max,
           schedule_next = EXCLUDED.schedule_next, schedule_removed = NULL, schedule_removed_by = NULL,
           schedule_paused = false
     WHERE s.schedule_removed_by = 'config'
        OR (s.schedule_action, s.schedule_job, s.schedule_cron, s.schedule_every_n, s.schedule_every_unit,
            s.schedule_timezone, s.schedule_end, s.schedule_max_count, s.schedule_missed, s.schedule_missed_max)
           IS DISTINCT FROM
           (EXCLUDED.schedule_action, EXCLUDED.schedule_job, EXCLUDED.schedule_cron, EXCLUDED.schedule_every_n,
            EXCLUDED.schedule_every_unit, EXCLUDED.schedule_timezone, EXCLUDED.schedule_end,
            EXCLUDED.schedule_max_count, EXCLUDED.schedule_missed, EXCLUDED.schedule_missed_max)
     RETURNING (xmax = 0) AS inserted`,
    [...columns(def), first],
  );
  if (rows.length === 0) return 'unchanged';
  return rows[0]!.inserted ? 'created' : 'updated';
}

/** Config series whose names are no longer in the config file: removed, with their waiting occurrences. */
export async function removeConfigSchedulesExcept(pool: Pool, names: string[]): Promise<string[]> {
  const { rows } = await pool.query<{ schedule_id: number; schedule_name: string }>(
    `SELECT schedule_id, schedule_name FROM xtbatch.schedule
      WHERE schedule_source = 'config' AND schedule_removed IS NULL AND NOT (schedule_name = ANY ($1::text[]))`,
    [names],
  );
  for (const r of rows) await removeSchedule(pool, r.schedule_id, 'config');
  return rows.map((r) => r.schedule_name);
}

/** A series as `schedule list` shows it: what the table says, and what its occurrence rows say. */
export interface ScheduleOverview extends ScheduleRow {
  /**
   * When the series runs next: its earliest occurrence row not yet started (inserted ahead, or waiting for a
   * retry), else the next occurrence not yet inserted; null when neither exists.
   */
  next_run: Date | null;
  /** Occurrences that ran (done, failed, running, or retrying after a try); not those waiting or cancelled. */
  runs: number;
}

const OVERVIEW = `
SELECT s.*, CASE WHEN s.schedule_paused OR s.schedule_removed IS NOT NULL THEN NULL
                 ELSE least(w.next_waiting, s.schedule_next) END AS next_run,
       coalesce(r.runs, 0) AS runs
  FROM xtbatch.schedule s
  -- batch_scheduled, not the occurrence: rescheduleBatchItem moves one occurrence, and it runs when moved to.
  LEFT JOIN LATERAL (SELECT min(b.batch_scheduled::timestamptz) AS next_waiting FROM xtbatch.batch b
                      WHERE b.batch_schedule_id = s.schedule_id AND b.batch_started IS NULL AND b.batch_completed IS NULL) w ON true
  LEFT JOIN LATERAL (SELECT count(*)::int AS runs FROM xtbatch.job j
                      WHERE j.batch_schedule_id = s.schedule_id AND j.state IN ('done', 'failed', 'running', 'retrying')) r ON true`;

export async function listSchedules(pool: Pool, includeRemoved = false): Promise<ScheduleOverview[]> {
  const { rows } = await pool.query<ScheduleOverview>(
    `${OVERVIEW} WHERE $1 OR s.schedule_removed IS NULL ORDER BY s.schedule_id`,
    [includeRemoved],
  );
  return rows;
}

export async function getSchedule(pool: Pool, id: number): Promise<ScheduleRow | null> {
  const { rows } = await pool.query<ScheduleRow>(`SELECT * FROM xtbatch.schedule WHERE schedule_id = $1`, [id]);
  return rows[0] ?? null;
}

export async function getScheduleOverview(pool: Pool, id: number): Promise<ScheduleOverview | null> {
  const { rows } = await pool.query<ScheduleOverview>(`${OVERVIEW} WHERE s.schedule_id = $1`, [id]);
  return rows[0] ?? null;
}

/** When the series' occurrence rows not yet started run (inserted ahead, or waiting for a retry), earliest first. */
export async function waitingRuns(pool: Pool, id: number, limit: number): Promise<Date[]> {
  const { rows } = await pool.query<{ at: Date }>(
    `SELECT batch_scheduled::timestamptz AS at FROM xtbatch.batch
      WHERE batch_schedule_id = $1 AND batch_started IS NULL AND batch_completed IS NULL
      ORDER BY batch_scheduled, batch_id LIMIT $2`,
    [id, limit],
  );
  return rows.map((r) => r.at);
}

/** Cancels the occurrences already inserted ahead that have not started. */
async function cancelWaiting(pool: Pool, id: number, why: string): Promise<number> {
  const { rowCount } = await pool.query(
    `UPDATE xtbatch.batch
        SET batch_completed = localtimestamp, batch_started = localtimestamp,
            batch_exitstatus = format('Cancelled by %s at %s (%s)', CURRENT_USER, to_char(localtimestamp, 'YYYY-MM-DD HH24:MI:SS'), $2::text)
      WHERE batch_schedule_id = $1 AND batch_started IS NULL AND batch_completed IS NULL`,
    [id, why],
  );
  return rowCount ?? 0;
}

export async function pauseSchedule(pool: Pool, id: number): Promise<boolean> {
  const { rowCount } = await pool.query(
    `UPDATE xtbatch.schedule SET schedule_paused = true WHERE schedule_id = $1 AND schedule_removed IS NULL`, [id]);
  if (!rowCount) return false;
  await cancelWaiting(pool, id, 'series paused');
  return true;
}

/** Resumes from now: occurrences that fell in the pause are not made up. */
export async function resumeSchedule(pool: Pool, id: number, now: Date = new Date()): Promise<boolean> {
  const s = await getSchedule(pool, id);
  if (!s || s.schedule_removed) return false;
  const next = s.schedule_max_count !== null && s.schedule_count >= s.schedule_max_count ? null : nextAfter(ruleOf(s), now);
  await pool.query(`UPDATE xtbatch.schedule SET schedule_paused = false, schedule_next = $2 WHERE schedule_id = $1`, [id, next]);
  return true;
}

/** Stops the series: no further occurrences, and those waiting are cancelled. The row stays, for the record. */
export async function removeSchedule(pool: Pool, id: number, by: string | null = null): Promise<boolean> {
  const { rowCount } = await pool.query(
    `UPDATE xtbatch.schedule SET schedule_removed = now(), schedule_removed_by = coalesce($2, CURRENT_USER), schedule_next = NULL
      WHERE schedule_id = $1 AND schedule_removed IS NULL`, [id, by]);
  if (!rowCount) return false;
  await cancelWaiting(pool, id, 'series removed');
  return true;
}
