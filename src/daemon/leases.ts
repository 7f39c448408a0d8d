import { performance } from 'node:perf_hooks';
import type { Pool } from '../db/pool';
import { renewLeases } from '../db/queries/batch';
import type { Logger } from '../log';
import type { DbHealth } from './dbHealth';
import type { MaintenanceService } from './service';
import { Ticker } from './ticker';

/** Why a lease stopped being ours: taken back or cancelled (the server said so), or not renewed in time. */
export type LeaseLoss = 'lost' | 'expired';

interface Held {
  batchId: number;
  token: string;
  /** performance.now() after which the lease may be about to lapse on the server: the job must be stopped by then. */
  deadline: number;
  /** An outcome waits to be written: the work is done, nothing is left to stop; the lease is kept until written. */
  outcomeOnly: boolean;
  onLost: (why: LeaseLoss) => void;
}

export interface LeaseTiming {
  leaseMs: number;
  /** How often leases are renewed: a sixth of the lease (at least 250 ms), so about three renewals fit before a stop. */
  renewEveryMs: number;
  /**
   * The margin: a job is stopped this long before its lease could expire on the server, counted from the moment the
   * last successful renewal (or the claim) was SENT: a third of the lease. Renewals may fail or be slow for two
   * thirds of the lease without consequence, and the stop (cancelling an SQL statement, closing an SMTP session)
   * has a third of it to land.
   */
  guardMs: number;
  /** How often deadlines are checked: a tenth of the margin (50 ms to 1 s). */
  checkEveryMs: number;
}

export function leaseTiming(leaseSeconds: number): LeaseTiming {
  const leaseMs = leaseSeconds * 1000;
  const renewEveryMs = Math.max(250, Math.floor(leaseMs / 6));
  const guardMs = Math.floor(leaseMs / 3);
  return { leaseMs, renewEveryMs, guardMs, checkEveryMs: Math.max(50, Math.min(1000, Math.floor(guardMs / 10))) };
}

/**
 * The leases this daemon holds, and their fencing. One owner of that state:
 *  - renews them all every `renewEveryMs` (runOnce), by the server's clock (the server sets the expiry; this side
 *    only measures durations on its monotonic clock, never compares its wall clock with the server's);
 *  - tells a job's owner (onLost) when the server says the job is no longer ours (cancelled, taken back, claimed
 *    again: another fencing token), and when renewal has failed for so long that the lease could lapse within the
 *    margin: the job is then stopped BEFORE it can expire, so no other daemon can start it while it still runs;
 *  - answers `isHeld` for a last local check before an irreversible step.
 * Writes under the lease are fenced on the server too (the token, and for ERP actions the expiry, checked in the
 * same transaction): this side makes a lost lease stop the work early, the server makes it commit nothing.
 */
export class LeaseKeeper implements MaintenanceService {
  readonly name = 'lease';
  readonly timing: LeaseTiming;
  private readonly held = new Map<number, Held>();
  private readonly renewer: Ticker;
  private checkTimer: NodeJS.Timeout | null = null;
  private lastOk = performance.now();

  constructor(
    private readonly pool: Pool,
    private readonly owner: string,
    leaseSeconds: number,
    private readonly health: DbHealth,
    private readonly log: Logger,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.timing = leaseTiming(leaseSeconds);
    this.renewer = new Ticker('lease', this.timing.renewEveryMs, async () => void (await this.runOnce()), log);
  }

  get size(): number {
    return this.held.size;
  }

  /** A claimed job: its lease runs from `claimSentAt` (performance.now() when the claim was sent). */
  hold(batchId: number, token: string | undefined, claimSentAt: number, onLost: (why: LeaseLoss) => void): void {
    this.held.set(batchId, { batchId, token: token ?? '', deadline: claimSentAt + this.timing.leaseMs - this.timing.guardMs, outcomeOnly: false, onLost });
  }

