import type { Pool } from '../db/pool';
import { rescueExpired } from '../db/queries/batch';
import type { Logger } from '../log';

/**
 * Takes back jobs whose daemon stopped renewing their lease (killed, frozen, cut off from the database). One
 * pass; the daemon calls it on a Ticker and tests call it directly. Logs only when something changed.
 */
export async function rescueOnce(pool: Pool, defaultMaxAttempts: number, log: Logger): Promise<number> {
  let total = 0;
  for (;;) {
    const rows = await rescueExpired(pool, defaultMaxAttempts);
    for (const r of rows) {
      const what = r.failed ? 'failed (no attempts left)' : 'due again';
      log.warn(`job ${r.batch_id} (${r.batch_action}): its daemon stopped responding; ${what}`, { scope: 'rescuer', batchId: r.batch_id });
    }
    total += rows.length;
    if (rows.length < 1000) return total;
  }
}
