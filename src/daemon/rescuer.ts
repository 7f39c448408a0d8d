import type { Pool } from '../db/pool';
import { rescueExpired } from '../db/queries/batch';
import { forgetDeadDaemons } from '../db/queries/daemons';
import type { Logger } from '../log';
import type { DbHealth } from './dbHealth';
import type { MaintenanceService } from './service';
import { Ticker } from './ticker';

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

export interface RescuerDeps {
  pool: Pool;
  defaultMaxAttempts: number;
  log: Logger;
  health: DbHealth;
  /** Renews this daemon's own leases; false when the database could not be reached. */
  renewOwn: () => Promise<boolean>;
  /** Jobs taken back (for the stats). */
  onRescued: (n: number) => void;
}

/** The rescue as a maintenance service: every other maintenance interval, and runOnce for tests. */
export class Rescuer implements MaintenanceService {
  readonly name = 'rescuer';
  private readonly ticker: Ticker;
  private passes = 0;

  constructor(private readonly d: RescuerDeps, intervalMs: number) {
    this.ticker = new Ticker(this.name, intervalMs, () => this.runOnce(), d.log);
  }

  start(): void {
    this.ticker.start();
  }

  stop(): Promise<void> {
    return this.ticker.stop();
  }

  async runOnce(): Promise<void> {
    // Our own leases first: the outcomes we still hold after an outage longer than the lease have expired
    // leases too, and our own rescuer must not take them back.
    if (!(await this.d.renewOwn())) return;
    try {
      this.d.onRescued(await rescueOnce(this.d.pool, this.d.defaultMaxAttempts, this.d.log));
      // Rows of daemons killed without deregistering stay a day for status; dropping them is rare work.
      if (this.passes++ % 100 === 0) await forgetDeadDaemons(this.d.pool);
      this.d.health.recovered();
    } catch (err) {
      this.d.health.failed(err, 'taking back jobs of stopped daemons');
    }
  }
}
