import type { Pool } from '../pool';

export const JOB_STATES = ['scheduled', 'retrying', 'running', 'done', 'failed', 'cancelled'] as const;
export type JobState = (typeof JOB_STATES)[number];

export interface JobListRow {
  batch_id: number;
  batch_action: string;
  state: JobState;
  batch_scheduled: string;
  batch_completed: string | null;
  batch_attempts: number;
  batch_email: string | null;
  batch_exitstatus: string | null;
  batch_last_error: string | null;
}

export async function listJobs(pool: Pool, f: { state?: JobState; action?: string; limit: number }): Promise<JobListRow[]> {
  const { rows } = await pool.query<JobListRow>(
    `SELECT batch_id, batch_action, state, batch_scheduled, batch_completed, batch_attempts, batch_email,
            batch_exitstatus, batch_last_error
       FROM xtbatch.job
      WHERE ($1::text IS NULL OR state = $1) AND ($2::text IS NULL OR batch_action = $2)
      ORDER BY batch_id DESC
      LIMIT $3`,
    [f.state ?? null, f.action ?? null, f.limit],
  );
  return rows;
}

export async function getJob(pool: Pool, id: number): Promise<{ job: Record<string, unknown>; params: Record<string, unknown>[] } | null> {
  const { rows } = await pool.query(`SELECT * FROM xtbatch.job WHERE batch_id = $1`, [id]);
  if (rows.length === 0) return null;
  const params = await pool.query(
    `SELECT batchparam_order AS "order", batchparam_name AS name, batchparam_value AS value, batchparam_type AS type
       FROM xtbatch.batchparam WHERE batchparam_batch_id = $1 ORDER BY batchparam_order, batchparam_id`,
    [id],
  );
  return { job: rows[0] as Record<string, unknown>, params: params.rows as Record<string, unknown>[] };
}

export interface QueueHealth {
  enabled: boolean;
  daemons_alive: number;
  daemons_claiming: number;
  /** "host pid version" of each live daemon that does not claim (an older build the schema moved past). */
  daemons_idle: string[];
  due: number;
  running: number;
  /** Failures in the window (failure_window_seconds), not counting cancellations. */
  failed: number;
  failure_window_seconds: number;
  oldest_due_seconds: number;
}

/** One round trip; every count walks an index (due and running rows are partial-indexed, finished ones by time). */
export async function queueHealth(pool: Pool, daemonStaleSeconds: number, failureWindowSeconds = 86_400): Promise<QueueHealth> {
  const { rows } = await pool.query<QueueHealth>(
    `WITH live AS (
       SELECT daemon_host, daemon_pid, daemon_version, daemon_claiming FROM xtbatch.daemon
        WHERE daemon_heartbeat > now() - make_interval(secs => $1)
     )
     SELECT xtbatch.enabled() AS enabled,
            (SELECT count(*)::int FROM live) AS daemons_alive,
            (SELECT count(*)::int FROM live WHERE daemon_claiming) AS daemons_claiming,
            (SELECT coalesce(array_agg(daemon_host || ' pid ' || daemon_pid || ' version ' || daemon_version ORDER BY daemon_host, daemon_pid), '{}')
               FROM live WHERE NOT daemon_claiming) AS daemons_idle,
            (SELECT count(*)::int FROM xtbatch.batch
              WHERE batch_started IS NULL AND batch_completed IS NULL AND batch_scheduled <= localtimestamp) AS due,
            (SELECT count(*)::int FROM xtbatch.batch
              WHERE batch_started IS NOT NULL AND batch_completed IS NULL) AS running,
            (SELECT count(*)::int FROM xtbatch.batch
              WHERE batch_completed > localtimestamp - make_interval(secs => $2)
                AND coalesce(batch_exitstatus, '') <> '' AND batch_exitstatus NOT LIKE 'Cancelled by %') AS failed,
            $2::int AS failure_window_seconds,
            coalesce((SELECT floor(extract(epoch FROM localtimestamp - min(batch_scheduled)))::int FROM xtbatch.batch
              WHERE batch_started IS NULL AND batch_completed IS NULL AND batch_scheduled <= localtimestamp), 0)
              AS oldest_due_seconds`,
    [daemonStaleSeconds, failureWindowSeconds],
  );
  return rows[0]!;
}

export interface QueueDepth {
  due: number;
  running: number;
  oldest_due_seconds: number;
}

/** The queue gauges of /metrics: two index scans, no count over finished rows. */
export async function queueDepth(pool: Pool): Promise<QueueDepth> {
  const { rows } = await pool.query<QueueDepth>(
    `SELECT (SELECT count(*)::int FROM xtbatch.batch
              WHERE batch_started IS NULL AND batch_completed IS NULL AND batch_scheduled <= localtimestamp) AS due,
            (SELECT count(*)::int FROM xtbatch.batch
              WHERE batch_started IS NOT NULL AND batch_completed IS NULL) AS running,
            coalesce((SELECT extract(epoch FROM localtimestamp - min(batch_scheduled))::float8 FROM xtbatch.batch
              WHERE batch_started IS NULL AND batch_completed IS NULL AND batch_scheduled <= localtimestamp), 0)
              AS oldest_due_seconds`,
  );
  return rows[0]!;
}
