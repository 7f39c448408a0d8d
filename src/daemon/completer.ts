import { performance } from 'node:perf_hooks';
import { finishMany, type Finish } from '../db/queries/batch';
import { finishedUnder } from '../db/queries/lostAnswers';
import type { Pool } from '../db/pool';
import { SENT_MAIL_STATEMENT_BYTES } from '../db/queries/sentMail';
import { sentMailWriters, type SentMailWriters } from '../sync/recordSent';
import { dbFault, errorMessage, isRetryableDbError } from '../errors';
import type { Logger } from '../log';
import { reconnectDelayMs } from './backoff';

const MAX_BATCH = 1000;
/**
 * Under load, the next statement waits this long for more outcomes before it is sent (as graphile-worker's
 * completeJobBatchDelay). Measured with mail to a real Postfix (docs/performance.md, 2026-12-06 night, later):
 * statements per job 0.87 -> 0.58, PostgreSQL CPU per message 0.62 -> 0.48 ms, the rate within the scatter; each
 * statement also costs the daemon's thread a socket write and a read. A done job's status shows up to this much
 * later; its slot is already free (the runner frees it when the handler returns), and its lease stays renewed.
 */
export const GATHER_MS = 3;
/** Outcomes that make a statement worth sending without waiting for more. */
export const GATHER_ENOUGH = 8;
/** "Under load": the statement before carried more than one outcome and was written this recently. */
const LOAD_WINDOW_MS = 50;
function mailBytes(f: Finish): number {
  let n = 0;
  for (const m of f.sentMail ?? []) n += m.raw.length;
  return n;
}

/** The outcomes the next statement writes: at least one, within MAX_BATCH and the bytes of mail records a statement carries. */
function nextBatch(queue: Finish[]): Finish[] {
  let bytes = mailBytes(queue[0]!);
  let n = 1;
  while (n < queue.length && n < MAX_BATCH) {
    const more = mailBytes(queue[n]!);
    if (more > 0 && bytes + more > SENT_MAIL_STATEMENT_BYTES) break;
    bytes += more;
    n++;
  }
  return queue.slice(0, n);
}

/**
 * Writes job outcomes, many per statement. Finishes that arrive while a write is in flight go in the next one,
 * and under load the next one waits GATHER_MS for more, so each round trip carries a batch; an idle daemon writes
 * each outcome at once.
 *
 * While the database is unreachable the outcomes wait here and are retried with backoff: a job that ran is never
 * forgotten because the write failed. Until written, the LeaseKeeper keeps renewing its lease (src/daemon/leases.ts).
 */
export class Completer {
  private queue: Finish[] = [];
  private flushing: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private failures = 0;
  private conflicts = 0;
  private idleWaiters: Array<() => void> = [];
  /** Failed writes (connection or not), for /metrics. */
  errors = 0;

  constructor(
    private readonly pool: Pool,
    private readonly owner: string,
    private readonly log: Logger,
    private readonly onWritten: (batchId: number, written: boolean, f: Finish) => void = () => undefined,
    /** Where the records of sent mail go that the outcomes' statement does not take (src/sync/recordSent.ts). */
    private readonly mail: SentMailWriters = sentMailWriters(pool, log, reconnectDelayMs),
    /** How long to gather under load (0: never wait) and what counts as under load; the defaults above. */
    private readonly gathering: { ms: number; loadWindowMs: number } = { ms: GATHER_MS, loadWindowMs: LOAD_WINDOW_MS },
  ) {}

  /** The size and end (performance.now()) of the last statement written: an idle daemon's outcome never waits. */
  private lastBatch = 0;
  private lastWriteEnd = -Infinity;
  /** Ends the gathering wait, while there is one. */
  private gathered: (() => void) | null = null;

  get pendingIds(): number[] {
    return this.queue.map((f) => f.batchId);
  }

  get size(): number {
    return this.queue.length;
  }

  push(f: Finish): void {
    this.queue.push(f);
    if (this.gathered && this.queue.length >= GATHER_ENOUGH) this.gathered();
    if (!this.flushing && !this.timer) this.flushing = this.flush();
  }

