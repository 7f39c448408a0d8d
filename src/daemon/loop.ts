import os from 'node:os';
import { performance } from 'node:perf_hooks';
import crypto from 'node:crypto';
import type { Config } from '../config';
import { endPool, type Pool } from '../db/pool';
import { claimDue, nextSettleMs, type Finish } from '../db/queries/batch';
import { removeDaemon, type DaemonInfo } from '../db/queries/daemons';
import { KNOWN_SCHEMA_VERSION } from '../db/migrate';
import type { Settings } from '../db/queries/settings';
import { errorMessage, isOutage } from '../errors';
import { defaultHandlers, type HandlerRegistry, type Services } from '../handlers';
import type { Logger } from '../log';
import { createMailer } from '../mail/transport';
import { sentMailWriters, sentRecorder, type SentMailWriters } from '../sync/recordSent';
import { VERSION } from '../version';
import { reconnectDelayMs } from './backoff';
import { ClaimSizer } from './claimSizer';
import { Completer } from './completer';
import { DbHealth } from './dbHealth';
import { Heartbeat } from './heartbeat';
import { JobStats } from './jobStats';
import { LeaseKeeper } from './leases';
import { LostClaims } from './lostClaims';
import { JOBS_CHANNEL, Listener, SCHEDULES_CHANNEL, SETTINGS_CHANNEL, type ListenMode } from './listener';
import { Notices } from './notices';
import { Rescuer } from './rescuer';
import { JobRunner, type DaemonStats } from './runner';
import { SchedulerService } from './schedulerService';
import type { MaintenanceService } from './service';
import { SettingsWatcher } from './settingsWatcher';
import { Waker } from './waker';
import { Alarms } from './alarms';

export interface DaemonOptions {
  cfg: Config;
  pool: Pool;
  log: Logger;
  handlers?: HandlerRegistry;
  services?: Services;
  /** Defaults to host:pid:random. */
  id?: string;
  /** The connection string for LISTEN; defaults to database.listenUrl, then database.url. */
  listenUrl?: string | null;
  /** The pool handlers use (maintenance, ERP actions, reports hold a connection for a whole job). Kept apart from
   *  `pool`, which carries the daemon's own claims, outcomes and lease renewals: busy handlers must never starve
   *  those, or leases would expire and jobs run twice. Defaults to `pool`. */
  jobPool?: Pool;
  /** Whether stop() ends the pools (true when the daemon owns them). */
  ownsPool?: boolean;
  /** How long a probe NOTIFY may take to come back on the LISTEN connection before jobs start by polling. */
  listenProbeMs?: number;
  /** The newest schema version this build knows; defaults to that of its migrations (tests pretend to be older). */
  knownSchemaVersion?: number;
}

/** What /healthz and /readyz report; see src/service/http.ts. */
export interface DaemonHealth {
  started: boolean;
  stopping: boolean;
  /** Date.now() of the last claim-loop pass; 0 before the first. */
  lastPollAt: number;
  claiming: boolean;
  enabled: boolean;
  /** The database's schema version when it is newer than this build knows (the daemon then stops claiming). */
  schemaAhead: number | null;
  knownSchemaVersion: number;
  /** Consecutive failed database statements of the daemon's own; 0 when the last one succeeded. */
  dbFailures: number;
  listenMode: ListenMode | 'off';
  running: number;
}

/**
 * The batch manager. The loop itself is small: wake (NOTIFY, a free slot, an alarm, the poll timer) → claim →
 * hand to the runner. Everything else is a service with its own state: leases (renewal and fencing), heartbeat
 * and schema check, settings, rescue, scheduler, completer (outcome writes), notices. One instance per
 * process; several processes may share a database.
 */
export class Daemon {
  readonly id: string;
  /** Counters for status, metrics and benchmarks. */
  readonly stats: DaemonStats = { polls: 0, claimed: 0, done: 0, failed: 0, retried: 0, released: 0, claimQueries: 0, rescued: 0, dbErrors: 0 };
  /** Jobs by action and outcome, and their durations, for /metrics; one Map lookup per job. */
  readonly jobStats = new JobStats();
  /**
   * When the claim loop last finished a pass, whether it claimed, found nothing or met a database error: the
   * systemd watchdog is fed only while this keeps moving, so a loop stuck on a promise that never settles is restarted.
   */
  lastPollAt = 0;

