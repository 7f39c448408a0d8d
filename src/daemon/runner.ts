import type { Config } from '../config';
import type { Pool } from '../db/pool';
import type { ActionLimit, BatchRow, Finish } from '../db/queries/batch';
import type { SentMail } from '../db/queries/sentMail';
import type { Settings } from '../db/queries/settings';
import type { HandlerRegistry, Services } from '../handlers';
import { lazyChild, logIf, type Logger } from '../log';
import type { ClaimSizer } from './claimSizer';
import type { Completer } from './completer';
import { executeJob, JobStopped, type Outcome } from './execute';
import { JobStop } from './jobStop';
import { RunLease } from './jobLease';
import type { JobStats } from './jobStats';
import type { LeaseKeeper, LeaseLoss } from './leases';
import type { Notices } from './notices';

/** Counters for status, metrics and benchmarks. */
export interface DaemonStats {
  polls: number;
  claimed: number;
  done: number;
  failed: number;
  retried: number;
  released: number;
  claimQueries: number;
  rescued: number;
  dbErrors: number;
}

export interface RunnerDeps {
  owner: string;
  cfg: Config;
  /** The handlers' pool (src/daemon/loop.ts explains why it is not the daemon's own). */
  jobPool: Pool;
  handlers: HandlerRegistry;
  services: Services;
  settings: () => Settings;
  leases: LeaseKeeper;
  completer: Completer;
  notices: Notices;
  sizer: ClaimSizer;
  stats: DaemonStats;
  jobStats: JobStats;
  log: Logger;
  /** A slot is free: a job ended, or began to wait without one (JobLease.sharing). */
  onSlotFree: () => void;
  /** Writes the records of mail sent by a job that has no outcome to write them with (src/sync/recordSent.ts). */
  recordApart: (mails: readonly SentMail[]) => void;
}

interface Running {
  job: BatchRow;
  stop: JobStop;
  done: Promise<void>;
}

/**
 * At most this many jobs wait without a slot for a transaction they share (JobLease.sharing): enough for groups of
 * about 22 ERP jobs at concurrency 10 (32 gave 16, 128 gave 26; docs/performance.md). Bounded, so that a daemon
 * never holds more than daemon.concurrency, the claim-ahead and these.
 */
const WAITING_MAX = 64;

const LOST_MESSAGES: Record<NonNullable<Outcome['lostLease']>, string> = {
  lost: 'lost its lease: the job was cancelled or taken back by another daemon; stopped, nothing recorded',
  expired: 'lost its lease: it could not be renewed in time; stopped before it could expire, nothing recorded (it runs again once the lease has expired)',
  fenced: 'lost its lease before its transaction could commit: rolled back, nothing committed or recorded',
  shutdown: 'stopped by shutdown',
};

/**
 * The jobs this daemon holds: claimed ahead and waiting for a slot (`ready`), and running. Starts them within
 * daemon.concurrency and the per-action limits, hands each to the executor under its lease, and turns each
 * outcome into a log line, a write for the completer (or none) and a notice.
 */
export class JobRunner {
  private readonly running = new Map<number, Running>();
  private readonly ready: BatchRow[] = [];
  private readonly perAction = new Map<string, number>();
  /** Running jobs that wait without a slot (JobLease.sharing). */
  private readonly waiting = new Set<number>();
  private refill = false;
  private stopping = false;

  constructor(private readonly d: RunnerDeps) {}

  get runningCount(): number {
    return this.running.size;
  }

  get readyCount(): number {
    return this.ready.length;
  }

  /** Running jobs that wait without a slot for the transaction they share (counted in runningCount). */
  get waitingCount(): number {
    return this.waiting.size;
  }

  /** How many jobs a claim may ask for now: free slots and the claim-ahead, minus a completer backlog. */
  wanted(): number {
    const { concurrency, prefetch } = this.d.cfg.daemon;
    // Outcomes not yet written keep their rows "running" and their leases renewed: never outrun the completer.
    const backlog = Math.max(0, this.d.completer.size - Math.max(4 * concurrency, prefetch));
    return concurrency + this.d.sizer.prefetch() - this.slotsTaken() - this.ready.length - backlog;
  }

