import os from 'node:os';
import { performance } from 'node:perf_hooks';
import crypto from 'node:crypto';
import type { Config } from '../config';
import { endPool, isConnectionError, type Pool } from '../db/pool';
import { claimDue, extendLeases, type ActionLimit, type BatchRow, type Finish } from '../db/queries/batch';
import { forgetDeadDaemons, heartbeatDaemon, removeDaemon, type DaemonInfo } from '../db/queries/daemons';
import { KNOWN_SCHEMA_VERSION } from '../db/migrate';
import { readSettings, type Settings } from '../db/queries/settings';
import { errorMessage } from '../errors';
import { defaultHandlers, type HandlerRegistry, type Services } from '../handlers';
import type { Logger } from '../log';
import { createMailer } from '../mail/transport';
import { sentRecorder } from '../sync/recordSent';
import { noticeFor } from '../mail/notice';
import { VERSION } from '../version';
import { reconnectDelayMs } from './backoff';
import { Alarms } from './alarms';
import { Completer } from './completer';
import { executeJob, JobStopped } from './execute';
import { JobStats } from './jobStats';
import { JOBS_CHANNEL, Listener, SCHEDULES_CHANNEL, SETTINGS_CHANNEL, type ListenMode } from './listener';
import { scheduleOnce } from './scheduler';
import { removeConfigSchedulesExcept, upsertConfigSchedule } from '../db/queries/schedules';
import { rescueOnce } from './rescuer';
import { Ticker } from './ticker';

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
  /**
   * The pool handlers use (maintenance, ERP actions, reports hold a connection for a whole job). Kept apart from
   * `pool`, which carries the daemon's own claims, outcomes and lease renewals: busy handlers must never starve
   * those, or leases would expire and jobs run twice. Defaults to `pool`.
   */
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

interface Running {
  job: BatchRow;
  controller: AbortController;
  done: Promise<void>;
}

const SETTINGS_REFRESH_MS = 60_000;
/** The longest the scheduler sleeps with nothing due; a series added or changed wakes it at once (NOTIFY). */
const SCHEDULER_IDLE_MS = 300_000;

/**
 * The batch manager: claims due jobs, runs them with bounded concurrency, and keeps leases, daemon registration,
 * settings and rescues going. One instance per process; several processes may share a database.
 */
export class Daemon {
  readonly id: string;
  private readonly cfg: Config;
  private readonly pool: Pool;
  private readonly log: Logger;
  private readonly handlers: HandlerRegistry;
  private readonly services: Services;
  private readonly info: DaemonInfo;
  private readonly completer: Completer;
  private readonly listener: Listener | null;
  private readonly tickers: Ticker[];
  private readonly scheduler: Ticker;

  private readonly running = new Map<number, Running>();
  /** Jobs whose outcome awaits writing, kept for the "done"/"failed" notice sent once it is written. */
  private readonly noticeJobs = new Map<number, BatchRow>();
  private readonly noticesInFlight = new Set<Promise<void>>();
  /** Claimed ahead (daemon.prefetch) and waiting for a free slot; their leases are renewed like running ones. */
  private readonly ready: BatchRow[] = [];
  /** Moving averages, in ms, that size the claim-ahead: a new daemon assumes slow jobs (no claim-ahead). */
  private jobMs = 1000;
  private claimMs = 2;
  private readonly perAction = new Map<string, number>();
  private settings: Settings = { enabled: false, defaultFrom: null, purgeDays: null, createContacts: false, exclusions: [] };

  private pollTimer: NodeJS.Timeout | null = null;
  /** Claims at the instants of occurrences this daemon inserted ahead. */
  private readonly alarms = new Alarms(() => {
    this.mayHaveMore = true;
    this.wake();
  });
  private polling = false;
  private pollAgain = false;
  private wakeQueued = false;
  /** The last claim filled every free slot, so more jobs are probably due. */
  private mayHaveMore = false;
  private dbFailures = 0;
  private stopPromise: Promise<void> | null = null;
  private startPromise: Promise<void> | null = null;
  private interruptStart: (() => void) | null = null;
  private stopping = false;
  private started = false;
  private settingsLoaded = false;
  /** Set when a newer xtconnect migrated the database past this build: no more claims until it is upgraded. */
  private schemaAhead: number | null = null;
  private readonly knownSchema: number;
  private rescuerPasses = 0;