  readonly leases: LeaseKeeper;
  readonly heartbeat: Heartbeat;
  readonly settings: SettingsWatcher;
  readonly rescuer: Rescuer;
  readonly scheduler: SchedulerService;
  private readonly services: MaintenanceService[];

  private readonly cfg: Config;
  private readonly pool: Pool;
  private readonly jobPool: Pool;
  private readonly ownsPool: boolean;
  private readonly log: Logger;
  /** Read by /metrics: jobs of actions it names keep their own label. */
  readonly handlers: HandlerRegistry;
  private readonly handlerServices: Services;
  private readonly info: DaemonInfo;
  private readonly knownSchema: number;
  private readonly db: DbHealth;
  private readonly completer: Completer;
  private readonly mailWriters: SentMailWriters;
  private readonly notices: Notices;
  private readonly sizer: ClaimSizer;
  private readonly runner: JobRunner;
  private readonly listener: Listener | null;
  private readonly waker: Waker;
  /** Claims whose answer was lost with the connection: put back before the next claim. */
  private readonly lostClaims: LostClaims;
  /** Wake-ups when a job held back by its settle time becomes claimable (docs/xtuple.md, "Settle time"). */
  private readonly settleAlarms: Alarms;
  /** Wake-ups when a retry this daemon wrote is due, not at the next poll; on a quarter-second grain (Alarms). */
  private readonly retryAlarms = new Alarms(() => this.dueNow(), 250);
  /** A job was announced (NOTIFY) or a settle alarm rang: if the next claim comes back short, ask the server when
   *  the earliest settling job becomes claimable. Only then, so that an idle daemon's polls cost no more. */
  private lookForSettling: 'notify' | 'alarm' | null = null;

  /** The last claim filled every free slot, so more jobs are probably due. */
  private mayHaveMore = false;
  private started = false;
  private stopping = false;
  private startPromise: Promise<void> | null = null;
  private stopPromise: Promise<void> | null = null;
  private interruptStart: (() => void) | null = null;