  /** Running jobs that hold a slot: those waiting for a shared transaction do not. */
  private slotsTaken(): number {
    return this.running.size - this.waiting.size;
  }

  /**
   * A running job begins or ends a wait without its slot (JobLease.sharing). Its slot goes to the next job held
   * ready, after the current turn: the job that began to wait is most likely still inside the start of another.
   */
  sharing(batchId: number, waiting: boolean): void {
    if (!waiting) {
      this.waiting.delete(batchId);
      return;
    }
    if (this.waiting.has(batchId) || this.waiting.size >= WAITING_MAX || !this.running.has(batchId)) return;
    this.waiting.add(batchId);
    if (this.refill) return;
    this.refill = true;
    queueMicrotask(() => {
      this.refill = false;
      this.startReady();
      this.d.onSlotFree();
    });
  }

  /** Per-action concurrency (daemon.actionConcurrency) for the claim: actions with no slot left, and the others' room. */
  limits(): { full: string[]; limits: ActionLimit[] } {
    const full: string[] = [];
    const limits: ActionLimit[] = [];
    for (const [action, max] of Object.entries(this.d.cfg.daemon.actionConcurrency)) {
      const remaining = max - (this.perAction.get(action) ?? 0);
      if (remaining <= 0) full.push(action);
      else limits.push({ action, remaining });
    }
    return { full, limits };
  }

  /** Claimed rows; their leases run from `claimSentAt` (performance.now() when the claim was sent). */
  accept(rows: BatchRow[], claimSentAt: number): void {
    for (const job of rows) {
      this.count(job.batch_action, +1);
      this.ready.push(job);
      this.d.leases.hold(job.batch_id, job.lease_token, claimSentAt, (why) => this.leaseLost(job, why));
    }
    this.startReady();
  }

  /** Starts claimed jobs while there are free slots. */
  startReady(): void {
    while (this.slotsTaken() < this.d.cfg.daemon.concurrency && this.ready.length > 0 && !this.stopping) this.run(this.ready.shift()!);
  }

  /** Stops starting jobs and puts back those claimed but never started. */
  stop(): void {
    this.stopping = true;
    const left = this.ready.splice(0);
    for (const j of left) {
      this.count(j.batch_action, -1);
      this.putBack(j);
    }
  }

  /**
   * A claimed job that never started goes back to the queue at once, its attempt not counted: a 'release', fenced
   * by its lease token, so it is written only while no one else has taken the job. Its lease is kept (renewed,
   * held again when its deadline had passed) until the release is written. Left to expire instead, it would wait
   * out its lease and then be taken back as if it had run, and fail when that was its last attempt ("stopped
   * responding"), though nothing of it ran.
   */
  private putBack(job: BatchRow): void {
    this.d.leases.awaitingOutcome(job.batch_id, job.lease_token ?? '');
    this.d.completer.push({ batchId: job.batch_id, attempt: job.batch_attempts, token: job.lease_token, kind: 'release', message: null, delaySeconds: 0, result: null });
  }

  /** Aborts every running job (a second signal, the drain timeout): they are put back at once. */
  hurry(): void {
    for (const r of this.running.values()) r.stop.abort(new JobStopped('shutdown'));
  }

