import crypto from 'node:crypto';
import pg from 'pg';
import { clientConfig } from '../db/pool';
import { errorMessage } from '../errors';
import { redactSecrets, type Logger } from '../log';
import { reconnectDelayMs } from './backoff';

export const JOBS_CHANNEL = 'xtconnect_jobs';
export const SETTINGS_CHANNEL = 'xtconnect_settings';
export const SCHEDULES_CHANNEL = 'xtconnect_schedules';
/** Our own test notification: sent through the normal pool, it must come back on the LISTEN connection. */
export const PROBE_CHANNEL = 'xtconnect_probe';

/**
 * How jobs start: 'notify' once a probe came back on the LISTEN connection; 'polling' when it did not (PgBouncer in
 * transaction mode, a listenUrl pointing at another database) or the connection is down; 'unknown' before the
 * first probe has answered.
 */
export type ListenMode = 'unknown' | 'notify' | 'polling';

export interface ListenProbe {
  /** Sends NOTIFY through the pool the daemon's jobs and ERP sessions use, the path real notifications take. */
  send(channel: string, payload: string): Promise<void>;
  /** How long to wait for the probe to come back before concluding LISTEN receives nothing. */
  timeoutMs: number;
  /** The poll interval, for the message that says jobs start by polling. */
  pollIntervalMs: number;
}

/**
 * LISTEN on its own connection, outside the pool (a pooled client would be handed to queries, and PgBouncer in
 * transaction mode cannot LISTEN at all: give it a direct `listenUrl`). Notifications are only hints; when the
 * connection drops, polling carries on while this reconnects with capped, jittered backoff.
 *
 * A LISTEN that succeeds is not proof that notifications arrive: through PgBouncer in transaction mode the LISTEN
 * lands on a server connection that is handed to someone else. So after each (re)connect a probe NOTIFY is sent
 * through the normal pool and awaited; the outcome is logged whenever the mode changes.
 */
export class Listener {
  private client: pg.Client | null = null;
  private timer: NodeJS.Timeout | null = null;
  private failures = 0;
  private stopped = false;
  private wasConnected = false;
  private currentMode: ListenMode = 'unknown';
  private probeWaiter: { token: string; resolve: () => void } | null = null;
  private probing: Promise<void> | null = null;

  constructor(
    private readonly url: string | null,
    private readonly log: Logger,
    private readonly onNotify: (channel: string) => void,
    private readonly onReconnect: () => void,
    private readonly probe: ListenProbe | null = null,
  ) {}

  /** Resolves once the first connection attempt has succeeded or failed; later attempts go on in the background. */
  start(): Promise<void> {
    return this.connect();
  }

  get connected(): boolean {
    return this.client !== null;
  }

  get mode(): ListenMode {
    return this.currentMode;
  }

  /** The connection as it may appear in logs. */
  private get where(): string {
    return this.url ? redactSecrets(this.url) : 'the PG* environment database';
  }

  /**
   * Sends a probe NOTIFY and waits for it on the LISTEN connection; sets the mode and logs when it changes. The
   * daemon calls it again from its heartbeat while the mode is not 'notify', so a fixed setup is noticed.
   */
  checkDelivery(): Promise<void> {
    if (!this.probe || !this.client || this.stopped) return Promise.resolve();
    this.probing ??= this.runProbe(this.probe).finally(() => {
      this.probing = null;
    });
    return this.probing;
  }

  private async runProbe(probe: ListenProbe): Promise<void> {
    const token = crypto.randomBytes(6).toString('hex');
    let timer: NodeJS.Timeout | undefined;
    const arrived = new Promise<boolean>((resolve) => {
      this.probeWaiter = { token, resolve: () => resolve(true) };
      timer = setTimeout(() => resolve(false), probe.timeoutMs);
    });
    try {
      await probe.send(PROBE_CHANNEL, token);
    } catch (err) {
      // The pool is down: nothing can be concluded about LISTEN; the next heartbeat tries again.
      clearTimeout(timer);
      this.probeWaiter = null;
      this.log.debug(`could not send the LISTEN probe: ${errorMessage(err)}`, { scope: 'listener' });
      return;
    }
    const ok = await arrived;
    clearTimeout(timer);
    this.probeWaiter = null;
    if (this.stopped || !this.client) return;
    this.setMode(ok ? 'notify' : 'polling', probe);
  }

  private setMode(mode: ListenMode, probe: ListenProbe): void {
    if (mode === this.currentMode) return;
    this.currentMode = mode;
    if (mode === 'notify') {
      this.log.info(`LISTEN on ${this.where}: jobs start on NOTIFY`, { scope: 'listener' });
    } else if (mode === 'polling') {
      this.log.warn(
        `LISTEN on ${this.where} receives no notifications (PgBouncer in transaction mode?): polling every ` +
          `${probe.pollIntervalMs} ms; set database.listenUrl to a direct connection`,
        { scope: 'listener' },
      );
    }
  }

  private onNotification(n: pg.Notification): void {
    if (n.channel === PROBE_CHANNEL) {
      if (this.probeWaiter && n.payload === this.probeWaiter.token) this.probeWaiter.resolve();
      return;
    }
    this.onNotify(n.channel);
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    const client = new pg.Client(clientConfig({ url: this.url, applicationName: 'xtconnect listener' }));
    client.on('notification', (n) => this.onNotification(n));
    client.on('error', (err) => this.lost(client, err));
    client.on('end', () => this.lost(client, new Error('connection ended')));
    try {
      await client.connect();
      await client.query(`LISTEN ${JOBS_CHANNEL}; LISTEN ${SETTINGS_CHANNEL}; LISTEN ${SCHEDULES_CHANNEL}; LISTEN ${PROBE_CHANNEL}`);
      if (this.stopped) {
        await client.end().catch(() => undefined);
        return;
      }
      this.client = client;
      if (this.failures > 0 || this.wasConnected) this.log.info('LISTEN connection restored', { scope: 'listener' });
      this.failures = 0;
      this.wasConnected = true;
      // Anything that became due while we were not listening is found by the poll this triggers.
      this.onReconnect();
      // In the background: start() must not wait the probe's timeout when notifications do not arrive.
      void this.checkDelivery();
    } catch (err) {
      client.removeAllListeners('end');
      client.end().catch(() => undefined);
      this.retry(err);
    }
  }

  private lost(client: pg.Client, err: unknown): void {
    if (this.client !== client) return;
    this.client = null;
    client.removeAllListeners('end');
    client.end().catch(() => undefined);
    if (!this.stopped) this.retry(err);
  }

  private retry(err: unknown): void {
    if (this.stopped || this.timer) return;
    // Down: jobs start by polling; a probe after the reconnect tells again (and logs) whether NOTIFY arrives.
    this.currentMode = 'unknown';
    const delay = reconnectDelayMs(this.failures++);
    const say = this.failures === 1 ? 'warn' : 'debug';
    this.log[say](`LISTEN connection unavailable (${errorMessage(err)}); polling only, reconnecting in ${delay} ms`, { scope: 'listener' });
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.connect();
    }, delay);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.probeWaiter?.resolve();
    const c = this.client;
    this.client = null;
    if (c) {
      c.removeAllListeners('end');
      await c.end().catch(() => undefined);
    }
    await this.probing;
  }
}
