import pg from 'pg';
import { clientConfig } from '../db/pool';
import { reconnectDelayMs } from '../daemon/backoff';
import { errorMessage } from '../errors';
import type { Logger } from '../log';

/** Channel of sql/0021_console_notify.sql: payload is comma-separated batch IDs, or '*' for "many". */
export const CONSOLE_CHANNEL = 'xtconnect_console';

export type JobsChanged = (ids: number[] | 'all') => void;

/**
 * One LISTEN connection for the whole console, whatever the number of browsers: notifications are gathered for
 * 5 ms (a claim of 500 jobs sends 500 notifications in one burst) and handed on as one list. Reconnects with backoff; after a
 * reconnect it reports 'all', since changes in between were missed.
 */
export class JobFeed {
  private client: pg.Client | null = null;
  private stopped = false;
  private failures = 0;
  private timer: NodeJS.Timeout | null = null;
  private pending = new Set<number>();
  private pendingAll = false;
  private flushTimer: NodeJS.Timeout | null = null;
  private readonly subscribers = new Set<JobsChanged>();

  constructor(private readonly url: string | null, private readonly log: Logger, private readonly gatherMs = 5) {}

  subscribe(fn: JobsChanged): () => void {
    this.subscribers.add(fn);
    return () => this.subscribers.delete(fn);
  }

  get connected(): boolean {
    return this.client !== null;
  }

  start(): Promise<void> {
    return this.connect();
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    const client = new pg.Client(clientConfig({ url: this.url, applicationName: 'xtconnect console' }));
    client.on('notification', (n) => this.onNotification(n.payload ?? '*'));
    client.on('error', (err) => this.lost(client, err));
    client.on('end', () => this.lost(client, new Error('connection ended')));
    try {
      await client.connect();
      await client.query(`LISTEN ${CONSOLE_CHANNEL}`);
      if (this.stopped) {
        await client.end().catch(() => undefined);
        return;
      }
      if (this.failures > 0) {
        this.log.info('console: live updates restored', { scope: 'console' });
        this.onNotification('*');
      }
      this.client = client;
      this.failures = 0;
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
    this.log[this.failures === 1 ? 'warn' : 'debug'](`console: live updates unavailable (${errorMessage(err)}); reconnecting in ${delay} ms`, { scope: 'console' });
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.connect();
    }, delay);
  }

  private onNotification(payload: string): void {
    if (payload === '*') this.pendingAll = true;
    else for (const s of payload.split(',')) if (/^\d+$/.test(s)) this.pending.add(Number(s));
    this.flushTimer ??= setTimeout(() => this.flush(), this.gatherMs);
  }

  private flush(): void {
    this.flushTimer = null;
    const what: number[] | 'all' = this.pendingAll || this.pending.size > 500 ? 'all' : [...this.pending];
    this.pending.clear();
    this.pendingAll = false;
    for (const fn of this.subscribers) {
      try {
        fn(what);
      } catch (err) {
        this.log.debug(`console: a live-update subscriber failed: ${errorMessage(err)}`, { scope: 'console' });
      }
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.subscribers.clear();
    const c = this.client;
    this.client = null;
    if (c) {
      c.removeAllListeners('end');
      await c.end().catch(() => undefined);
    }
  }
}