  /**
   * When the claim loop last finished a pass, whether it claimed, found nothing or met a database error: the
   * systemd watchdog is fed only while this keeps moving, so a loop stuck on a promise that never settles is restarted.
   */
  lastPollAt = 0;

  /** Counters for status, metrics and benchmarks. */
  readonly stats = { polls: 0, claimed: 0, done: 0, failed: 0, retried: 0, released: 0, claimQueries: 0, rescued: 0, dbErrors: 0 };

  /** Jobs by action and outcome, and their durations, for /metrics; one Map lookup per job. */
  readonly jobStats = new JobStats();

  constructor(opts: DaemonOptions) {
    this.cfg = opts.cfg;
    this.pool = opts.pool;
    this.jobPool = opts.jobPool ?? opts.pool;
    this.log = opts.log;
    this.handlers = opts.handlers ?? defaultHandlers();
    // Mail the daemon sends is recorded in xtbatch.eml like imported mail, as xTuple's batch manager did.
    this.services = opts.services ?? { mailer: createMailer(opts.cfg, { onSent: sentRecorder(this.jobPool, this.log), log: this.log }) };
    this.id = opts.id ?? `${os.hostname()}:${process.pid}:${crypto.randomBytes(3).toString('hex')}`;
    this.info = { id: this.id, host: os.hostname(), pid: process.pid, version: VERSION };
    this.ownsPool = opts.ownsPool ?? false;
    this.completer = new Completer(this.pool, this.id, this.log, (batchId, written, f) => this.onWritten(batchId, written, f));
    const listenUrl = opts.listenUrl !== undefined ? opts.listenUrl : (this.cfg.database.listenUrl ?? this.cfg.database.url);
    this.knownSchema = opts.knownSchemaVersion ?? KNOWN_SCHEMA_VERSION();
    const probe = {
      send: async (channel: string, payload: string) => void (await this.pool.query('SELECT pg_notify($1, $2)', [channel, payload])),
      timeoutMs: opts.listenProbeMs ?? 3000,
      pollIntervalMs: this.cfg.daemon.pollIntervalMs,
    };
    this.listener = this.cfg.database.listen
      ? new Listener(listenUrl, this.log, (channel) => this.onNotify(channel), () => this.onListening(), probe)
      : null;
    this.scheduler = new Ticker('scheduler', this.cfg.daemon.schedulerIntervalSeconds * 1000, () => this.schedule(), this.log);
    const leaseBeat = Math.max(250, Math.floor((this.cfg.daemon.leaseSeconds * 1000) / 3));
    const maint = this.cfg.daemon.maintenanceIntervalSeconds * 1000;
    this.tickers = [
      new Ticker('lease', leaseBeat, async () => void (await this.extendLeases()), this.log),
      new Ticker('registry', maint, () => this.heartbeat(), this.log),
      new Ticker('rescuer', maint * 2, () => this.rescue(), this.log),
      new Ticker('settings', SETTINGS_REFRESH_MS, () => this.refreshSettings(), this.log),
      this.scheduler,
    ];
  }

  private readonly ownsPool: boolean;
  private readonly jobPool: Pool;

  get runningCount(): number {
    return this.running.size;
  }

  /** Claimed ahead and waiting for a free slot. */
  get readyCount(): number {
    return this.ready.length;
  }

  /** Whether the claim loop asks for jobs: started, not stopping, EnableBatchManager on, schema not ahead. */
  get claiming(): boolean {
    return this.started && !this.stopping && this.settings.enabled && this.schemaAhead === null;
  }

  /** Outcomes not yet written (the database is slow or away). */
  get pendingOutcomes(): number {
    return this.completer.size;
  }

  /** Failed statements of the daemon's own (claims, outcomes, leases, heartbeats), for /metrics. */
  get dbErrors(): number {
    return this.stats.dbErrors + this.completer.errors;
  }

