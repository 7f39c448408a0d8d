import type { TestDatabase } from '../support/db';

export interface JobRow {
  batch_id: number;
  batch_started: string | null;
  batch_completed: string | null;
  batch_exitstatus: string | null;
  batch_attempts: number;
  batch_locked_by: string | null;
  batch_lease_expires: Date | null;
  batch_last_error: string | null;
}

export async function jobRow(db: TestDatabase, id: number): Promise<JobRow> {
  const { rows } = await db.pool.query<JobRow>(
    `SELECT batch_id, batch_started, batch_completed, batch_exitstatus, batch_attempts, batch_locked_by,
            batch_lease_expires, batch_last_error
       FROM xtbatch.batch WHERE batch_id = $1`,
    [id],
  );
  return rows[0]!;
}

/** Through xTuple's function, as the ERP queues mail. */
export async function submitEmailAsErp(db: TestDatabase, subject: string): Promise<number> {
  const { rows } = await db.pool.query<{ id: number }>(
    `SELECT xtbatch.submitEmailToBatch('f@x.y', 'to@example.com', NULL, $1, 'body', NULL, NULL::timestamp, false, NULL, NULL) AS id`,
    [subject],
  );
  return rows[0]!.id;
}
