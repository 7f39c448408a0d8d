/**
 * The daemon's statements for answers a broken connection lost: the server committed a claim or an outcome, and
 * the daemon never heard back (src/daemon/lostClaims.ts, src/daemon/completer.ts; docs/reliability.md).
 */
import type pg from 'pg';
import type { Finish } from './batch';

/** The daemon's pool, or any connection (the tests also run these from an ERP session). */
type Conn = pg.Pool | pg.ClientBase;

/**
 * Of these outcomes that the finish did not write, the rows already finished under this owner, attempt and token,
 * with the exit status each carries ('' for done). Two answers a broken connection lost end here: an earlier try
 * of the same outcome that committed, and the COMMIT of an ERP action's transaction, which wrote the job's "done"
 * with its work (src/handlers/erpAction/group.ts) while the daemon, without the answer, took it for failed. The
 * finish's guard no longer matches such a row (it is completed), so without this they read as taken back.
 */
export async function finishedUnder(pool: Conn, owner: string, items: readonly Finish[]): Promise<Map<number, string>> {
  const { rows } = await pool.query<{ batch_id: number; batch_exitstatus: string | null }>(
    `SELECT b.batch_id, b.batch_exitstatus
       FROM unnest($2::int[], $3::int[], $4::bigint[]) AS d(id, attempt, token)
       JOIN xtbatch.batch b ON b.batch_id = d.id
      WHERE b.batch_locked_by = $1 AND b.batch_attempts = d.attempt AND b.batch_completed IS NOT NULL
        AND (d.token IS NULL OR b.batch_lease_token = d.token)`,
    [owner, items.map((f) => f.batchId), items.map((f) => f.attempt), items.map((f) => f.token ?? null)],
  );
  return new Map(rows.map((r) => [r.batch_id, r.batch_exitstatus ?? '']));
}

/**
 * Puts back the rows that claims with these tokens took for `owner` and that are still running under them: the
 * claims whose answer never reached the daemon (src/daemon/lostClaims.ts). As a release by the finish (kind
 * 'release'): waiting again, the attempt not counted; and the other daemons are told that jobs are due.
 */
export async function putBackLostClaims(pool: Conn, owner: string, tokens: string[]): Promise<number[]> {
  const { rows } = await pool.query<{ batch_id: number }>(
    `WITH back AS (
       UPDATE xtbatch.batch
          SET batch_started = NULL, batch_attempts = greatest(batch_attempts - 1, 0), batch_locked_by = NULL,
              batch_lease_expires = NULL
        -- The running rows' partial index (batch_running_idx) is the way in.
        WHERE batch_started IS NOT NULL AND batch_completed IS NULL
          AND batch_locked_by = $1 AND batch_lease_token = ANY ($2::bigint[])
       RETURNING batch_id)
     SELECT batch_id, (SELECT count(pg_notify('xtconnect_jobs', '')) FROM (SELECT 1 FROM back LIMIT 1) due_again) AS notified
       FROM back ORDER BY batch_id`,
    [owner, tokens],
  );
  return rows.map((r) => r.batch_id);
}
