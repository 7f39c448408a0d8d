"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.JOB_STATES = void 0;
exports.listJobs = listJobs;
exports.getJob = getJob;
exports.queueHealth = queueHealth;
exports.JOB_STATES = ['scheduled', 'retrying', 'running', 'done', 'failed', 'cancelled'];
async function listJobs(pool, f) {
    const { rows } = await pool.query(`SELECT batch_id, batch_action, state, batch_scheduled, batch_completed, batch_attempts, batch_email,
            batch_exitstatus, batch_last_error
       FROM xtbatch.job
      WHERE ($1::text IS NULL OR state = $1) AND ($2::text IS NULL OR batch_action = $2)
      ORDER BY batch_id DESC
      LIMIT $3`, [f.state ?? null, f.action ?? null, f.limit]);
    return rows;
}
async function getJob(pool, id) {
    const { rows } = await pool.query(`SELECT * FROM xtbatch.job WHERE batch_id = $1`, [id]);
    if (rows.length === 0)
        return null;
    const params = await pool.query(`SELECT batchparam_order AS "order", batchparam_name AS name, batchparam_value AS value, batchparam_type AS type
       FROM xtbatch.batchparam WHERE batchparam_batch_id = $1 ORDER BY batchparam_order, batchparam_id`, [id]);
    return { job: rows[0], params: params.rows };
}
/** One round trip; every count walks an index (due and running rows are partial-indexed, finished ones by time). */
async function queueHealth(pool, daemonStaleSeconds) {
    const { rows } = await pool.query(`SELECT xtbatch.enabled() AS enabled,
            (SELECT count(*)::int FROM xtbatch.daemon
              WHERE daemon_heartbeat > now() - make_interval(secs => $1)) AS daemons_alive,
            (SELECT count(*)::int FROM xtbatch.daemon
              WHERE daemon_heartbeat > now() - make_interval(secs => $1) AND daemon_claiming) AS daemons_claiming,
            (SELECT count(*)::int FROM xtbatch.batch
              WHERE batch_started IS NULL AND batch_completed IS NULL AND batch_scheduled <= localtimestamp) AS due,
            (SELECT count(*)::int FROM xtbatch.batch
              WHERE batch_started IS NOT NULL AND batch_completed IS NULL) AS running,
            (SELECT count(*)::int FROM xtbatch.batch
              WHERE batch_completed > localtimestamp - interval '24 hours'
                AND coalesce(batch_exitstatus, '') <> '' AND batch_exitstatus NOT LIKE 'Cancelled by %') AS failed_24h,
            coalesce((SELECT floor(extract(epoch FROM localtimestamp - min(batch_scheduled)))::int FROM xtbatch.batch
              WHERE batch_started IS NULL AND batch_completed IS NULL AND batch_scheduled <= localtimestamp), 0)
              AS oldest_due_seconds`, [daemonStaleSeconds]);
    return rows[0];
}
//# sourceMappingURL=inspect.js.map