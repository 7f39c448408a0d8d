import pg from 'pg';
import { clientConfig } from '../db/pool';
import { errorMessage } from '../errors';
import type { Logger } from '../log';
import { reconnectDelayMs } from './backoff';

export const JOBS_CHANNEL = 'xtconnect_jobs';
export const SETTINGS_CHANNEL = 'xtconnect_settings';
export const SCHEDULES_CHANNEL = 'xtconnect_schedules';

/**
 * LISTEN on its own connection, outside the pool (a pooled client would be handed to queries, and PgBouncer in
 * transaction mode cannot LISTEN at all: give it a direct `listenUrl`). Notifications are only hints; when the
 * connection drops, polling carries on while this reconnects with capped, jittered backoff.
 */
export class Listener {
  private client: pg.Client | null = null;
  private timer: NodeJS.Timeout | null = null;
  private failures = 0;
  private stopped = false;
  private wasConnected = false;

  constructor(
    private readonly url: string | null,
    private readonly log: Logger,
    private readonly onNotify: (channel: string) => void,
    private readonly onReconnect: () => void,
  ) {}

  /** Resolves once the first connection attempt has succeeded or failed; later attempts go on in the background. */
  start(): Promise<void> {
    return this.connect();
  }

  get connected(): boolean {
    return this.client !== null;
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    const client = new pg.Client(clientConfig({ url: this.url, applicationName: 'xtconnect listener' }));
    client.on('notification', (n) => this.onNotify(n.channel));
    client.on('error', (err) => this.lost(client, err));
    client.on('end', () => this.lost(client, new Error('connection ended')));
    try {
      await client.connect();
      await client.query(`LISTEN ${JOBS_CHANNEL}; LISTEN ${SETTINGS_CHANNEL}; LISTEN ${SCHEDULES_CHANNEL}`);
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
    const c = this.client;
    this.client = null;
    if (c) {
      c.removeAllListeners('end');
      await c.end().catch(() => undefined);
    }
  }
}
