"use strict";
var __importDefault = (this && this.__importDefault) || function (mod) {
    return (mod && mod.__esModule) ? mod : { "default": mod };
};
Object.defineProperty(exports, "__esModule", { value: true });
exports.Daemon = void 0;
const node_os_1 = __importDefault(require("node:os"));
const node_crypto_1 = __importDefault(require("node:crypto"));
const pool_1 = require("../db/pool");
const batch_1 = require("../db/queries/batch");
const daemons_1 = require("../db/queries/daemons");
const settings_1 = require("../db/queries/settings");
const errors_1 = require("../errors");
const handlers_1 = require("../handlers");
const transport_1 = require("../mail/transport");
const version_1 = require("../version");
const backoff_1 = require("./backoff");
const completer_1 = require("./completer");
const execute_1 = require("./execute");
const listener_1 = require("./listener");
const purger_1 = require("./purger");
const rescuer_1 = require("./rescuer");
const ticker_1 = require("./ticker");
const SETTINGS_REFRESH_MS = 60_000;
/**
 * The batch manager: claims due jobs, runs them with bounded concurrency, and keeps leases, daemon registration,
 * settings and rescues going. One instance per process; several processes may share a database.
 */
class Daemon {
    id;
    cfg;
    pool;
    log;
    handlers;
    services;
    info;
    completer;
    listener;
    tickers;
    purgeTask = null;
    running = new Map();
    perAction = new Map();
    settings = { enabled: false, defaultFrom: null, purgeDays: null, createContacts: false, exclusions: [] };
    pollTimer = null;
    polling = false;
    pollAgain = false;
    wakeQueued = false;
    /** The last claim filled every free slot, so more jobs are probably due. */
    mayHaveMore = false;
    dbFailures = 0;
    stopPromise = null;
    stopping = false;
    started = false;
    settingsLoaded = false;
    /** Counters for status, metrics and benchmarks. */
    stats = { polls: 0, claimed: 0, done: 0, failed: 0, retried: 0, released: 0, claimQueries: 0 };
    constructor(opts) {
        this.cfg = opts.cfg;
        this.pool = opts.pool;
        this.log = opts.log;
        this.handlers = opts.handlers ?? (0, handlers_1.defaultHandlers)();
        this.services = opts.services ?? { mailer: (0, transport_1.createMailer)(opts.cfg) };
        this.id = opts.id ?? `${node_os_1.default.hostname()}:${process.pid}:${node_crypto_1.default.randomBytes(3).toString('hex')}`;
        this.info = { id: this.id, host: node_os_1.default.hostname(), pid: process.pid, version: version_1.VERSION };
        this.ownsPool = opts.ownsPool ?? false;
        this.completer = new completer_1.Completer(this.pool, this.id, this.log, (batchId, written, f) => this.onWritten(batchId, written, f));
        const listenUrl = opts.listenUrl !== undefined ? opts.listenUrl : (this.cfg.database.listenUrl ?? this.cfg.database.url);
        this.listener = this.cfg.database.listen
            ? new listener_1.Listener(listenUrl, this.log, (channel) => this.onNotify(channel), () => this.onListening())
            : null;
        const leaseBeat = Math.max(250, Math.floor((this.cfg.daemon.leaseSeconds * 1000) / 3));
        const maint = this.cfg.daemon.maintenanceIntervalSeconds * 1000;
        this.tickers = [
            new ticker_1.Ticker('lease', leaseBeat, () => this.extendLeases(), this.log),
            new ticker_1.Ticker('registry', maint, () => this.heartbeat(), this.log),
            new ticker_1.Ticker('rescuer', maint * 2, async () => void (await (0, rescuer_1.rescueOnce)(this.pool, this.cfg.daemon.maxAttempts, this.log)), this.log),
            new ticker_1.Ticker('settings', SETTINGS_REFRESH_MS, () => this.refreshSettings(), this.log),
        ];
    }
    ownsPool;
    get runningCount() {
        return this.running.size;
    }
    get currentSettings() {
        return this.settings;
    }
    /**
     * Reads settings and registers the daemon (waiting, with backoff, for a database that is not up yet), then
     * starts listening, the maintenance tickers, the daily purge and the first poll.
     */
    async start() {
        if (this.started)
            return;
        this.started = true;
        for (let failures = 0;; failures++) {
            try {
                await this.refreshSettings();
                await (0, daemons_1.heartbeatDaemon)(this.pool, this.info, 0, this.settings.enabled);
                break;
            }
            catch (err) {
                if (!(0, pool_1.isConnectionError)(err) || this.stopping)
                    throw err;
                const delay = (0, backoff_1.reconnectDelayMs)(failures);
                this.log.warn(`database unreachable at start (${(0, errors_1.errorMessage)(err)}); retrying in ${delay} ms`, { scope: 'daemon' });
                await new Promise((r) => setTimeout(r, delay));
            }
        }
        const limits = Object.entries(this.cfg.daemon.actionConcurrency).map(([a, n]) => `${a}=${n}`).join(', ');
        this.log.info(`daemon ${this.id} started: concurrency ${this.cfg.daemon.concurrency}${limits ? ` (${limits})` : ''}, ` +
            `mail via ${this.services.mailer.description}, ${this.listener ? 'LISTEN/NOTIFY with polling' : 'polling only'} ` +
            `every ${this.cfg.daemon.pollIntervalMs} ms, actions: ${[...this.handlers.keys()].join(', ')}`, { scope: 'daemon' });
        if (!this.settings.enabled)
            this.logDisabled();
        // Listening before the first poll: a job or setting changed from here on is not missed.
        await this.listener?.start();
        for (const t of this.tickers)
            t.start();
        this.purgeTask = (0, purger_1.schedulePurge)(this.cfg.daemon.purgeSchedule, this.pool, this.log);
        this.wake();
    }
    /** Stops claiming, lets running jobs finish within the drain timeout, puts back the rest, deregisters. */
    stop(drainMs = this.cfg.daemon.drainTimeoutSeconds * 1000) {
        this.stopPromise ??= this.doStop(drainMs);
        return this.stopPromise;
    }
    /** A second signal: stop waiting for running jobs; they are put back at once. */
    hurry() {
        for (const r of this.running.values())
            r.controller.abort(new execute_1.JobStopped('shutdown'));
    }
    async doStop(drainMs) {
        this.stopping = true;
        if (this.pollTimer)
            clearTimeout(this.pollTimer);
        this.pollTimer = null;
        await this.purgeTask?.stop();
        await this.listener?.stop();
        const waiting = [...this.running.values()].map((r) => r.done);
        if (waiting.length > 0) {
            this.log.info(`stopping: waiting up to ${drainMs / 1000} s for ${waiting.length} running job(s)`, { scope: 'daemon' });
            let t;
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
        if (!written)
            this.log.warn(`could not record ${this.completer.size} outcome(s) before exit; their leases will expire and they will run again`, { scope: 'daemon' });
        this.completer.stop();
        await Promise.all(this.tickers.map((t) => t.stop()));
        await (0, daemons_1.removeDaemon)(this.pool, this.id).catch(() => undefined);
        this.services.mailer.close();
        if (this.ownsPool)
            await this.pool.end().catch(() => undefined);
        this.log.info(`daemon ${this.id} stopped`, { scope: 'daemon' });
    }
    // --- claiming -------------------------------------------------------------------------------------------
    /** (Re)connected: notifications sent while we were not listening are lost, so look again. */
    onListening() {
        if (!this.started)
            return;
        this.onNotify(listener_1.SETTINGS_CHANNEL);
        this.onNotify(listener_1.JOBS_CHANNEL);
    }
    onNotify(channel) {
        if (channel === listener_1.SETTINGS_CHANNEL) {
            void this.refreshSettings().catch((err) => this.log.debug(`settings refresh failed: ${(0, errors_1.errorMessage)(err)}`));
        }
        else if (channel === listener_1.JOBS_CHANNEL) {
            this.mayHaveMore = true;
            this.wake();
        }
    }
    /** Coalesces every wake-up of one event-loop turn (ten jobs finishing together) into one claim. */
    wakeSoon() {
        if (this.wakeQueued)
            return;
        this.wakeQueued = true;
        setImmediate(() => {
            this.wakeQueued = false;
            this.wake();
        });
    }
    wake() {
        if (this.stopping || !this.started)
            return;
        if (this.polling) {
            this.pollAgain = true;
            return;
        }
        if (this.pollTimer)
            clearTimeout(this.pollTimer);
        this.pollTimer = null;
        void this.poll();
    }
    schedulePoll(ms) {
        if (this.stopping)
            return;
        if (this.pollTimer)
            clearTimeout(this.pollTimer);
        this.pollTimer = setTimeout(() => {
            this.pollTimer = null;
            this.wake();
        }, ms);
    }
    limits() {
        const full = [];
        const limits = [];
        for (const [action, max] of Object.entries(this.cfg.daemon.actionConcurrency)) {
            const remaining = max - (this.perAction.get(action) ?? 0);
            if (remaining <= 0)
                full.push(action);
            else
                limits.push({ action, remaining });
        }
        return { full, limits };
    }
    async poll() {
        this.polling = true;
        this.stats.polls++;
        // ±10 % so that daemons started together drift apart instead of polling in lockstep.
        let next = Math.round(this.cfg.daemon.pollIntervalMs * (0.9 + Math.random() * 0.2));
        try {
            const free = this.cfg.daemon.concurrency - this.running.size;
            if (free > 0 && this.settings.enabled) {
                const { full, limits } = this.limits();
                this.stats.claimQueries++;
                const rows = await (0, batch_1.claimDue)(this.pool, this.id, free, this.cfg.daemon.leaseSeconds, full, limits);
                this.dbRecovered();
                this.mayHaveMore = rows.length === free;
                for (const row of rows)
                    this.run(row);
            }
            else if (free <= 0) {
                this.mayHaveMore = true;
            }
        }
        catch (err) {
            next = this.dbFailed(err, 'claiming jobs');
        }
        finally {
            this.polling = false;
        }
        if (this.pollAgain) {
            this.pollAgain = false;
            this.wakeSoon();
        }
        else {
            this.schedulePoll(next);
        }
    }
    run(job) {
        this.stats.claimed++;
        const controller = new AbortController();
        const log = this.log.child({ scope: 'job', batchId: job.batch_id, action: job.batch_action });
        log.info(`claimed (attempt ${job.batch_attempts})`);
        this.perAction.set(job.batch_action, (this.perAction.get(job.batch_action) ?? 0) + 1);
        const done = (0, execute_1.executeJob)(job, controller, { cfg: this.cfg, pool: this.pool, handlers: this.handlers, services: this.services, settings: () => this.settings }, log)
            .then(({ finish, ms }) => {
            this.running.delete(job.batch_id);
            this.perAction.set(job.batch_action, (this.perAction.get(job.batch_action) ?? 1) - 1);
            if (finish) {
                this.logOutcome(log, finish, ms);
                this.completer.push(finish);
            }
            else {
                log.warn('stopped: the job was cancelled or taken back by another daemon; nothing recorded');
            }
            if (this.mayHaveMore)
                this.wakeSoon();
        });
        this.running.set(job.batch_id, { job, controller, done });
    }
    logOutcome(log, f, ms) {
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
    onWritten(batchId, written, f) {
        if (!written && f.kind !== 'release') {
            this.log.warn(`outcome "${f.kind}" of job ${batchId} not recorded: it was cancelled, rescheduled or taken back meanwhile`, { scope: 'job', batchId });
        }
    }
    // --- maintenance ----------------------------------------------------------------------------------------
    async extendLeases() {
        const asked = new Map([...this.running].map(([id, r]) => [id, r.job.batch_attempts]));
        const ids = [...asked.keys(), ...this.completer.pendingIds];
        if (ids.length === 0)
            return;
        let held;
        try {
            held = await (0, batch_1.extendLeases)(this.pool, this.id, ids, this.cfg.daemon.leaseSeconds);
            this.dbRecovered();
        }
        catch (err) {
            this.dbFailed(err, 'renewing leases');
            return;
        }
        // Only the runs asked about: a job claimed (or claimed again) while this query was in flight is ours.
        for (const [id, attempt] of asked) {
            const r = this.running.get(id);
            if (!held.has(id) && r?.job.batch_attempts === attempt)
                r.controller.abort(new execute_1.JobStopped('lost'));
        }
    }
    async heartbeat() {
        try {
            await (0, daemons_1.heartbeatDaemon)(this.pool, this.info, this.running.size, this.settings.enabled);
            this.dbRecovered();
        }
        catch (err) {
            this.dbFailed(err, 'heartbeat');
        }
    }
    async refreshSettings() {
        const before = this.settings;
        this.settings = await (0, settings_1.readSettings)(this.pool);
        if (!this.settingsLoaded || this.stopping) {
            this.settingsLoaded = true;
            return;
        }
        if (before.enabled && !this.settings.enabled) {
            this.logDisabled();
            void this.heartbeat();
        }
        else if (!before.enabled && this.settings.enabled) {
            this.log.info('EnableBatchManager is on again: claiming jobs', { scope: 'daemon' });
            void this.heartbeat();
            this.wake();
        }
    }
    logDisabled() {
        this.log.warn('xTuple Connect is disabled (EnableBatchManager is off): claiming no jobs until it is turned on', { scope: 'daemon' });
    }
    dbFailed(err, doing) {
        if (!(0, pool_1.isConnectionError)(err)) {
            this.log.error(`${doing} failed: ${(0, errors_1.errorMessage)(err)}`, { scope: 'daemon' });
            return this.cfg.daemon.pollIntervalMs;
        }
        if (this.dbFailures === 0) {
            this.log.warn(`database unreachable while ${doing} (${(0, errors_1.errorMessage)(err)}); retrying with backoff, no job is lost`, { scope: 'daemon' });
        }
        return (0, backoff_1.reconnectDelayMs)(this.dbFailures++);
    }
    dbRecovered() {
        if (this.dbFailures > 0) {
            this.log.info(`database reachable again after ${this.dbFailures} failed attempt(s)`, { scope: 'daemon' });
            this.dbFailures = 0;
        }
    }
}
exports.Daemon = Daemon;
//# sourceMappingURL=loop.js.map