  constructor(opts: DaemonOptions) {
    const cfg = (this.cfg = opts.cfg);
    this.pool = opts.pool;
    this.jobPool = opts.jobPool ?? opts.pool;
    this.ownsPool = opts.ownsPool ?? false;
    const log = (this.log = opts.log);
    this.handlers = opts.handlers ?? defaultHandlers();
    // Mail the daemon sends is recorded in xtbatch.eml like imported mail, as xTuple's batch manager did.
    // The records that cannot go with a job's outcome are written by the handlers' pool, and tried again while the
    // database is away.
    this.mailWriters = sentMailWriters(this.jobPool, log, reconnectDelayMs);
    this.handlerServices = opts.services ?? { mailer: createMailer(cfg, { onSent: sentRecorder(this.jobPool, log, this.mailWriters.apart), log }) };
    this.id = opts.id ?? `${os.hostname()}:${process.pid}:${crypto.randomBytes(3).toString('hex')}`;
    this.info = { id: this.id, host: os.hostname(), pid: process.pid, version: VERSION };
    this.knownSchema = opts.knownSchemaVersion ?? KNOWN_SCHEMA_VERSION();
    this.db = new DbHealth(log, cfg.daemon.pollIntervalMs);
    const maint = cfg.daemon.maintenanceIntervalSeconds * 1000;

    this.waker = new Waker(() => this.pass());
    this.leases = new LeaseKeeper(this.pool, this.id, cfg.daemon.leaseSeconds, this.db, log);
    this.lostClaims = new LostClaims(this.pool, this.id, log);
    this.settings = new SettingsWatcher(this.pool, log, (enabled) => {
      void this.heartbeat.runOnce();
      if (enabled) this.waker.wake();
    });
    this.heartbeat = new Heartbeat({
      pool: this.pool, info: this.info, knownSchema: this.knownSchema, health: this.db, log,
      running: () => this.runner.runningCount,
      claiming: () => this.claiming,
      onSchemaBack: () => this.waker.wake(),
      loop: () => ({
        lastPollAgoMs: this.lastPollAt ? Math.max(0, Date.now() - this.lastPollAt) : null,
        listenMode: this.listener ? this.listener.mode : 'off',
      }),
      // Jobs start by polling while NOTIFY does not arrive; ask again, so a fixed setup (or a PgBouncer that went
      // away) is noticed without a restart. One NOTIFY per heartbeat, only in that state.
      afterBeat: () => {
        if (this.listener?.connected && this.listener.mode !== 'notify') void this.listener.checkDelivery();
      },
    }, maint);
    this.rescuer = new Rescuer({
      pool: this.pool, defaultMaxAttempts: cfg.daemon.maxAttempts, log, health: this.db,
      renewOwn: () => this.leases.runOnce(),
      onRescued: (n) => void (this.stats.rescued += n),
    }, maint * 2);
    this.scheduler = new SchedulerService(cfg, this.pool, this.db, log, () => this.dueNow());
    this.notices = new Notices(this.handlerServices.mailer, () => this.settings.current, log);
    this.completer = new Completer(this.pool, this.id, log, (batchId, written, f) => this.onWritten(batchId, written, f), this.mailWriters);
    this.sizer = new ClaimSizer(cfg.daemon.concurrency, cfg.daemon.prefetch);
    this.runner = new JobRunner({
      owner: this.id, cfg, jobPool: this.jobPool, handlers: this.handlers, services: this.handlerServices,
      settings: () => this.settings.current, leases: this.leases, completer: this.completer, notices: this.notices,
      sizer: this.sizer, stats: this.stats, jobStats: this.jobStats, log, recordApart: this.mailWriters.apart,
      // A finished job (or one that began to wait for its ERP group) frees a slot; with jobs held ready the next claim
      // waits until half are gone: one claim for several finished jobs (ClaimSizer). With none held, every slot.
      onSlotFree: () => {
        if (this.mayHaveMore && (this.runner.readyCount === 0 || this.runner.readyCount <= this.sizer.prefetch() / 2)) this.waker.wakeSoon();
      },
    });
    this.settleAlarms = new Alarms(() => {
      this.lookForSettling = 'alarm';
      this.waker.wake();
    });
    this.services = [this.leases, this.heartbeat, this.rescuer, this.settings, this.scheduler];

    const listenUrl = opts.listenUrl !== undefined ? opts.listenUrl : (cfg.database.listenUrl ?? cfg.database.url);
    const probe = {
      send: async (channel: string, payload: string) => void (await this.pool.query('SELECT pg_notify($1, $2)', [channel, payload])),
      timeoutMs: opts.listenProbeMs ?? 3000,
      pollIntervalMs: cfg.daemon.pollIntervalMs,
    };
    this.listener = cfg.database.listen
      ? new Listener(listenUrl, log, (channel) => this.onNotify(channel), () => this.onListening(), probe)
      : null;
  }

  get runningCount(): number {
    return this.runner.runningCount;
  }

  /** Claimed ahead and waiting for a free slot. */
  get readyCount(): number {
    return this.runner.readyCount;
  }

  /** Running jobs that wait, without a slot, for the ERP group they run in (docs/operations.md). */
  get waitingForGroupCount(): number {
    return this.runner.waitingCount;
  }

  /** Whether the claim loop asks for jobs: started, not stopping, EnableBatchManager on, schema not ahead. */
  get claiming(): boolean {
    return this.started && !this.stopping && this.settings.current.enabled && this.heartbeat.schemaAhead === null;
  }

  /** Outcomes not yet written (the database is slow or away). */
  get pendingOutcomes(): number {
    return this.completer.size;
  }

  /** Failed statements of the daemon's own (claims, outcomes, leases, heartbeats), for /metrics. */
  get dbErrors(): number {
    return this.stats.dbErrors + this.db.errors + this.completer.errors;
  }

  get currentSettings(): Settings {
    return this.settings.current;
  }

  health(): DaemonHealth {
    return {
      started: this.started,
      stopping: this.stopping,
      lastPollAt: this.lastPollAt,
      claiming: this.claiming,
      enabled: this.settings.current.enabled,
      schemaAhead: this.heartbeat.schemaAhead,
      knownSchemaVersion: this.knownSchema,
      dbFailures: this.db.failures,
      listenMode: this.listener ? this.listener.mode : 'off',
      running: this.runner.runningCount,
    };
  }

  /** Runs a scheduler pass now (tests, and `schedule add` on a running daemon through NOTIFY later). */
  runSchedulerNow(): Promise<void> {
    return this.scheduler.runOnce();
  }

