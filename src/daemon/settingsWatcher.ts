import type { Pool } from '../db/pool';
import { readSettings, type Settings } from '../db/queries/settings';
import type { Logger } from '../log';
import type { MaintenanceService } from './service';
import { Ticker } from './ticker';

const SETTINGS_REFRESH_MS = 60_000;

/**
 * xTuple's settings as this daemon last read them (EnableBatchManager, the default sender, purge days, ...):
 * read every minute and at once on a NOTIFY. Says when the batch manager is turned off or on again.
 */
export class SettingsWatcher implements MaintenanceService {
  readonly name = 'settings';
  current: Settings = { enabled: false, defaultFrom: null, purgeDays: null, createContacts: false, exclusions: [] };
  private loaded = false;
  private quiet = false;
  private readonly ticker: Ticker;

  constructor(
    private readonly pool: Pool,
    private readonly log: Logger,
    /** EnableBatchManager changed (after the first read). */
    private readonly onEnabledChange: (enabled: boolean) => void,
  ) {
    this.ticker = new Ticker(this.name, SETTINGS_REFRESH_MS, () => this.runOnce(), log);
  }

  start(): void {
    this.ticker.start();
  }

  async stop(): Promise<void> {
    this.quiet = true;
    await this.ticker.stop();
  }

  /** Reads the settings; throws what the database threw. */
  async runOnce(): Promise<void> {
    const before = this.current;
    this.current = await readSettings(this.pool);
    if (!this.loaded || this.quiet) {
      this.loaded = true;
      return;
    }
    if (before.enabled !== this.current.enabled) {
      if (this.current.enabled) this.log.info('EnableBatchManager is on again: claiming jobs', { scope: 'daemon' });
      else this.logDisabled();
      this.onEnabledChange(this.current.enabled);
    }
  }

  logDisabled(): void {
    this.log.warn('xTuple Connect is disabled (EnableBatchManager is off): claiming no jobs until it is turned on', { scope: 'daemon' });
  }
}
