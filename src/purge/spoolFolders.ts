import fs from 'node:fs/promises';
import path from 'node:path';
import type { Pool } from '../db/pool';
import { errorMessage } from '../errors';
import type { Logger } from '../log';

const JOB_FOLDER = /^[1-9]\d{0,9}$/;

/**
 * Report jobs leave their output in spoolDir/<batch_id>/ (a retry or a re-send finds it there). Once the purge
 * has deleted a job's row, nothing can ask for its files again, so its folder goes too; otherwise the spool
 * grows by one folder per report for as long as the daemon runs. Only folders named by a job number are
 * touched, never symbolic links, and only on the machine that runs the purge (each daemon spools locally).
 */
export async function sweepSpool(pool: Pool, spoolDir: string, log: Logger): Promise<number> {
  let entries: import('node:fs').Dirent[];
  try {
    entries = await fs.readdir(spoolDir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw err;
  }
  const ids = entries.filter((e) => e.isDirectory() && JOB_FOLDER.test(e.name)).map((e) => Number(e.name));
  if (ids.length === 0) return 0;
  const { rows } = await pool.query<{ id: number }>(
    `SELECT id FROM unnest($1::bigint[]) AS id
      WHERE NOT EXISTS (SELECT 1 FROM xtbatch.batch WHERE batch_id = id)`,
    [ids],
  );
  let removed = 0;
  for (const { id } of rows) {
    try {
      await fs.rm(path.join(spoolDir, String(id)), { recursive: true, force: true });
      removed++;
    } catch (err) {
      log.warn(`could not remove spool folder of purged job ${id}: ${errorMessage(err)}`, { scope: 'purger' });
    }
  }
  if (removed > 0) log.info(`removed ${removed} spool folder(s) of purged jobs from ${spoolDir}`, { scope: 'purger' });
  return removed;
}
