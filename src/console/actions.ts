import type { Pool } from '../db/pool';
import { filterSql, type JobFilter } from './jobs';

/** Bulk actions act on at most this many jobs of a filter per request; the page says when more remain. */
export const BULK_LIMIT = 10_000;

export type ActionOutcome = { ok: true; message: string } | { ok: false; message: string };

/**
 * xtbatch.cancelBatchItem records "Cancelled by <database user>": through the console that is the console's own
 * role, so the same transaction writes the person who pressed the button instead (the "Cancelled by " prefix,
 * which makes the job's state "cancelled", stays).
 */
const ATTRIBUTE = `UPDATE xtbatch.batch
    SET batch_exitstatus = format('Cancelled by %s at %s (console)', $2::text, to_char(localtimestamp, 'YYYY-MM-DD HH24:MI:SS'))
  WHERE batch_id = ANY ($1::int[])`;

async function inTransaction<T>(pool: Pool, fn: (q: Pool['query']) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const out = await fn(client.query.bind(client) as Pool['query']);
    await client.query('COMMIT');
    return out;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

export async function cancelOne(pool: Pool, id: number, by: string): Promise<ActionOutcome> {
  return inTransaction(pool, async (q) => {
    const { rows } = await q<{ r: number }>(`SELECT xtbatch.cancelBatchItem($1) AS r`, [id]);
    const r = rows[0]!.r;
    if (r === 1) {
      await q(ATTRIBUTE, [[id], by]);
      return { ok: true, message: `Job ${id} cancelled.` };
    }
    return { ok: false, message: r === 0 ? `Job ${id} had already finished; nothing to cancel.` : `There is no job ${id}.` };
  });
}

/** Retry and Reschedule are both xtbatch.rescheduleBatchItem: due again at `at` (now when null), attempts reset. */
export async function rescheduleOne(pool: Pool, id: number, at: Date | null): Promise<ActionOutcome> {
  try {
    const { rows } = await pool.query<{ r: number }>(
      `SELECT xtbatch.rescheduleBatchItem($1, coalesce($2::timestamptz::timestamp, localtimestamp)) AS r`,
      [id, at],
    );
    if (rows[0]!.r !== 1) return { ok: false, message: `There is no job ${id}.` };
    return { ok: true, message: at ? `Job ${id} rescheduled.` : `Job ${id} is due again now.` };
  } catch (err) {
    // rescheduleBatchItem refuses a job that is running (P0001 with a sentence).
    if ((err as { code?: string }).code === 'P0001') return { ok: false, message: (err as Error).message };
    throw err;
  }
}

/** How many jobs of the filter a bulk action would touch: unfinished ones for cancel, finished ones for retry. */
export async function countBulk(pool: Pool, op: 'cancel' | 'retry', f: JobFilter, onlyUser: string | null): Promise<number> {
  const { where, params } = filterSql(f, onlyUser, 1);
  const finished = op === 'retry' ? 'b.batch_completed IS NOT NULL' : 'b.batch_completed IS NULL';
  const { rows } = await pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM (SELECT 1 FROM xtbatch.batch b WHERE ${where} AND ${finished} LIMIT ${BULK_LIMIT + 1}) s`,
    params,
  );
  return rows[0]!.n;
}

/**
 * Cancels (unfinished) or retries (finished) up to BULK_LIMIT jobs of the filter, newest first, each through the
 * xtbatch function a single job uses, in one transaction. Retry skips jobs that are not finished, as xTuple's
 * "Retry ASAP" does.
 */
export async function bulkAction(pool: Pool, op: 'cancel' | 'retry', f: JobFilter, onlyUser: string | null, by: string): Promise<number> {
  const { where, params } = filterSql(f, onlyUser, 1);
  return inTransaction(pool, async (q) => {
    if (op === 'cancel') {
      const { rows } = await q<{ id: number }>(
        `SELECT s.batch_id AS id FROM (SELECT b.batch_id FROM xtbatch.batch b WHERE ${where} AND b.batch_completed IS NULL
            ORDER BY b.batch_id DESC LIMIT ${BULK_LIMIT}) s
          WHERE xtbatch.cancelBatchItem(s.batch_id) = 1`,
        params,
      );
      const ids = rows.map((r) => r.id);
      if (ids.length) await q(ATTRIBUTE, [ids, by]);
      return ids.length;
    }
    const { rows } = await q<{ n: number }>(
      `SELECT count(*)::int AS n FROM (SELECT b.batch_id FROM xtbatch.batch b WHERE ${where} AND b.batch_completed IS NOT NULL
          ORDER BY b.batch_id DESC LIMIT ${BULK_LIMIT}) s
        WHERE xtbatch.rescheduleBatchItem(s.batch_id, localtimestamp) = 1`,
      params,
    );
    return rows[0]!.n;
  });
}
