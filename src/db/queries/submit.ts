import type { Pool } from '../pool';

export interface EmailSubmission {
  from: string | null;
  to: string;
  cc: string | null;
  subject: string;
  body: string;
  filename: string | null;
  scheduled: string | null;
  html: boolean;
  replyTo: string | null;
  bcc: string | null;
}

export interface ParamInput {
  name: string;
  value: string;
  type: string;
}

/** Through xTuple's own function, so the CLI takes exactly the path that ERP code takes. */
export async function submitEmail(pool: Pool, e: EmailSubmission): Promise<number> {
  const { rows } = await pool.query<{ id: number }>(
    `SELECT xtbatch.submitEmailToBatch($1, $2, $3, $4, $5, $6, $7::timestamptz, $8, $9, $10) AS id`,
    [e.from, e.to, e.cc, e.subject, e.body, e.filename, e.scheduled, e.html, e.replyTo, e.bcc],
  );
  return rows[0]!.id;
}

async function insertParams(client: { query: Pool['query'] }, batchId: number, params: ParamInput[]): Promise<void> {
  if (params.length === 0) return;
  await client.query(
    `INSERT INTO xtbatch.batchparam (batchparam_batch_id, batchparam_order, batchparam_name, batchparam_value, batchparam_type)
     SELECT $1, o, n, v, t FROM unnest($2::text[], $3::text[], $4::text[]) WITH ORDINALITY AS p(n, v, t, o)`,
    [batchId, params.map((p) => p.name), params.map((p) => p.value), params.map((p) => p.type)],
  );
}

/**
 * The job and its parameters in one transaction: the daemon can claim the row the moment it commits, and must
 * not find it without its parameters. So it has no settle time to wait (sql/0011): the parameters' trigger
 * clears it, and so does the UPDATE here for a job without parameters.
 */
async function submitWithParams(pool: Pool, sql: string, values: unknown[], params: ParamInput[]): Promise<number> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const { rows } = await client.query<{ id: number }>(sql, values);
    const id = rows[0]!.id;
    await insertParams(client, id, params);
    await client.query(`UPDATE xtbatch.batch SET batch_settle_until = NULL WHERE batch_id = $1 AND batch_settle_until IS NOT NULL`, [id]);
    await client.query('COMMIT');
    return id;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

export function submitAction(pool: Pool, action: string, email: string | null, scheduled: string | null, params: ParamInput[]): Promise<number> {
  return submitWithParams(pool, `SELECT xtbatch.submitActionToBatch($1, $2, $3::timestamptz) AS id`, [action, email, scheduled], params);
}

export function submitReport(
  pool: Pool,
  r: { report: string; from: string | null; to: string | null; cc: string | null; subject: string | null; body: string | null;
    filename: string | null; scheduled: string | null; html: boolean },
  params: ParamInput[],
): Promise<number> {
  return submitWithParams(
    pool,
    `SELECT xtbatch.submitReportToBatch($1, $2, $3, $4, $5, $6, $7, $8::timestamptz, $9) AS id`,
    [r.report, r.from, r.to, r.cc, r.subject, r.body, r.filename, r.scheduled, r.html],
    params,
  );
}

/** xTuple's Retry: due again now with a fresh attempt count. */
export async function retryJob(pool: Pool, id: number): Promise<number> {
  const { rows } = await pool.query<{ r: number }>(`SELECT xtbatch.rescheduleBatchItem($1, localtimestamp) AS r`, [id]);
  return rows[0]!.r;
}

export async function cancelJob(pool: Pool, id: number): Promise<number> {
  const { rows } = await pool.query<{ r: number }>(`SELECT xtbatch.cancelBatchItem($1) AS r`, [id]);
  return rows[0]!.r;
}
