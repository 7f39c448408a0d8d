import type { Pool } from '../db/pool';
import { SETTING_NAMES } from '../db/queries/settings';
import type { Logger } from '../log';

/** BatchManagerPurgeDays as stored: not set, 0 (never purge), a number of days, or something else. */
export type PurgeSetting =
  | { kind: 'unset' }
  | { kind: 'never' }
  | { kind: 'days'; days: number }
  | { kind: 'invalid'; raw: string };

/**
 * Reads BatchManagerPurgeDays itself (not through readSettings, which folds 0 and "not set" together): the two
 * mean the same to the purge, nothing is deleted, but a person asking why must be told which it is.
 */
export async function readPurgeSetting(pool: Pool): Promise<PurgeSetting> {
  const { rows } = await pool.query<{ v: string | null }>('SELECT xtbatch.getsetting($1) AS v', [SETTING_NAMES.purgeDays]);
  const raw = rows[0]?.v?.trim() ?? '';
  if (raw === '') return { kind: 'unset' };
  if (!/^\d+$/.test(raw)) return { kind: 'invalid', raw };
  const days = Number(raw);
  return days === 0 ? { kind: 'never' } : { kind: 'days', days };
}

/** Why the setting purges nothing, as a sentence; null when it purges. */
export function purgeSettingSays(s: PurgeSetting): string | null {
  switch (s.kind) {
    case 'unset': return 'BatchManagerPurgeDays is not set';
    case 'never': return 'BatchManagerPurgeDays is 0 (never purge)';
    case 'invalid': return `BatchManagerPurgeDays is ${JSON.stringify(s.raw)}, not a whole number of days`;
    default: return null;
  }
}

/**
 * Deletes finished jobs (done, failed, cancelled) that finished more than `seconds` ago, with their parameters,
 * in batches. The first job of an xTuple recurring series stays while later ones point at it.
 */
export async function purgeFinished(pool: Pool, seconds: number, batchSize = 5000): Promise<number> {
  let total = 0;
  for (;;) {
    const { rowCount } = await pool.query(
      `WITH old AS (
         SELECT b.batch_id FROM xtbatch.batch b
          WHERE b.batch_completed < localtimestamp - make_interval(secs => $1)
            AND NOT EXISTS (SELECT 1 FROM xtbatch.batch c
                             WHERE c.batch_recurring_batch_id = b.batch_id AND c.batch_id <> b.batch_id)
          LIMIT $2
       ), params AS (
         -- Explicit: an xTuple-created batchparam may lack ON DELETE CASCADE.
         DELETE FROM xtbatch.batchparam WHERE batchparam_batch_id IN (SELECT batch_id FROM old)
       )
       DELETE FROM xtbatch.batch WHERE batch_id IN (SELECT batch_id FROM old)`,
      [seconds, batchSize],
    );
    total += rowCount ?? 0;
    if ((rowCount ?? 0) < batchSize) return total;
  }
}

/**
 * Deletes finished jobs older than BatchManagerPurgeDays (read at run time, so a change applies at once); 0 or
 * not set deletes nothing. Runs as the "Purge" action of the built-in "purge" series, so with several daemons it
 * still runs once per night.
 */
export async function purgeOnce(pool: Pool, log: Logger): Promise<number> {
  const setting = await readPurgeSetting(pool);
  if (setting.kind !== 'days') {
    const why = `${purgeSettingSays(setting)}: nothing purged`;
    if (setting.kind === 'invalid') log.warn(why, { scope: 'purger' });
    else log.debug(why, { scope: 'purger' });
    return 0;
  }
  const n = await purgeFinished(pool, setting.days * 86_400);
  if (n > 0) log.info(`purged ${n} job(s) finished more than ${setting.days} day(s) ago`, { scope: 'purger' });
  return n;
}
