import type { Client } from '../db/pool';
import { finishMany, type BatchRow } from '../db/queries/batch';
import type { SentMail } from '../db/queries/sentMail';
import { LeaseLostError } from '../errors';
import type { JobLease } from '../handlers/types';
import type { LeaseKeeper } from './leases';

/** The lease of one running job as its handler sees it (src/handlers/types.ts). */
export class RunLease implements JobLease {
  /** Set once commitDone wrote the outcome: the executor then has nothing left to write. */
  recorded = false;
  /** Set by a handler that was stopped before any of the job's work began (notStarted). */
  untouched = false;
  /** Records of the mail this job sent, for its outcome's statement (recordWithOutcome). */
  readonly sentMail: SentMail[] = [];

  constructor(
    readonly owner: string,
    private readonly job: BatchRow,
    private readonly keeper: LeaseKeeper,
    /** The runner's count of jobs that wait without a slot (JobLease.sharing); absent outside a runner. */
    private readonly slots?: { sharing(batchId: number, waiting: boolean): void },
  ) {}

  get token(): string {
    return this.job.lease_token ?? '';
  }

  check(): void {
    if (!this.keeper.isHeld(this.job.batch_id, this.token)) {
      throw new LeaseLostError(`job ${this.job.batch_id}: this daemon no longer holds its lease`);
    }
  }

  handedOver(): void {
    this.keeper.awaitingOutcome(this.job.batch_id);
  }

  recordWithOutcome(mail: SentMail): void {
    this.sentMail.push(mail);
  }

  notStarted(): void {
    this.untouched = true;
  }

  sharing(waiting: boolean): void {
    this.slots?.sharing(this.job.batch_id, waiting);
  }

  doneWritten(written: boolean): void {
    this.recorded = written;
  }

  async commitDone(client: Client, result: unknown): Promise<void> {
    this.check();
    const f = { batchId: this.job.batch_id, attempt: this.job.batch_attempts, token: this.token, kind: 'done' as const, message: null, delaySeconds: 0, result: result ?? null };
    // The row is locked by this UPDATE until the caller's COMMIT: no rescue can take the job in between.
    const written = await finishMany(client, this.owner, [f], true);
    if (!written.has(this.job.batch_id)) {
      throw new LeaseLostError(`job ${this.job.batch_id}: its lease expired or the job was taken back before its transaction could commit`);
    }
    this.recorded = true;
  }
}
