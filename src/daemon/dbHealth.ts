import { dbFault, errorMessage } from '../errors';
import type { Logger } from '../log';
import { reconnectDelayMs } from './backoff';

/**
 * The state of the daemon's own database statements (claims, leases, heartbeats, rescues), shared by the loop
 * and the maintenance services: how many failed in a row, and what to say about it. Every failure is classified
 * once (src/errors.ts): a deadlock or serialization failure is retried at once and is no outage; a timeout is
 * a slow server; only a lost connection or a server going down is "unreachable".
 */
export class DbHealth {
  /** Consecutive outage-like failures; 0 when the last statement succeeded. */
  failures = 0;
  /** Every failed statement, for /metrics. */
  errors = 0;

  constructor(
    private readonly log: Logger,
    private readonly pollIntervalMs: number,
  ) {}

  /** Records a failure; returns how long to wait before trying again (0: at once). */
  failed(err: unknown, doing: string): number {
    this.errors++;
    const fault = dbFault(err);
    if (fault === 'conflict') {
      // The server picked this statement to lose a lock conflict: nothing is wrong with the database.
      this.log.debug(`${doing}: ${errorMessage(err)}; retrying at once`, { scope: 'daemon' });
      return 0;
    }
    if (fault === null) {
      this.log.error(`${doing} failed: ${errorMessage(err)}`, { scope: 'daemon' });
      return this.pollIntervalMs;
    }
    if (this.failures === 0) {
      const what = fault === 'timeout' ? 'database too slow (a statement or lock wait timed out)' : 'database unreachable';
      this.log.warn(`${what} while ${doing} (${errorMessage(err)}); retrying with backoff, no job is lost`, { scope: 'daemon' });
    }
    return reconnectDelayMs(this.failures++);
  }

  recovered(): void {
    if (this.failures > 0) {
      this.log.info(`database reachable again after ${this.failures} failed attempt(s)`, { scope: 'daemon' });
      this.failures = 0;
    }
  }
}
