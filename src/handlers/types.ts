import type { Config } from '../config';
import type { BatchRow } from '../db/queries/batch';
import type { SentMail } from '../db/queries/sentMail';
import type { Settings } from '../db/queries/settings';
import type { Client, Pool } from '../db/pool';
import type { Params } from '../jobs/params';
import type { Logger } from '../log';
import type { Mailer, SendingJob } from '../mail/transport';

/** Long-lived things a handler may use; made once per daemon. */
export interface Services {
  mailer: Mailer;
}

export interface JobContext {
  job: BatchRow;
  params: Params;
  /** Scoped to this job: every line carries its id and action. */
  log: Logger;
  /** Fires on timeout, cancel, lost lease or forced shutdown; handlers pass it to their I/O. */
  signal: AbortSignal;
  pool: Pool;
  settings: Settings;
  cfg: Config;
  services: Services;
  /** The job's lease (absent when a handler is called outside the daemon). See docs/reliability.md. */
  lease?: JobLease;
}

/**
 * What a handler may do with the lease its daemon holds on the job. A handler whose work is a database
 * transaction (an ERP action) records the outcome in that same transaction with commitDone, right before COMMIT:
 * the work and "done" then commit together, and only while the lease is held by the server's clock.
 */
export interface JobLease extends SendingJob {
  readonly owner: string;
  /** This claim's fencing token. */
  readonly token: string;
  /** Throws LeaseLostError unless the lease is certainly still ours (by the daemon's own clock, with its margin). */
  check(): void;
  /** In `client`'s open transaction: marks the job done with `result`, or throws LeaseLostError (roll back then). */
  commitDone(client: Client, result: unknown): Promise<void>;
  /**
   * For a handler whose own SQL writes "done" fenced by this lease (owner, attempt, token, the server's clock), as
   * ERP action groups do (sql/0032): true once that write went through, right before COMMIT; false when the
   * transaction did not commit after all.
   */
  doneWritten(written: boolean): void;
  /**
   * The job's work has left the daemon and cannot be taken back (a mail the server accepted): from now on the
   * job is not stopped for a lease that could not be renewed; its outcome is written, guarded by the lease token,
   * so the mail is not sent a second time by this daemon's own abort.
   */
  handedOver(): void;
  /**
   * The record of a mail the job sent, written in the statement that writes the job's outcome, whatever that
   * outcome is and whether or not the lease still guards it (the mail is out); apart from it when there is no
   * outcome to write (src/daemon/runner.ts) or the statement refuses the record (src/daemon/completer.ts).
   */
  recordWithOutcome(mail: SentMail): void;
  /**
   * The handler never began the job's work (an ERP action stopped while still queued for its group): a stop because
   * the lease could not be renewed then puts the job back, its attempt not counted, instead of leaving it to be
   * taken back as if it had run.
   */
  notStarted(): void;
  /**
   * The job waits for a transaction it will share with other jobs (an ERP action queued for its group, or a member
   * after the first of a group in flight, whose calls run one after another in one session): while it waits, it
   * does not count against daemon.concurrency, so that a group counts as one job (docs/performance.md, ERP
   * actions). The daemon may refuse (it bounds how many jobs wait so); the job then keeps its slot.
   */
  sharing(waiting: boolean): void;
}

/**
 * A handler does the work and returns what the job row should record in batch_result (or nothing). It never
 * writes the job's status: the executor turns every outcome into exactly one write. It throws PermanentError
 * when retrying cannot help; anything else is retried.
 */
export type Handler = (ctx: JobContext) => Promise<unknown>;

export type HandlerRegistry = ReadonlyMap<string, Handler>;

/** The registry key of the handler for actions no other handler names. */
export const FALLBACK_ACTION = '*';