  health(): DaemonHealth {
    return {
      started: this.started,
      stopping: this.stopping,
      lastPollAt: this.lastPollAt,
      claiming: this.claiming,
      enabled: this.settings.enabled,
      schemaAhead: this.schemaAhead,
      knownSchemaVersion: this.knownSchema,
      dbFailures: this.dbFailures,
      listenMode: this.listener ? this.listener.mode : 'off',
      running: this.running.size,
    };
  }

  /** Runs a scheduler pass now (tests, and `schedule add` on a running daemon through NOTIFY later). */
  runSchedulerNow(): Promise<void> {
    return this.scheduler.runNow();
  }

  get currentSettings(): Settings {
    return this.settings;
  }

  /**
   * Reads settings and registers the daemon (waiting, with backoff, for a database that is not up yet), then
   * starts listening, the maintenance tickers, the daily purge and the first poll.
   */
  start(): Promise<void> {
    this.startPromise ??= this.doStart();
    return this.startPromise;
  }

  private async doStart(): Promise<void> {
    this.started = true;
    for (let failures = 0; ; failures++) {
      try {
        await this.refreshSettings();
        const beat = await heartbeatDaemon(this.pool, this.info, 0, this.settings.enabled);
        if (this.checkSchemaVersion(beat.schemaVersion)) await heartbeatDaemon(this.pool, this.info, 0, false);
        break;
      } catch (err) {
        if (!isConnectionError(err) || this.stopping) throw err;
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
    await this.syncConfigSchedules();
    // Before the first claim: waiting occurrences missed while no daemon ran go through their series' policy first.
    await this.scheduler.runNow();
    // Listening before the first poll: a job or setting changed from here on is not missed.
    await this.listener?.start();
    // A stop that came while we were starting waits for this; nothing more may start.
    if (this.stopping) return;
    const limits = Object.entries(this.cfg.daemon.actionConcurrency).map(([a, n]) => `${a}=${n}`).join(', ');
    this.log.info(
      `daemon ${this.id} started: concurrency ${this.cfg.daemon.concurrency}${limits ? ` (${limits})` : ''}, ` +
        `mail via ${this.services.mailer.description}, ${this.listener ? 'LISTEN/NOTIFY with polling' : 'polling only'} ` +
        `every ${this.cfg.daemon.pollIntervalMs} ms, actions: ${[...this.handlers.keys()].filter((k) => k !== '*').join(', ')} and those mapped in xtbatch.action`,
      { scope: 'daemon' },
    );
    if (!this.settings.enabled) this.logDisabled();
    for (const t of this.tickers) t.start();
    // Occurrences missed while no daemon ran are handled now, not one interval later.
    void this.scheduler.runNow();
    this.wake();
  }

  /** Stops claiming, lets running jobs finish within the drain timeout, puts back the rest, deregisters. */
  stop(drainMs: number = this.cfg.daemon.drainTimeoutSeconds * 1000): Promise<void> {
    this.stopPromise ??= this.doStop(drainMs);
    return this.stopPromise;
  }

  /** A second signal: stop waiting for running jobs; they are put back at once. */
  hurry(): void {
    for (const r of this.running.values()) r.controller.abort(new JobStopped('shutdown'));
  }

  private async doStop(drainMs: number): Promise<void> {
    this.stopping = true;
    // Let a start in progress reach a safe point first: it must not use the pool after we end it.
    this.interruptStart?.();
    await this.startPromise?.catch(() => undefined);
    if (this.pollTimer) clearTimeout(this.pollTimer);
    this.pollTimer = null;
    this.alarms.stop();
    await this.listener?.stop();
    // Claimed but not started: back to the queue at once, without counting the attempt.
    for (const j of this.ready.splice(0)) {
      this.completer.push({ batchId: j.batch_id, attempt: j.batch_attempts, kind: 'release', message: null, delaySeconds: 0, result: null });
    }
    const waiting = [...this.running.values()].map((r) => r.done);
    if (waiting.length > 0) {
      this.log.info(`stopping: waiting up to ${drainMs / 1000} s for ${waiting.length} running job(s)`, { scope: 'daemon' });
      let t: NodeJS.Timeout | undefined;
      await Promise.race([Promise.all(waiting), new Promise((r) => { t = setTimeout(r, drainMs); })]);
      clearTimeout(t);
      if (this.running.size > 0) {
        this.log.warn(`drain timeout: putting back ${this.running.size} unfinished job(s)`, { scope: 'daemon' });
        this.hurry();
        await Promise.all([...this.running.values()].map((r) => r.done));
      }
    }
    // Leases must outlive the drain: keep the lease ticker until every outcome is written.
    const written = await this.completer.drain(Math.max(5_000, drainMs));
    if (!written) this.log.warn(`could not record ${this.completer.size} outcome(s) before exit; their leases will expire and they will run again`, { scope: 'daemon' });
    this.completer.stop();
    if (this.noticesInFlight.size > 0) {
      let t: NodeJS.Timeout | undefined;
      await Promise.race([Promise.all(this.noticesInFlight), new Promise((r) => { t = setTimeout(r, 10_000); })]);
      clearTimeout(t);
    }
    await Promise.all(this.tickers.map((t) => t.stop()));
    await removeDaemon(this.pool, this.id).catch(() => undefined);
    this.services.mailer.close();
    if (this.ownsPool) {
      await endPool(this.pool).catch(() => undefined);
      if (this.jobPool !== this.pool) await endPool(this.jobPool).catch(() => undefined);
    }
    this.log.info(`daemon ${this.id} stopped`, { scope: 'daemon' });
  }

  // --- claiming -------------------------------------------------------------------------------------------

  /** (Re)connected: notifications sent while we were not listening are lost, so look again. */
  private onListening(): void {
    if (!this.started) return;
    this.onNotify(SETTINGS_CHANNEL);
    this.onNotify(SCHEDULES_CHANNEL);
    this.onNotify(JOBS_CHANNEL);
  }

  private onNotify(channel: string): void {
    if (channel === SETTINGS_CHANNEL) {
      void this.refreshSettings().catch((err) => this.log.debug(`settings refresh failed: ${errorMessage(err)}`));
    } else if (channel === SCHEDULES_CHANNEL) {
      void this.scheduler.runNow();
    } else if (channel === JOBS_CHANNEL) {
      this.mayHaveMore = true;
      this.wake();
    }
  }

  /** Coalesces every wake-up of one event-loop turn (ten jobs finishing together) into one claim. */
  private wakeSoon(): void {
    if (this.wakeQueued) return;
    this.wakeQueued = true;
    setImmediate(() => {
      this.wakeQueued = false;
      this.wake();
    });
  }

  private wake(): void {
    if (this.stopping || !this.started) return;
    if (this.polling) {
      this.pollAgain = true;
      return;
    }
    if (this.pollTimer) clearTimeout(this.pollTimer);
    this.pollTimer = null;
    void this.poll();
  }

  private schedulePoll(ms: number): void {
    if (this.stopping) return;
    if (this.pollTimer) clearTimeout(this.pollTimer);
    this.pollTimer = setTimeout(() => {
      this.pollTimer = null;
      this.wake();
    }, ms);
  }

  private limits(): { full: string[]; limits: ActionLimit[] } {
    const full: string[] = [];
    const limits: ActionLimit[] = [];
    for (const [action, max] of Object.entries(this.cfg.daemon.actionConcurrency)) {
      const remaining = max - (this.perAction.get(action) ?? 0);
      if (remaining <= 0) full.push(action);
      else limits.push({ action, remaining });
    }
    return { full, limits };
  }

  private async poll(): Promise<void> {
    this.polling = true;
    this.stats.polls++;
    // ±10 % so that daemons started together drift apart instead of polling in lockstep.
    let next = Math.round(this.cfg.daemon.pollIntervalMs * (0.9 + Math.random() * 0.2));
    try {
      const { concurrency } = this.cfg.daemon;
      // Outcomes not yet written keep their rows "running" and their leases renewed: never outrun the completer.
      const backlog = Math.max(0, this.completer.size - Math.max(4 * concurrency, this.cfg.daemon.prefetch));
      const free = concurrency + this.prefetch() - this.running.size - this.ready.length - backlog;
      if (free > 0 && this.settings.enabled && this.schemaAhead === null) {
        const { full, limits } = this.limits();
        this.stats.claimQueries++;
        const t0 = performance.now();
        const rows = await claimDue(this.pool, this.id, free, this.cfg.daemon.leaseSeconds, full, limits);
        this.claimMs = 0.8 * this.claimMs + 0.2 * (performance.now() - t0);
        this.dbRecovered();
        this.mayHaveMore = rows.length === free;
        for (const row of rows) {
          this.perAction.set(row.batch_action, (this.perAction.get(row.batch_action) ?? 0) + 1);
          this.ready.push(row);
        }
        this.drainReady();
      } else if (free <= 0) {
        this.mayHaveMore = true;
      }
    } catch (err) {
      next = this.dbFailed(err, 'claiming jobs');
    } finally {
      this.polling = false;
      this.lastPollAt = Date.now();
    }
    if (this.pollAgain) {
      this.pollAgain = false;
      this.wakeSoon();
    } else {
      this.schedulePoll(next);
    }
  }

  /**
   * How many jobs to claim ahead of free slots: enough to keep every slot busy for one claim's round trip, from
   * the measured job and claim times, capped by daemon.prefetch. Fast jobs (no-ops, short actions) are claimed
   * hundreds at a time; slow ones (mail, reports) are not claimed ahead at all, so that other daemons can take
   * them and no job shows as started long before it runs.
   */
  private prefetch(): number {
    const { concurrency, prefetch } = this.cfg.daemon;
    const want = Math.ceil((concurrency * this.claimMs) / Math.max(this.jobMs, 0.01));
    return Math.min(prefetch, want);
  }

  /** Starts claimed jobs while there are free slots; asks for more when the local queue runs low. */
  private drainReady(): void {
    while (this.running.size < this.cfg.daemon.concurrency && this.ready.length > 0 && !this.stopping) this.run(this.ready.shift()!);
    if (this.mayHaveMore && this.ready.length <= this.prefetch() / 2) this.wakeSoon();
  }

  private run(job: BatchRow): void {
    this.stats.claimed++;
    const controller = new AbortController();
    const log = this.log.child({ scope: 'job', batchId: job.batch_id, action: job.batch_action });
    log.info(`claimed (attempt ${job.batch_attempts})`);
    const done = executeJob(job, controller, { cfg: this.cfg, pool: this.jobPool, handlers: this.handlers, services: this.services, settings: () => this.settings }, log)
      .then(({ finish, ms }) => {
        this.jobMs = 0.9 * this.jobMs + 0.1 * ms;
        this.jobStats.record(job.batch_action, finish ? finish.kind : 'lost', ms);
        this.running.delete(job.batch_id);
        this.perAction.set(job.batch_action, (this.perAction.get(job.batch_action) ?? 1) - 1);
        if (finish) {
          this.logOutcome(log, finish, ms);
          if ((finish.kind === 'done' || finish.kind === 'failed') && job.batch_email) this.noticeJobs.set(job.batch_id, job);
          this.completer.push(finish);
        } else {
          log.warn('stopped: the job was cancelled or taken back by another daemon; nothing recorded');
        }
        this.drainReady();
        if (this.mayHaveMore) this.wakeSoon();
      });
    this.running.set(job.batch_id, { job, controller, done });
  }

  private logOutcome(log: Logger, f: Finish, ms: number): void {
    switch (f.kind) {
      case 'done':
        this.stats.done++;
        log.info(`done in ${ms} ms`);
        break;
      case 'failed':
        this.stats.failed++;
        log.warn(`failed: ${f.message}`);
        break;
      case 'retry':
        this.stats.retried++;
        log.warn(`will retry in ${Math.round(f.delaySeconds)} s: ${f.message}`);
        break;
      case 'release':
        this.stats.released++;
        log.info('put back unfinished (shutdown); it will run again');
        break;
    }
  }

  private onWritten(batchId: number, written: boolean, f: Finish): void {
    // The notice goes only once the outcome is recorded: a job cancelled meanwhile gets none.
    const job = this.noticeJobs.get(batchId);
    this.noticeJobs.delete(batchId);
    if (written && job && (f.kind === 'done' || f.kind === 'failed')) this.sendNotice(job, f);
    // A claim may have held back for the completer's backlog.
    if (this.mayHaveMore) this.wakeSoon();
    if (!written && f.kind !== 'release') {
      this.log.warn(`outcome "${f.kind}" of job ${batchId} not recorded: it was cancelled, rescheduled or taken back meanwhile`, { scope: 'job', batchId });
    }
  }

  /** xTuple's short "done"/"failed" email to the submitter of an action job (batch_email). */
  private sendNotice(job: BatchRow, f: Finish): void {
    const mail = noticeFor(job, { kind: f.kind as 'done' | 'failed', message: f.message, result: f.result, completed: new Date() }, this.settings.defaultFrom);
    if (!mail) return;
    const p = this.services.mailer.send(mail, `notice-${job.batch_id}`).then(
      () => void this.log.info(`sent the ${f.kind} notice of job ${job.batch_id} to ${job.batch_email}`, { scope: 'job', batchId: job.batch_id }),
      (err) => void this.log.warn(`could not send the ${f.kind} notice of job ${job.batch_id}: ${errorMessage(err)}`, { scope: 'job', batchId: job.batch_id }),
    );
    this.noticesInFlight.add(p);
    void p.finally(() => this.noticesInFlight.delete(p));
  }

  // --- maintenance ----------------------------------------------------------------------------------------

  /** The config file's series (and the built-in purge) become rows that every daemon shares. */
  private async syncConfigSchedules(): Promise<void> {
    for (const def of this.cfg.schedules) {
      const what = await upsertConfigSchedule(this.pool, def);
      if (what !== 'unchanged') this.log.info(`series "${def.name}" (${def.action}) ${what} from the config file`, { scope: 'scheduler' });
    }
    const gone = await removeConfigSchedulesExcept(this.pool, this.cfg.schedules.map((d) => d.name!));
    for (const name of gone) this.log.info(`series "${name}" is no longer in the config file: removed`, { scope: 'scheduler' });
  }

  /**
   * Inserts due occurrences a little ahead (twice the interval), so they start on time from the claim loop. Then
   * sleeps until the earliest series needs it again (at most 5 minutes; a changed series wakes it by NOTIFY), so
   * an idle daemon with only a nightly purge does not ask every interval.
   */
  private async schedule(): Promise<number> {
    const interval = this.cfg.daemon.schedulerIntervalSeconds * 1000;
    const horizonMs = 2 * interval;
    try {
      const r = await scheduleOnce(this.pool, this.log, { horizonMs, graceMs: Math.max(60_000, 2 * interval, 3 * this.cfg.daemon.maintenanceIntervalSeconds * 1000) });
      this.dbRecovered();
      for (const at of r.upcoming) this.alarms.at(at);
      if (!r.earliestNext) return SCHEDULER_IDLE_MS;
      return Math.min(SCHEDULER_IDLE_MS, Math.max(interval, r.earliestNext.getTime() - Date.now() - horizonMs / 2));
    } catch (err) {
      this.dbFailed(err, 'scheduling repeating jobs');
      return interval;
    }
  }

  /** Renews the leases of every job this daemon holds; false when the database could not be reached. */
  private async extendLeases(): Promise<boolean> {
    const asked = new Map([...this.running].map(([id, r]) => [id, r.job.batch_attempts]));
    const queued = new Map(this.ready.map((j) => [j.batch_id, j.batch_attempts]));
    const ids = [...asked.keys(), ...queued.keys(), ...this.completer.pendingIds];
    if (ids.length === 0) return true;
    let held: Set<number>;
    try {
      held = await extendLeases(this.pool, this.id, ids, this.cfg.daemon.leaseSeconds);
      this.dbRecovered();
    } catch (err) {
      this.dbFailed(err, 'renewing leases');
      return false;
    }
    // Only the runs asked about: a job claimed (or claimed again) while this query was in flight is ours.
    for (const [id, attempt] of asked) {
      const r = this.running.get(id);
      if (!held.has(id) && r?.job.batch_attempts === attempt) r.controller.abort(new JobStopped('lost'));
    }
    // A queued job cancelled meanwhile is simply not started.
    for (let i = this.ready.length - 1; i >= 0; i--) {
      const j = this.ready[i]!;
      if (queued.get(j.batch_id) === j.batch_attempts && !held.has(j.batch_id)) {
        this.ready.splice(i, 1);
        this.perAction.set(j.batch_action, (this.perAction.get(j.batch_action) ?? 1) - 1);
      }
    }
    return true;
  }

  private async heartbeat(): Promise<void> {
    try {
      const beat = await heartbeatDaemon(this.pool, this.info, this.running.size, this.claiming);
      this.dbRecovered();
      // The row must say at once that this daemon stopped (or resumed) claiming: status reads it.
      if (this.checkSchemaVersion(beat.schemaVersion)) await heartbeatDaemon(this.pool, this.info, this.running.size, this.claiming);
    } catch (err) {
      this.dbFailed(err, 'heartbeat');
    }
    // Jobs start by polling while NOTIFY does not arrive; ask again, so a fixed setup (or a PgBouncer that went
    // away) is noticed without a restart. One NOTIFY per heartbeat, only in that state.
    if (this.listener?.connected && this.listener.mode !== 'notify') void this.listener.checkDelivery();
  }

  /**
   * A newer xtconnect migrated the database: this build may not understand the rows any more, so it stops
   * claiming (running jobs finish and their outcomes are written) and says so, until it is upgraded and
   * restarted. True when the state changed.
   */
  private checkSchemaVersion(version: number): boolean {
    const ahead = version > this.knownSchema ? version : null;
    if (ahead === this.schemaAhead) return false;
    this.schemaAhead = ahead;
    if (ahead !== null) {
      this.log.error(
        `the database schema is now at version ${ahead}, newer than this xtconnect ${VERSION} knows (${this.knownSchema}): ` +
          `claiming no more jobs (running ones finish); upgrade xtconnect on ${this.info.host} and restart it`,
        { scope: 'daemon' },
      );
    } else {
      this.log.info(`the database schema is at a version this xtconnect knows again: claiming jobs`, { scope: 'daemon' });
      this.wake();
    }
    return true;
  }

  private async rescue(): Promise<void> {
    // Our own leases first: after an outage longer than the lease, the jobs we are still running (or whose
    // outcome we still hold) have expired leases too, and our own rescuer must not take them back.
    if (!(await this.extendLeases())) return;
    try {
      this.stats.rescued += await rescueOnce(this.pool, this.cfg.daemon.maxAttempts, this.log);
      // Rows of daemons killed without deregistering stay a day for status; dropping them is rare work.
      if (this.rescuerPasses++ % 100 === 0) await forgetDeadDaemons(this.pool);
      this.dbRecovered();
    } catch (err) {
      this.dbFailed(err, 'taking back jobs of stopped daemons');
    }
  }

  private async refreshSettings(): Promise<void> {
    const before = this.settings;
    this.settings = await readSettings(this.pool);
    if (!this.settingsLoaded || this.stopping) {
      this.settingsLoaded = true;
      return;
    }
    if (before.enabled && !this.settings.enabled) {
      this.logDisabled();
      void this.heartbeat();
    } else if (!before.enabled && this.settings.enabled) {
      this.log.info('EnableBatchManager is on again: claiming jobs', { scope: 'daemon' });
      void this.heartbeat();
      this.wake();
    }
  }

  private logDisabled(): void {
    this.log.warn('xTuple Connect is disabled (EnableBatchManager is off): claiming no jobs until it is turned on', { scope: 'daemon' });
  }

  private dbFailed(err: unknown, doing: string): number {
    this.stats.dbErrors++;
    if (!isConnectionError(err)) {
      this.log.error(`${doing} failed: ${errorMessage(err)}`, { scope: 'daemon' });
      return this.cfg.daemon.pollIntervalMs;
    }
    if (this.dbFailures === 0) {
      this.log.warn(`database unreachable while ${doing} (${errorMessage(err)}); retrying with backoff, no job is lost`, { scope: 'daemon' });
    }
    return reconnectDelayMs(this.dbFailures++);
  }

  private dbRecovered(): void {
    if (this.dbFailures > 0) {
      this.log.info(`database reachable again after ${this.dbFailures} failed attempt(s)`, { scope: 'daemon' });
      this.dbFailures = 0;
    }
  }
}