  /**
   * Reads settings and registers the daemon (waiting, with backoff, for a database that is not up yet), then
   * starts listening, the maintenance services and the first claim.
   */
  start(): Promise<void> {
    this.startPromise ??= this.doStart();
    return this.startPromise;
  }

  private async doStart(): Promise<void> {
    this.started = true;
    for (let failures = 0; ; failures++) {
      try {
        await this.settings.runOnce();
        await this.heartbeat.beat();
        break;
      } catch (err) {
        if (!isOutage(err) || this.stopping) throw err;
        const delay = reconnectDelayMs(failures);
        this.log.warn(`database unreachable at start (${errorMessage(err)}); retrying in ${delay} ms`, { scope: 'daemon' });
        // A stop() cuts the wait short.
        await new Promise<void>((r) => {
          const t = setTimeout(r, delay);
          this.interruptStart = () => {
            clearTimeout(t);
            r();
          };
        });
        this.interruptStart = null;
        if (this.stopping) return;
      }
    }
    await this.scheduler.syncConfigSchedules();
    // Before the first claim: waiting occurrences missed while no daemon ran go through their series' policy first.
    await this.scheduler.runOnce();
    // Listening before the first claim: a job or setting changed from here on is not missed.
    await this.listener?.start();
    // A stop that came while we were starting waits for this; nothing more may start.
    if (this.stopping) return;
    const limits = Object.entries(this.cfg.daemon.actionConcurrency).map(([a, n]) => `${a}=${n}`).join(', ');
    this.log.info(
      `daemon ${this.id} started: concurrency ${this.cfg.daemon.concurrency}${limits ? ` (${limits})` : ''}, ` +
        `mail via ${this.handlerServices.mailer.description}, ${this.listener ? 'LISTEN/NOTIFY with polling' : 'polling only'} ` +
        `every ${this.cfg.daemon.pollIntervalMs} ms, actions: ${[...this.handlers.keys()].filter((k) => k !== '*').join(', ')} and those mapped in xtbatch.action`,
      { scope: 'daemon' },
    );
    if (!this.settings.current.enabled) this.settings.logDisabled();
    for (const s of this.services) s.start();
    // Occurrences missed while no daemon ran are handled now, not one interval later.
    void this.scheduler.runOnce();
    this.waker.start();
  }

  /** Stops claiming, lets running jobs finish within the drain timeout, puts back the rest, deregisters. */
  stop(drainMs: number = this.cfg.daemon.drainTimeoutSeconds * 1000): Promise<void> {
    this.stopPromise ??= this.doStop(drainMs);
    return this.stopPromise;
  }

  /** A second signal: stop waiting for running jobs; they are put back at once. */
  hurry(): void {
    this.runner.hurry();
  }

  private async doStop(drainMs: number): Promise<void> {
    this.stopping = true;
    // Let a start in progress reach a safe point first: it must not use the pool after we end it.
    this.interruptStart?.();
    await this.startPromise?.catch(() => undefined);
    this.waker.stop();
    this.settleAlarms.stop();
    this.retryAlarms.stop();
    await this.listener?.stop();
    // Claimed but not started: back to the queue at once, without counting the attempt.
    this.runner.stop();
    if (this.runner.runningCount > 0) {
      this.log.info(`stopping: waiting up to ${drainMs / 1000} s for ${this.runner.runningCount} running job(s)`, { scope: 'daemon' });
      if (!(await this.runner.waitRunning(drainMs))) {
        this.log.warn(`drain timeout: putting back ${this.runner.runningCount} unfinished job(s)`, { scope: 'daemon' });
        this.runner.hurry();
        await this.runner.waitAll();
      }
    }
    // Leases must outlive the drain: keep renewing until every outcome is written.
    const written = await this.completer.drain(Math.max(5_000, drainMs));
    if (!written) this.log.warn(`could not record ${this.completer.size} outcome(s) before exit; their leases will expire and they will run again`, { scope: 'daemon' });
    this.completer.stop();
    await this.notices.drain(10_000);
    // The records of sent mail written apart (lost leases, done-notices), waiting for the database if it is away.
    // Each one still waiting after this is logged as not recorded.
    await this.mailWriters.drainApart(5_000);
    this.mailWriters.stopApart();
    await Promise.all(this.services.map((s) => s.stop()));
    await removeDaemon(this.pool, this.id).catch(() => undefined);
    this.handlerServices.mailer.close();
    if (this.ownsPool) {
      await endPool(this.pool).catch(() => undefined);
      if (this.jobPool !== this.pool) await endPool(this.jobPool).catch(() => undefined);
    }
    this.log.info(`daemon ${this.id} stopped`, { scope: 'daemon' });
  }

