import { redactSecrets } from '../secrets';
import type { BatchRow, Finish } from '../db/queries/batch';
import type { Settings } from '../db/queries/settings';
import { errorMessage } from '../errors';
import type { Logger } from '../log';
import { noticeFor, whyNoNotice } from '../mail/notice';
import type { Mailer } from '../mail/transport';

/**
 * xTuple's short "done"/"failed" email to the submitter of an action job (batch_email), sent only once the
 * outcome is recorded: a job cancelled or taken back meanwhile gets none.
 */
export class Notices {
  /** Jobs whose outcome awaits writing, kept for the notice sent once it is written. */
  private readonly waiting = new Map<number, BatchRow>();
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly mailer: Mailer,
    private readonly settings: () => Settings,
    private readonly log: Logger,
  ) {}

  /** The job finished (done or failed) and its outcome goes to the completer. */
  expect(job: BatchRow, f: Finish): void {
    if ((f.kind === 'done' || f.kind === 'failed') && job.batch_email) this.waiting.set(job.batch_id, job);
  }

  /** The completer wrote (or could not write) the outcome of `batchId`. */
  written(batchId: number, written: boolean, f: Finish): void {
    const job = this.waiting.get(batchId);
    this.waiting.delete(batchId);
    if (written && job) this.send(job, f);
  }

  /** The outcome was recorded by the job itself (an ERP action's transaction). */
  recorded(job: BatchRow, f: Finish): void {
    if (job.batch_email) this.send(job, f);
  }

  /** Waits up to `ms` for notices being sent. */
  async drain(ms: number): Promise<void> {
    if (this.inFlight.size === 0) return;
    let t: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(this.inFlight), new Promise((r) => { t = setTimeout(r, ms); })]);
    clearTimeout(t);
  }

  private send(job: BatchRow, f: Finish): void {
    if (f.kind !== 'done' && f.kind !== 'failed') return;
    const mail = noticeFor(job, { kind: f.kind, message: f.message === null ? null : redactSecrets(f.message), result: f.result, completed: new Date() }, this.settings().defaultFrom);
    if (!mail) {
      // Said once in the log: the submitter asked for it, and would otherwise wait for a mail that never comes.
      const why = whyNoNotice(job, this.settings().defaultFrom);
      if (why) this.log.warn(`no ${f.kind} notice for job ${job.batch_id} to ${job.batch_email}: ${why}`, { scope: 'job', batchId: job.batch_id });
      return;
    }
    const p = this.mailer.send(mail, `notice-${job.batch_id}`).then(
      () => void this.log.info(`sent the ${f.kind} notice of job ${job.batch_id} to ${job.batch_email}`, { scope: 'job', batchId: job.batch_id }),
      (err) => void this.log.warn(`could not send the ${f.kind} notice of job ${job.batch_id}: ${errorMessage(err)}`, { scope: 'job', batchId: job.batch_id }),
    );
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }
}
