import cron, { type ScheduledTask } from 'node-cron';
import type { Pool } from '../db/pool';
import { purgeCompleted } from '../db/queries/batch';
import { readSettings } from '../db/queries/settings';
import type { Logger } from '../log';

/** Deletes finished jobs older than BatchManagerPurgeDays (read at run time, so a change applies at once). */
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

/**
 * Daily by default (daemon.purgeSchedule, a cron expression in the machine's time zone). Several daemons may run
 * it at once: the delete is idempotent and works in small batches.
 */
export function schedulePurge(expression: string, pool: Pool, log: Logger): ScheduledTask {
  return cron.schedule(
    expression,
    async () => {
      try {
        await purgeOnce(pool, log);
      } catch (err) {
        log.warn(`purge failed: ${(err as Error).message}`, { scope: 'purger' });
      }
    },
    { name: 'xtconnect-purge', noOverlap: true, maxRandomDelay: 60_000 },
  );
}
