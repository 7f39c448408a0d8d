import type { TestDatabase } from '../support/db';
import { waitFor } from '../support/wait';

export interface Param {
  name: string;
  value: string | null;
  type?: string;
}

export interface JobOptions {
  timeoutSeconds?: number;
  maxAttempts?: number;
  email?: string;
}

/** Queues a job with its batchparam rows (in the order given), as the ERP's submitAction does. */
export async function submit(db: TestDatabase, action: string, params: Param[] = [], opts: JobOptions = {}): Promise<number> {
  // One statement: the job and its parameters appear together, so a daemon never claims it half written.
  const { rows } = await db.pool.query<{ id: number }>(
    `WITH b AS (
       INSERT INTO xtbatch.batch (batch_action, batch_timeout_seconds, batch_max_attempts, batch_email)
       VALUES ($1, $2, $3, $4) RETURNING batch_id),
     p AS (
       INSERT INTO xtbatch.batchparam (batchparam_batch_id, batchparam_order, batchparam_name, batchparam_value, batchparam_type)
       SELECT b.batch_id, p.ord, p.name, p.value, p.type
         FROM b, unnest($5::text[], $6::text[], $7::text[]) WITH ORDINALITY AS p(name, value, type, ord))
     SELECT batch_id AS id FROM b`,
    [action, opts.timeoutSeconds ?? null, opts.maxAttempts ?? null, opts.email ?? null,
      params.map((p) => p.name), params.map((p) => p.value), params.map((p) => p.type ?? 'QString')],
  );
  return rows[0]!.id;
}

export interface Finished {
  batch_id: number;
  state: string;
  batch_exitstatus: string | null;
  batch_last_error: string | null;
  batch_attempts: number;
  batch_result: any;
}

export async function jobRow(db: TestDatabase, id: number): Promise<Finished> {
  const { rows } = await db.pool.query<Finished>(
    `SELECT batch_id, state, batch_exitstatus, batch_last_error, batch_attempts, batch_result FROM xtbatch.job WHERE batch_id = $1`, [id]);
  return rows[0]!;
}

/** Waits until the job is done, failed or cancelled, and returns its row. */
export async function finished(db: TestDatabase, id: number, timeoutMs = 20_000): Promise<Finished> {
  return waitFor(`job ${id} to finish`, async () => {
    const r = await jobRow(db, id);
    return ['done', 'failed', 'cancelled'].includes(r.state) ? r : null;
  }, timeoutMs);
}
