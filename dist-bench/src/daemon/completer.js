"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.Completer = void 0;
const batch_1 = require("../db/queries/batch");
const pool_1 = require("../db/pool");
const errors_1 = require("../errors");
const backoff_1 = require("./backoff");
const MAX_BATCH = 1000;
/**
 * Writes job outcomes, many per statement. Finishes that arrive while a write is in flight go in the next one,
 * so under load each round trip carries a batch, and an idle daemon writes each outcome at once.
 *
 * While the database is unreachable the outcomes wait here and are retried with backoff: a job that ran is never
 * forgotten because the write failed. Until written, its id stays in `pending` so the lease heartbeat keeps it.
 */
class Completer {
    pool;
    owner;
    log;
    onWritten;
    queue = [];
    flushing = null;
    timer = null;
    failures = 0;
    idleWaiters = [];
    constructor(pool, owner, log, onWritten = () => undefined) {
        this.pool = pool;
        this.owner = owner;
        this.log = log;
        this.onWritten = onWritten;
    }
    get pendingIds() {
        return this.queue.map((f) => f.batchId);
    }
    get size() {
        return this.queue.length;
    }
    push(f) {
        this.queue.push(f);
        if (!this.flushing && !this.timer)
            this.flushing = this.flush();
    }
    /** Resolves when nothing is waiting to be written, or after `timeoutMs`. */
    async drain(timeoutMs) {
        if (this.queue.length === 0 && !this.flushing)
            return true;
        if (this.timer) {
            clearTimeout(this.timer);
            this.timer = null;
            this.flushing ??= this.flush();
        }
        let t;
        const done = await Promise.race([
            new Promise((resolve) => this.idleWaiters.push(() => resolve(true))),
            new Promise((resolve) => { t = setTimeout(() => resolve(false), timeoutMs); }),
        ]);
        clearTimeout(t);
        return done;
    }
    stop() {
        if (this.timer)
            clearTimeout(this.timer);
        this.timer = null;
    }
    async flush() {
        while (this.queue.length > 0) {
            const batch = this.queue.slice(0, MAX_BATCH);
            try {
                const written = await (0, batch_1.finishMany)(this.pool, this.owner, batch);
                this.queue.splice(0, batch.length);
                this.failures = 0;
                for (const f of batch)
                    this.onWritten(f.batchId, written.has(f.batchId), f);
            }
            catch (err) {
                if (!(0, pool_1.isConnectionError)(err) && batch.length === 1) {
                    // Not the network and not the batch: this one write cannot succeed. Its lease will expire and the job
                    // will be taken back, so it is not lost; keeping it would block every outcome behind it.
                    this.queue.shift();
                    this.log.error(`could not record the outcome of job ${batch[0].batchId}: ${(0, errors_1.errorMessage)(err)}`, { scope: 'completer' });
                    continue;
                }
                if (!(0, pool_1.isConnectionError)(err)) {
                    // Not the network: find the one bad row by writing this batch one outcome at a time.
                    await this.flushSingly(batch.length);
                    continue;
                }
                const delay = (0, backoff_1.reconnectDelayMs)(this.failures++);
                this.log.warn(`could not record ${this.queue.length} job outcome(s), database unreachable (${(0, errors_1.errorMessage)(err)}); retrying in ${delay} ms`, { scope: 'completer' });
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
        for (const w of waiters)
            w();
    }
    async flushSingly(count) {
        for (let i = 0; i < count && this.queue.length > 0; i++) {
            const f = this.queue[0];
            try {
                const written = await (0, batch_1.finishMany)(this.pool, this.owner, [f]);
                this.queue.shift();
                this.onWritten(f.batchId, written.has(f.batchId), f);
            }
            catch (err) {
                if ((0, pool_1.isConnectionError)(err))
                    return;
                this.queue.shift();
                this.log.error(`could not record the outcome of job ${f.batchId}: ${(0, errors_1.errorMessage)(err)}`, { scope: 'completer' });
            }
        }
    }
}
exports.Completer = Completer;
//# sourceMappingURL=completer.js.map