import type { Pool } from '../db/pool';
import { purgeCompleted } from '../db/queries/batch';
import { readSettings } from '../db/queries/settings';
import type { Logger } from '../log';

/**
 * Deletes finished jobs older than BatchManagerPurgeDays (read at run time, so a change applies at once). Runs as
 * the "Purge" action of the built-in "purge" series, so with several daemons it still runs once per night.
 */
export async function purgeOnce(pool: Pool, log: Logger): Promise<number> {
  const { purgeDays } = await readSettings(pool);
  if (purgeDays === null) {
    log.debug('BatchManagerPurgeDays is not set: nothing purged', { scope: 'purger' });
    return 0;
  }
  const n = await purgeCompleted(pool, purgeDays);
  if (n > 0) log.info(`purged ${n} job(s) finished more than ${purgeDays} day(s) ago`, { scope: 'purger' });
  return n;
}