  /** Waits up to `ms` for running jobs; true when none is left. */
  async waitRunning(ms: number): Promise<boolean> {
    const waiting = [...this.running.values()].map((r) => r.done);
    if (waiting.length === 0) return true;
    let t: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(waiting), new Promise((r) => { t = setTimeout(r, ms); })]);
    clearTimeout(t);
    return this.running.size === 0;
  }

  /** Waits for every running job (after hurry()). */
  async waitAll(): Promise<void> {
    await Promise.all([...this.running.values()].map((r) => r.done));
  }

  private count(action: string, by: number): void {
    this.perAction.set(action, (this.perAction.get(action) ?? 0) + by);
  }

  private leaseLost(job: BatchRow, why: LeaseLoss): void {
    const r = this.running.get(job.batch_id);
    if (r && r.job === job) {
      r.stop.abort(new JobStopped(why));
      return;
    }
    // Claimed ahead and not started: not started. Taken from us ('lost'): nothing to write. Its lease about to
    // lapse ('expired', renewals failing): put back, in case the database answers the release in time.
    const i = this.ready.indexOf(job);
    if (i >= 0) {
      this.ready.splice(i, 1);
      this.count(job.batch_action, -1);
      if (why === 'expired') this.putBack(job);
      this.d.log.warn(`job ${job.batch_id} lost its lease before it started; not started${why === 'expired' ? ', put back' : ''}`, { scope: 'job', batchId: job.batch_id });
    }
  }

  private run(job: BatchRow): void {
    const { d } = this;
    // No child logger per job (issue 17): the runner's own lines carry the job's fields and are built only when
    // their level is on; the handler's logger is made when the handler first logs.
    const meta = { scope: 'job', batchId: job.batch_id, action: job.batch_action };
    // Its lease may be too close to lapsing (a claim that took longer than the margin, a wait for a slot while
    // renewals failed): then it is not started at all, and put back.
    if (!d.leases.isHeld(job.batch_id, job.lease_token)) {
      this.count(job.batch_action, -1);
      this.putBack(job);
      d.log.warn('its lease was too close to lapsing to start it (the database was slow to answer the claim or the lease renewals): ' +
        'not started, put back to run again; if this repeats, look at the database\'s load or raise daemon.leaseSeconds', meta);
      return;
    }
    d.stats.claimed++;
    const stop = new JobStop();
    if (d.log.isLevelEnabled('debug')) logIf(d.log, 'debug', `claimed (attempt ${job.batch_attempts})`, meta);
    const lease = new RunLease(d.owner, job, d.leases, this);
    const deps = { cfg: d.cfg, pool: d.jobPool, handlers: d.handlers, services: d.services, settings: d.settings };
    // In the map before the handler starts: it may already ask to wait without its slot (sharing).
    const running: Running = { job, stop, done: Promise.resolve() };
    this.running.set(job.batch_id, running);
    running.done = executeJob(job, stop, deps, lazyChild(d.log, meta), lease).then((o) => this.ended(job, meta, o, lease));
  }

  private ended(job: BatchRow, meta: Record<string, unknown>, o: Outcome, lease: RunLease): void {
    const { d } = this;
    // The records of the mail it sent go in its outcome's statement; with no outcome to write, on their own.
    if (lease.sentMail.length > 0) {
      if (o.finish && !o.recorded) o.finish.sentMail = lease.sentMail;
      else d.recordApart(lease.sentMail);
    }
    d.sizer.jobTook(o.ms);
    d.jobStats.record(job.batch_action, o.finish ? o.finish.kind : 'lost', o.ms);
    this.running.delete(job.batch_id);
    this.waiting.delete(job.batch_id);
    this.count(job.batch_action, -1);
    if (!o.finish) {
      d.leases.release(job.batch_id);
      d.log.warn(LOST_MESSAGES[o.lostLease ?? 'lost'], meta);
    } else {
      this.logOutcome(meta, o.finish, o.ms);
      if (o.recorded) {
        d.leases.release(job.batch_id);
        d.notices.recorded(job, o.finish);
      } else {
        // A release keeps the claim held until written, also when its deadline had passed (putBack).
        d.leases.awaitingOutcome(job.batch_id, o.finish.kind === 'release' ? job.lease_token ?? '' : undefined);
        d.notices.expect(job, o.finish);
        d.completer.push(o.finish);
      }
    }
    this.startReady();
    d.onSlotFree();
  }

  /** One line per finished job: `done` at info, failures and retries at warn (docs/performance.md). */
  private logOutcome(meta: Record<string, unknown>, f: Finish, ms: number): void {
    const { stats, log } = this.d;
    switch (f.kind) {
      case 'done':
        stats.done++;
        if (log.isLevelEnabled('info')) logIf(log, 'info', `done in ${ms} ms`, meta);
        break;
      case 'failed':
        stats.failed++;
        log.warn(`failed: ${f.message}`, meta);
        break;
      case 'retry':
        stats.retried++;
        log.warn(`will retry in ${Math.round(f.delaySeconds)} s: ${f.message}`, meta);
        break;
      case 'release':
        stats.released++;
        log.info(`put back unfinished (${f.message ?? 'shutdown'}); it will run again`, meta);
        break;
    }
  }
}
