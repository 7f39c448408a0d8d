import type { Config } from '../config';
import type { Pool } from '../db/pool';
import { removeConfigSchedulesExcept, upsertConfigSchedule } from '../db/queries/schedules';
import type { Logger } from '../log';
import { Alarms } from './alarms';
import type { DbHealth } from './dbHealth';
import { scheduleOnce } from './scheduler';
import type { MaintenanceService } from './service';
import { Ticker } from './ticker';

/** The longest the scheduler sleeps with nothing due; a series added or changed wakes it at once (NOTIFY). */
const SCHEDULER_IDLE_MS = 300_000;

/**
 * Repeating series: the config file's series (and the built-in purge) become rows every daemon shares; due
 * occurrences are inserted a little ahead (twice the interval) and the claim loop is woken at each instant.
 */
export class SchedulerService implements MaintenanceService {
  readonly name = 'scheduler';
  private readonly ticker: Ticker;
  /** Claims at the instants of occurrences this daemon inserted ahead. */
  private readonly alarms: Alarms;
  private readonly intervalMs: number;

  constructor(
    private readonly cfg: Config,
    private readonly pool: Pool,
    private readonly health: DbHealth,
    private readonly log: Logger,
    onDue: () => void,
  ) {
    this.intervalMs = cfg.daemon.schedulerIntervalSeconds * 1000;
    this.alarms = new Alarms(onDue);
    this.ticker = new Ticker(this.name, this.intervalMs, () => this.pass(), log);
  }

  /** The config file's series become rows (at start). */
  async syncConfigSchedules(): Promise<void> {
    for (const def of this.cfg.schedules) {
      const what = await upsertConfigSchedule(this.pool, def);
      // The built-in purge is there with no config file at all: say where it comes from.
      const from = def.name === 'purge' && def.action === 'Purge' && !this.cfg.schedules.slice(0, -1).some((d) => d.name === 'purge')
        ? 'as the built-in nightly purge (daemon.purgeSchedule)' : 'from the config file';
      if (what !== 'unchanged') this.log.info(`series "${def.name}" (${def.action}) ${what} ${from}`, { scope: 'scheduler' });
    }
    const gone = await removeConfigSchedulesExcept(this.pool, this.cfg.schedules.map((d) => d.name!));
    for (const name of gone) this.log.info(`series "${name}" is no longer in the config file: removed`, { scope: 'scheduler' });
  }

  start(): void {
    this.ticker.start();
  }

  async stop(): Promise<void> {
    this.alarms.stop();
    await this.ticker.stop();
  }

  /** A pass now (or the one in progress), then on at its own pace. */
  runOnce(): Promise<void> {
    return this.ticker.runNow();
  }

  /**
   * Inserts due occurrences ahead, then sleeps until the earliest series needs it again (at most 5 minutes; a
   * changed series wakes it by NOTIFY), so an idle daemon with only a nightly purge does not ask every interval.
   */
  private async pass(): Promise<number> {
    const horizonMs = 2 * this.intervalMs;
    try {
      const graceMs = Math.max(60_000, 2 * this.intervalMs, 3 * this.cfg.daemon.maintenanceIntervalSeconds * 1000);
      const r = await scheduleOnce(this.pool, this.log, { horizonMs, graceMs });
      this.health.recovered();
      for (const at of r.upcoming) this.alarms.at(at);
      if (!r.earliestNext) return SCHEDULER_IDLE_MS;
      return Math.min(SCHEDULER_IDLE_MS, Math.max(this.intervalMs, r.earliestNext.getTime() - Date.now() - horizonMs / 2));
    } catch (err) {
      this.health.failed(err, 'scheduling repeating jobs');
      return this.intervalMs;
    }
  }
}