  /**
   * The job ran (or will not run); its outcome waits for the completer. Nothing left to abort; keep the row ours
   * until written. With `token`, a claim whose lease was already given up (its deadline passed) is held again for
   * that: renewal extends a lapsed lease no one took back, and our own rescuer renews before it takes jobs back.
   */
  awaitingOutcome(batchId: number, token?: string): void {
    const h = this.held.get(batchId);
    if (h) {
      h.outcomeOnly = true;
      h.onLost = () => undefined;
    } else if (token !== undefined) {
      this.held.set(batchId, { batchId, token, deadline: Infinity, outcomeOnly: true, onLost: () => undefined });
    }
  }

  release(batchId: number): void {
    this.held.delete(batchId);
  }

  /** Whether, by this daemon's clock, the lease is still certainly running on the server (with the margin). */
  isHeld(batchId: number, token: string | undefined): boolean {
    const h = this.held.get(batchId);
    return !!h && h.token === (token ?? '') && !h.outcomeOnly && this.now() < h.deadline;
  }

  start(): void {
    this.renewer.start();
    this.armCheck();
  }

  async stop(): Promise<void> {
    if (this.checkTimer) clearTimeout(this.checkTimer);
    this.checkTimer = null;
    await this.renewer.stop();
  }

  /** Renews every lease now; false when the database could not be reached (the deadlines then run on). */
  async runOnce(conflicts = 0): Promise<boolean> {
    const asked = [...this.held.values()];
    if (asked.length === 0) return true;
    const sentAt = this.now();
    let renewal;
    try {
      renewal = await renewLeases(this.pool, this.owner, asked.map((h) => ({ batchId: h.batchId, token: h.token })), this.timing.leaseMs / 1000);
      this.health.recovered();
    } catch (err) {
      const wait = this.health.failed(err, 'renewing leases');
      // A deadlock or serialization failure: once more at once (renewal skips locked rows, so this is rare).
      if (wait === 0 && conflicts < 3) return this.runOnce(conflicts + 1);
      this.checkDeadlines();
      return false;
    }
    this.lastOk = sentAt;
    const took = this.now() - sentAt;
    if (took > this.timing.guardMs / 2) {
      this.log.warn(`renewing ${asked.length} lease(s) took ${Math.round(took)} ms (jobs are stopped when no renewal gets through for ${this.timing.leaseMs - this.timing.guardMs} ms)`, { scope: 'lease' });
    }
    for (const h of asked) {
      // Only the claims asked about: one made (or made again) while this renewal was in flight is not judged by it.
      if (this.held.get(h.batchId) !== h) continue;
      const token = renewal.renewed.get(h.batchId) ?? renewal.busy.get(h.batchId);
      if (token === undefined || token !== h.token) {
        this.held.delete(h.batchId);
        h.onLost('lost');
      } else if (renewal.renewed.has(h.batchId)) {
        h.deadline = sentAt + this.timing.leaseMs - this.timing.guardMs;
      }
    }
    this.checkDeadlines();
    return true;
  }

  /** Stops every job whose lease could lapse within the margin; returns how many. Called on a short timer. */
  checkDeadlines(): number {
    const now = this.now();
    let n = 0;
    for (const h of [...this.held.values()]) {
      if (h.outcomeOnly || now < h.deadline) continue;
      this.held.delete(h.batchId);
      n++;
      h.onLost('expired');
    }
    if (n > 0) {
      this.log.warn(`could not renew the leases of ${n} job(s) for ${Math.round((now - this.lastOk) / 1000)} s: stopping them before the leases can expire; ` +
        'they will run again once the leases have expired', { scope: 'lease' });
    }
    return n;
  }

  private armCheck(): void {
    this.checkTimer = setTimeout(() => {
      this.checkDeadlines();
      this.armCheck();
    }, this.timing.checkEveryMs);
    this.checkTimer.unref?.();
  }
}
