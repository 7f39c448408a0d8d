import type { Config } from '../../src/config';
import { downloadHandler, uploadHandler } from '../../src/handlers/transfer';
import { parseEndpoints } from '../../src/config';
import { testConfig } from '../support/config';
import { startDaemon, type RunningDaemon } from '../support/daemon';
import type { TestDatabase } from '../support/db';
import { waitFor } from '../support/wait';

export interface TransferRow {
  batch_id: number;
  batch_completed: string | null;
  batch_exitstatus: string | null;
  batch_attempts: number;
  batch_last_error: string | null;
  batch_result: {
    endpoint: string;
    protocol: string;
    server: string;
    inbox?: string;
    files: Array<{ name: string; bytes: number; remoteName?: string; archivedAs?: string; local?: string }>;
    skipped?: string[];
  } | null;
}

export interface JobFields {
  batch_parameter?: string;
  batch_filename?: string;
  batch_timeout_seconds?: number;
  batch_max_attempts?: number;
}

/**
 * Queues a FileUpload or FileDownload job with its batchparam rows in one transaction, so that no daemon can
 * claim the job before its parameters are there.
 */
export async function submit(db: TestDatabase, action: 'FileUpload' | 'FileDownload', params: Record<string, string>, fields: JobFields = {}): Promise<number> {
  const c = await db.pool.connect();
  try {
    await c.query('BEGIN');
    const cols = ['batch_action', ...Object.keys(fields)];
    const vals = [action, ...Object.values(fields)];
    const { rows } = await c.query<{ batch_id: number }>(
      `INSERT INTO xtbatch.batch (${cols.join(', ')}) VALUES (${cols.map((_, i) => `$${i + 1}`).join(', ')}) RETURNING batch_id`, vals);
    const id = rows[0]!.batch_id;
    let order = 1;
    for (const [name, value] of Object.entries(params)) {
      await c.query(
        `INSERT INTO xtbatch.batchparam (batchparam_batch_id, batchparam_order, batchparam_name, batchparam_value, batchparam_type)
         VALUES ($1, $2, $3, $4, 'QString')`, [id, order++, name, value]);
    }
    await c.query('COMMIT');
    return id;
  } catch (err) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    c.release();
  }
}

export async function row(db: TestDatabase, id: number): Promise<TransferRow> {
  const { rows } = await db.pool.query<TransferRow>(
    `SELECT batch_id, batch_completed, batch_exitstatus, batch_attempts, batch_last_error, batch_result
       FROM xtbatch.batch WHERE batch_id = $1`, [id]);
  if (!rows[0]) throw new Error(`job ${id} does not exist`);
  return rows[0];
}

/** Waits until the job has finished (done or failed) and returns its row. */
export async function finished(db: TestDatabase, id: number, timeoutMs = 20_000): Promise<TransferRow> {
  return waitFor(`job ${id} to finish`, async () => {
    const r = await row(db, id);
    return r.batch_completed !== null ? r : null;
  }, timeoutMs);
}

/** A test config with these endpoints, checked by parseEndpoints as the config file's would be. */
export function transferConfig(url: string, endpoints: unknown[], env: NodeJS.ProcessEnv = {}): Config {
  return { ...testConfig(url), endpoints: parseEndpoints(endpoints, 'test config', env) } as Config;
}

/** An in-process daemon with the two transfer actions registered as the lead will register them. */
export function startTransferDaemon(cfg: Config): Promise<RunningDaemon> {
  return startDaemon(cfg, { FileUpload: uploadHandler, FileDownload: downloadHandler });
}