  // --- the loop: wake → claim → hand to the runner ------------------------------------------------------------

  /** (Re)connected: notifications sent while we were not listening are lost, so look again. */
  private onListening(): void {
    if (!this.started) return;
    this.onNotify(SETTINGS_CHANNEL);
    this.onNotify(SCHEDULES_CHANNEL);
    this.onNotify(JOBS_CHANNEL);
  }

  private onNotify(channel: string): void {
    if (channel === SETTINGS_CHANNEL) {
      void this.settings.runOnce().catch((err) => this.log.debug(`settings refresh failed: ${errorMessage(err)}`));
    } else if (channel === SCHEDULES_CHANNEL) {
      void this.scheduler.runOnce();
    } else if (channel === JOBS_CHANNEL) {
      this.mayHaveMore = true;
      this.lookForSettling ??= 'notify';
      this.waker.wake();
    }
  }

  /** One claim; returns the wait before the next when nothing wakes the loop sooner. */
  private async pass(): Promise<number> {
    this.stats.polls++;
    // ±10 % so that daemons started together drift apart instead of polling in lockstep.
    let next = Math.round(this.cfg.daemon.pollIntervalMs * (0.9 + Math.random() * 0.2));
    try {
      const free = this.runner.wanted();
      if (free > 0 && this.claiming) {
        const { full, limits } = this.runner.limits();
        this.stats.claimQueries++;
        const settling = this.lookForSettling;
        this.lookForSettling = null;
        const sentAt = performance.now();
        const rows = await this.lostClaims.claim((token) => claimDue(this.pool, this.id, free, this.cfg.daemon.leaseSeconds, full, limits, token));
        this.sizer.claimTook(performance.now() - sentAt);
        this.db.recovered();
        this.mayHaveMore = rows.length === free;
        this.runner.accept(rows, sentAt);
        if (this.mayHaveMore && this.runner.readyCount <= this.sizer.prefetch() / 2) this.waker.wakeSoon();
        // Announced, yet nothing claimable: most likely a job in its settle time. Asked beside the loop, not in
        // it (the next claim need not wait for the answer), and only then: a job started per NOTIFY costs nothing.
        // After a settle alarm, whenever the claim came back short: more jobs may be settling behind that one.
        if ((settling === 'notify' && rows.length === 0) || (settling === 'alarm' && !this.mayHaveMore)) this.scheduleSettleAlarm(next);
      } else if (free <= 0) {
        this.mayHaveMore = true;
      }
    } catch (err) {
      next = this.db.failed(err, 'claiming jobs');
    } finally {
      this.lastPollAt = Date.now();
    }
    return next;
  }

  /** An alarm for the earliest settling job, when it comes before the next poll (`withinMs`). */
  private scheduleSettleAlarm(withinMs: number): void {
    nextSettleMs(this.pool).then(
      (ms) => {
        // The server's clock says how long; the alarm counts it on ours from now (no clocks compared).
        if (ms !== null && ms < withinMs && !this.stopping) this.settleAlarms.at(new Date(Date.now() + Math.max(0, ms)));
      },
      (err) => this.log.debug(`looking for settling jobs failed: ${errorMessage(err)}`, { scope: 'daemon' }),
    );
  }

  /** Jobs are due now (an occurrence inserted, a retry's time come): claim. */
  private dueNow(): void {
    this.mayHaveMore = true;
    this.waker.wake();
  }

  private onWritten(batchId: number, written: boolean, f: Finish): void {
    this.leases.release(batchId);
    if (written && f.kind === 'retry') this.retryAlarms.at(new Date(Date.now() + f.delaySeconds * 1000));
    this.notices.written(batchId, written, f);
    // A claim may have held back for the completer's backlog.
    if (this.mayHaveMore) this.waker.wakeSoon();
    if (!written && f.kind !== 'release') {
      this.log.warn(`outcome "${f.kind}" of job ${batchId} not recorded: it was cancelled, rescheduled or taken back meanwhile`, { scope: 'job', batchId });
    }
  }
}
