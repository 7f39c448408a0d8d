import type { Pool } from '../db/pool';
import { heartbeatDaemon, type DaemonInfo } from '../db/queries/daemons';
import type { Logger } from '../log';
import { VERSION } from '../version';
import type { DbHealth } from './dbHealth';
import type { MaintenanceService } from './service';
import { Ticker } from './ticker';

export interface HeartbeatDeps {
  pool: Pool;
  info: DaemonInfo;
  knownSchema: number;
  health: DbHealth;
  log: Logger;
  running: () => number;
  claiming: () => boolean;
  /** The schema is readable again after having been ahead: claim at once. */
  onSchemaBack: () => void;
  /** What the row says of the claim loop: ms since its last pass (null before the first), and LISTEN or polling. */
  loop?: () => { lastPollAgoMs: number | null; listenMode: string | null };
  /** After each beat (the listener re-checks NOTIFY delivery then). */
  afterBeat?: () => void;
}

/**
 * The daemon's row in xtbatch.daemon (for status and the console), and the schema-version check that comes back
 * with it: when a newer xtconnect migrated the database past this build, this daemon stops claiming (running jobs
 * finish and their outcomes are written) and says so, until it is upgraded and restarted.
 */
export class Heartbeat implements MaintenanceService {
  readonly name = 'registry';
  /** The database's schema version while it is newer than this build knows. */
  schemaAhead: number | null = null;
  private readonly ticker: Ticker;

  constructor(private readonly d: HeartbeatDeps, intervalMs: number) {
    this.ticker = new Ticker(this.name, intervalMs, () => this.runOnce(), d.log);
  }

  start(): void {
    this.ticker.start();
  }

  stop(): Promise<void> {
    return this.ticker.stop();
  }

  /** Registers (or refreshes) the row; throws what the database threw (start-up waits and retries). */
  async beat(): Promise<void> {
    const b = await heartbeatDaemon(this.d.pool, this.d.info, this.d.running(), this.d.claiming(), this.d.loop?.());
    // The row must say at once that this daemon stopped (or resumed) claiming: status reads it.
    if (this.checkSchemaVersion(b.schemaVersion)) await heartbeatDaemon(this.d.pool, this.d.info, this.d.running(), this.d.claiming(), this.d.loop?.());
  }

  async runOnce(): Promise<void> {
    try {
      await this.beat();
      this.d.health.recovered();
    } catch (err) {
      this.d.health.failed(err, 'heartbeat');
    }
    this.d.afterBeat?.();
  }

  /** True when the state changed. */
  private checkSchemaVersion(version: number): boolean {
    const ahead = version > this.d.knownSchema ? version : null;
    if (ahead === this.schemaAhead) return false;
    this.schemaAhead = ahead;
    if (ahead !== null) {
      this.d.log.error(
        `the database schema is now at version ${ahead}, newer than this xtconnect ${VERSION} knows (${this.d.knownSchema}): ` +
          `claiming no more jobs (running ones finish); upgrade xtconnect on ${this.d.info.host} and restart it`,
        { scope: 'daemon' },
      );
    } else {
      this.d.log.info(`the database schema is at a version this xtconnect knows again: claiming jobs`, { scope: 'daemon' });
      this.d.onSchemaBack();
    }
    return true;
  }
}
