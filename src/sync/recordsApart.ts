import type { SentMail } from '../db/queries/sentMail';
import { errorMessage, isRetryableDbError } from '../errors';
import type { Logger } from '../log';

/**
 * At most this many bytes of messages wait for the database: enough for hours of invoices during an outage, not
 * enough to exhaust the daemon's memory if the database never comes back.
 */
const MAX_WAITING_BYTES = 64 * 1024 * 1024;

export interface RecordsApartOptions {
  /** Writes one record (statements are shared by the writer's grouping); rejects as the database refused it. */
  write(mail: SentMail): Promise<unknown>;
  /** Logs a record that will not be written (the mail stays sent). */
  failed(mail: SentMail, err: unknown): void;
  log: Logger;
  maxWaitingBytes?: number;
  /** The wait before the next try after `failures` failed ones in a row (the daemon's reconnect backoff). */
  delayMs: (failures: number) => number;
}

/**
 * The records of sent mail written on their own: a job whose lease was lost after its mail left has no outcome to
 * carry them, a done-notice has no job. Those are written as soon as they come, and the ones the database could
 * not take because it was away (a restart, a cut network; the same faults the Completer waits out for outcomes)
 * are kept and tried again with backoff until it answers, so that an outage does not leave sent mail unrecorded.
 * Trying again writes nothing twice: a record is found by its message's hash (xtbatch.eml.eml_hash). A record the
 * database refuses for itself (not retryable) is logged and dropped at once.
 */
export class RecordsApart {
  /** Not being written now, oldest first. */
  private waiting: SentMail[] = [];
  /** Being written now. */
  private inFlight: SentMail[] = [];
  /** Of both lists. */
  private bytes = 0;
  private writing: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private failures = 0;
  private stopped = false;
  private readonly maxBytes: number;

  constructor(private readonly o: RecordsApartOptions) {
    this.maxBytes = o.maxWaitingBytes ?? MAX_WAITING_BYTES;
  }

  /** Records waiting to be written (being written or waiting for the database). */
  get size(): number {
    return this.waiting.length + this.inFlight.length;
  }

  add(mails: readonly SentMail[]): void {
    if (this.stopped) {
      for (const m of mails) this.o.failed(m, new Error('the daemon was stopping'));
      return;
    }
    for (const m of mails) {
      this.waiting.push(m);
      this.bytes += m.raw.length;
    }
    this.bound();
    if (!this.timer) this.kick();
  }

  /**
   * The oldest waiting go first when the database has been away too long (those being written may still get in);
   * each is logged, so none vanishes unseen. The newest is always kept.
   */
  private bound(): void {
    while (this.bytes > this.maxBytes && this.waiting.length > 1) {
      const dropped = this.waiting.shift()!;
      this.bytes -= dropped.raw.length;
      this.o.failed(dropped, new Error(`more than ${sizeText(this.maxBytes)} of sent-mail records were waiting for the database`));
    }
  }

  /**
   * Tries at once (a wait for the database is cut short), then waits up to `ms` for every record to be written,
   * further tries at the usual backoff; true when none is left.
   */
  async drain(ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
      this.kick();
    }
    while (this.size > 0 && Date.now() < deadline) {
      const pause = new Promise((r) => setTimeout(r, Math.max(0, Math.min(200, deadline - Date.now()))));
      await (this.writing ? Promise.race([this.writing, pause]) : pause);
    }
    return this.size === 0;
  }

  /** No more tries: each record still waiting is logged as not recorded. */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    // Those being written are settled by their write (written, or logged as refused or not recorded).
    const left = this.waiting;
    this.waiting = [];
    this.bytes -= left.reduce((n, m) => n + m.raw.length, 0);
    for (const m of left) this.o.failed(m, new Error('the daemon stopped before the database could take it'));
  }

  private kick(): void {
    if (this.writing || this.stopped || this.waiting.length === 0) return;
    this.writing = this.writeWaiting().finally(() => {
      this.writing = null;
      // Added while the last ones were being written, and no wait for the database pending.
      if (!this.timer) this.kick();
    });
  }

  private async writeWaiting(): Promise<void> {
    const batch = (this.inFlight = this.waiting);
    this.waiting = [];
    const results = await Promise.allSettled(batch.map((m) => this.o.write(m)));
    this.inFlight = [];
    this.bytes -= batch.reduce((n, m) => n + m.raw.length, 0);
    const keep: SentMail[] = [];
    let outage: unknown = null;
    results.forEach((r, i) => {
      if (r.status === 'fulfilled') return;
      if (isRetryableDbError(r.reason) && !this.stopped) {
        keep.push(batch[i]!);
        outage = r.reason;
      } else {
        this.o.failed(batch[i]!, this.stopped && isRetryableDbError(r.reason) ? new Error(`the daemon stopped while the database was away (${errorMessage(r.reason)})`) : r.reason);
      }
    });
    if (this.stopped) return;
    // Back in front of those added while this write was out, then the bound again.
    this.waiting = [...keep, ...this.waiting];
    this.bytes += keep.reduce((n, m) => n + m.raw.length, 0);
    this.bound();
    if (keep.length === 0) {
      if (this.failures > 0) this.o.log.info(`the database took the sent-mail records that were waiting for it`, { scope: 'mail' });
      this.failures = 0;
      return;
    }
    this.failures++;
    const delay = this.o.delayMs(this.failures);
    // One line when the wait starts, not one per try.
    if (this.failures === 1) {
      this.o.log.warn(`${keep.length} sent-mail record(s) wait for the database (${errorMessage(outage)}); trying again until it answers`, { scope: 'mail' });
    }
    this.timer = setTimeout(() => {
      this.timer = null;
      this.kick();
    }, delay);
    this.timer.unref();
  }
}

function sizeText(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${Math.round(bytes / 1024 / 1024)} MB` : `${bytes} bytes`;
}
