import type { Config } from '../config';
import { reconnectDelayMs } from '../daemon/backoff';
import { clientConfig } from '../db/pool';
import type { Logger } from '../log';

/**
 * The keep-alive timeout systemd set for this process (WatchdogSec=), as sd_watchdog_enabled(3) reads it:
 * WATCHDOG_USEC, honoured only when WATCHDOG_PID is unset or names this process (a child that inherited the
 * variables must not feed its parent's watchdog). Null when there is no watchdog.
 */
export function watchdogTimeoutMs(env: NodeJS.ProcessEnv, pid: number = process.pid): number | null {
  const usec = env.WATCHDOG_USEC;
  if (!usec || !/^\d+$/.test(usec) || Number(usec) <= 0) return null;
  const owner = env.WATCHDOG_PID;
  if (owner !== undefined && owner !== '' && Number(owner) !== pid) return null;
  return Number(usec) / 1000;
}

/** With database.statementTimeoutMs: 0 a statement has no limit; the watchdog still needs one. */
const UNLIMITED_STATEMENT_MS = 300_000;
/** Timers firing late on a busy event loop, a slow garbage collection. */
const SLACK_MS = 10_000;

/**
 * How long Daemon.lastPollAt may stand still before the claim loop counts as hung. A healthy loop finishes a
 * pass at least every poll interval (+10 % jitter). While the database is down, a pass ends in a connection
 * error and the next one waits the reconnect backoff (capped, src/daemon/backoff.ts); a pass itself may wait for
 * a connection (pg's connect timeout), for a pool client held by another statement, then for its own claim
 * statement, both bounded by statement_timeout. An outage therefore never stops the feeding: only a pass that
 * never ends, or an event loop that never gets back to the timer, does.
 */
export function loopStallLimitMs(cfg: Pick<Config, 'daemon' | 'database'>): number {
  const poll = Math.round(cfg.daemon.pollIntervalMs * 1.1);
  const backoff = reconnectDelayMs(Number.MAX_SAFE_INTEGER, () => 1);
  const connect = clientConfig({ url: null, applicationName: '' }).connectionTimeoutMillis ?? 0;
  const statement = cfg.database.statementTimeoutMs > 0 ? cfg.database.statementTimeoutMs : UNLIMITED_STATEMENT_MS;
  return poll + backoff + connect + 2 * statement + SLACK_MS;
}

export interface WatchdogFeederOptions {
  /** WATCHDOG_USEC in ms: systemd restarts the service when no ping came for this long. */
  timeoutMs: number;
  stallLimitMs: number;
  /** Daemon.lastPollAt (epoch ms; 0 before the first pass). */
  lastPollAt: () => number;
  ping: (status: string) => unknown;
  status: () => string;
  log: Logger;
  now?: () => number;
}

/**
 * Feeds the systemd watchdog from the claim loop: each tick pings only while the loop's last pass is recent.
 * A loop stuck on a promise that never settles stops the pings, and systemd restarts the service after
 * WatchdogSec=; the pings run on a timer, so a blocked event loop stops them too.
 */
export class WatchdogFeeder {
  private readonly now: () => number;
  private readonly since: number;
  private timer: NodeJS.Timeout | null = null;
  private stalled = false;

  constructor(private readonly o: WatchdogFeederOptions) {
    this.now = o.now ?? Date.now;
    this.since = this.now();
  }

  /** Pings three times per timeout (sd_watchdog_enabled(3) asks for at least two), leaving room for a slow send. */
  get intervalMs(): number {
    return Math.max(1, Math.floor(this.o.timeoutMs / 3));
  }

  start(): void {
    if (this.timer) return;
    this.tick();
    this.timer = setInterval(() => this.tick(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Pings when the loop is alive; returns whether it did. */
  tick(): boolean {
    // Before the first pass ends, the feeder's own start stands in for it.
    const idleMs = this.now() - Math.max(this.o.lastPollAt(), this.since);
    if (idleMs > this.o.stallLimitMs) {
      if (!this.stalled) {
        this.stalled = true;
        this.o.log.error(`the claim loop has not finished a pass for ${Math.round(idleMs / 1000)} s (limit ` +
          `${Math.round(this.o.stallLimitMs / 1000)} s): no longer feeding the systemd watchdog, which will restart xtconnect`, { scope: 'systemd' });
      }
      return false;
    }
    if (this.stalled) {
      this.stalled = false;
      this.o.log.warn('the claim loop is passing again: feeding the systemd watchdog again', { scope: 'systemd' });
    }
    void this.o.ping(this.o.status());
    return true;
  }
}