  /** Resolves when nothing is waiting to be written, or after `timeoutMs`. */
  async drain(timeoutMs: number): Promise<boolean> {
    if (this.queue.length === 0 && !this.flushing) return true;
    this.gathered?.();
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
      this.flushing ??= this.flush();
    }
    let t: NodeJS.Timeout | undefined;
    const done = await Promise.race([
      new Promise<boolean>((resolve) => this.idleWaiters.push(() => resolve(true))),
      new Promise<boolean>((resolve) => { t = setTimeout(() => resolve(false), timeoutMs); }),
    ]);
    clearTimeout(t);
    return done;
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** Under load, up to GATHER_MS for more outcomes to join the next statement; ends once GATHER_ENOUGH are here. */
  private gather(): Promise<void> | null {
    const { ms, loadWindowMs } = this.gathering;
    if (ms <= 0 || this.queue.length >= GATHER_ENOUGH || this.lastBatch < 2) return null;
    if (performance.now() - this.lastWriteEnd > loadWindowMs) return null;
    return new Promise((resolve) => {
      const t = setTimeout(() => this.gathered?.(), ms);
      this.gathered = () => {
        clearTimeout(t);
        this.gathered = null;
        resolve();
      };
    });
  }

  private async flush(): Promise<void> {
    while (this.queue.length > 0) {
      const wait = this.gather();
      if (wait) await wait;
      const batch = nextBatch(this.queue);
      try {
        await this.writeLinked(batch);
        const written = await finishMany(this.pool, this.owner, batch);
        const committed = await this.foundWritten(batch, written);
        this.lastBatch = batch.length;
        this.lastWriteEnd = performance.now();
        this.queue.splice(0, batch.length);
        this.failures = 0;
        this.conflicts = 0;
        for (const f of batch) {
          const done = committed.get(f.batchId);
          if (done) this.onWritten(f.batchId, true, done);
          else this.onWritten(f.batchId, written.has(f.batchId), f);
        }
      } catch (err) {
        this.errors++;
        // A deadlock or serialization failure: the server chose this write to lose; write it again at once.
        if (dbFault(err) === 'conflict' && this.conflicts++ < 5) {
          this.log.debug(`writing ${batch.length} outcome(s): ${errorMessage(err)}; retrying at once`, { scope: 'completer' });
          continue;
        }
        // Refused with records of sent mail in it: a record must never cost its job's outcome (the job would run,
        // and mail, again), so the records are written on their own and the outcomes again without them.
        if (!isRetryableDbError(err) && this.setRecordsApart(batch)) {
          this.log.warn(`writing ${batch.length} outcome(s) with the records of the mail they sent: ${errorMessage(err)}; writing the records apart`, { scope: 'completer' });
          continue;
        }
        if (!isRetryableDbError(err) && batch.length === 1) {
          // Not the network and not the batch: this one write cannot succeed. Its lease will expire and the job
          // will be taken back, so it is not lost; keeping it would block every outcome behind it.
          const dropped = this.queue.shift()!;
          this.log.error(`could not record the outcome of job ${dropped.batchId}: ${errorMessage(err)}`, { scope: 'completer' });
          this.onWritten(dropped.batchId, false, dropped);
          continue;
        }
        if (!isRetryableDbError(err)) {
          // Not the network: find the one bad row by writing this batch one outcome at a time.
          await this.flushSingly(batch.length);
          continue;
        }
        this.conflicts = 0;
        const delay = reconnectDelayMs(this.failures++);
        const why = dbFault(err) === 'timeout' ? 'database too slow' : dbFault(err) === 'conflict' ? 'lock conflicts' : 'database unreachable';
        this.log.warn(`could not record ${this.queue.length} job outcome(s), ${why} (${errorMessage(err)}); retrying in ${delay} ms`, { scope: 'completer' });
        this.flushing = null;
        this.timer = setTimeout(() => {
          this.timer = null;
          this.flushing = this.flush();
        }, delay);
        return;
      }
    }
    this.flushing = null;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  /**
   * Outcomes the finish did not write, looked up on their rows: rare (a job cancelled, rescheduled or taken back
   * meanwhile), so the statement this costs is only paid then. Two answers a broken connection lost are found so:
   *  - the outcome itself, written by an earlier try (its statement committed, the answer was lost): it counts as
   *    written, so no "not recorded" warning is logged and its done-notice goes out;
   *  - an ERP action's COMMIT, which wrote the job's "done" with its work while the daemon, without the answer,
   *    took the transaction for failed and sent "retry" or "failed": the job is done, and it is reported done
   *    (returned here, by id, as the outcome that the row carries).
   * A failure here leaves them as the finish said.
   */
  private async foundWritten(batch: Finish[], written: Set<number>): Promise<Map<number, Finish>> {
    const committed = new Map<number, Finish>();
    const unsure = batch.filter((f) => !written.has(f.batchId) && f.kind !== 'release');
    if (unsure.length === 0) return committed;
    try {
      const found = await finishedUnder(this.pool, this.owner, unsure);
      const own: number[] = [];
      for (const f of unsure) {
        const status = found.get(f.batchId);
        if (status === undefined) continue;
        if (status === (f.kind === 'done' ? '' : f.message ?? '')) {
          written.add(f.batchId);
          own.push(f.batchId);
        } else if (status === '' && f.kind !== 'done') {
          committed.set(f.batchId, { ...f, kind: 'done', message: null, delaySeconds: 0 });
          this.log.info(`job ${f.batchId} is done: its work and its "done" committed, and the connection lost the COMMIT's answer; the "${f.kind}" outcome written for it was not needed`, { scope: 'completer', batchId: f.batchId });
        }
      }
      if (own.length > 0) {
        this.log.info(`outcome(s) of job(s) ${own.join(', ')} were recorded by the try whose answer the connection lost`, { scope: 'completer' });
      }
    } catch (err) {
      this.log.debug(`looking for outcomes recorded by a try whose answer was lost: ${errorMessage(err)}`, { scope: 'completer' });
    }
    return committed;
  }

  /** Takes the records of sent mail out of these outcomes and writes them apart; false when there were none. */
  private setRecordsApart(batch: Finish[]): boolean {
    const mails = batch.flatMap((f) => f.sentMail ?? []);
    for (const f of batch) delete f.sentMail;
    if (mails.length === 0) return false;
    this.mail.apart(mails);
    return true;
  }

  /**
   * The records that need xTuple's import (contacts, documents; SentMail.links) are written right before their
   * outcomes, all of a batch at once (those linked to contacts only in one statement, src/sync/recordSent.ts). The database away: thrown, and they are tried
   * again with their outcomes (one written already is found by its hash and not written twice). A record the
   * database refuses is logged and left out; its outcome is written all the same.
   */
  private async writeLinked(batch: Finish[]): Promise<void> {
    const pending = batch.flatMap((f) => (f.sentMail ?? []).filter((m) => m.links).map((m) => ({ f, m })));
    if (pending.length === 0) return;
    const results = await this.mail.linked(pending.map(({ m }) => m));
    let away: unknown = null;
    results.forEach((r, i) => {
      const { f, m } = pending[i]!;
      if (r.status === 'rejected') {
        if (isRetryableDbError(r.reason)) {
          away ??= r.reason;
          return;
        }
        this.mail.failed(m, r.reason);
      }
      f.sentMail = f.sentMail!.filter((x) => x !== m);
    });
    if (away) throw away;
  }

  private async flushSingly(count: number): Promise<void> {
    for (let i = 0; i < count && this.queue.length > 0; i++) {
      const f = this.queue[0]!;
      try {
        const written = await finishMany(this.pool, this.owner, [f]);
        this.queue.shift();
        this.onWritten(f.batchId, written.has(f.batchId), f);
      } catch (err) {
        this.errors++;
        if (isRetryableDbError(err)) return;
        this.queue.shift();
        this.log.error(`could not record the outcome of job ${f.batchId}: ${errorMessage(err)}`, { scope: 'completer' });
        this.onWritten(f.batchId, false, f);
      }
    }
  }
}
