"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.JobStopped = void 0;
exports.executeJob = executeJob;
const errors_1 = require("../errors");
const params_1 = require("../jobs/params");
const backoff_1 = require("./backoff");
class JobStopped extends Error {
    reason;
    constructor(reason) {
        super(reason === 'shutdown' ? 'stopped by daemon shutdown' : 'cancelled or taken back by another daemon');
        this.reason = reason;
    }
}
exports.JobStopped = JobStopped;
function timeoutSeconds(cfg, job) {
    return job.batch_timeout_seconds ?? cfg.daemon.actionTimeoutSeconds[job.batch_action] ?? cfg.daemon.jobTimeoutSeconds;
}
/**
 * Runs one claimed job and turns whatever happens (result, error, timeout, shutdown, lost lease) into exactly one
 * outcome for the Completer, or none when the row is no longer ours to write. Nothing escapes this function.
 */
async function executeJob(job, controller, deps, log) {
    const started = Date.now();
    const base = { batchId: job.batch_id, attempt: job.batch_attempts, delaySeconds: 0, result: null };
    const seconds = timeoutSeconds(deps.cfg, job);
    const timer = setTimeout(() => controller.abort(new errors_1.JobTimeoutError(seconds)), seconds * 1000);
    try {
        const handler = deps.handlers.get(job.batch_action);
        if (!handler)
            throw new errors_1.UnknownActionError(job.batch_action, [...deps.handlers.keys()]);
        const params = (0, params_1.parseParams)(job.batch_id, job.params);
        const aborted = new Promise((_, reject) => {
            if (controller.signal.aborted)
                reject(controller.signal.reason);
            controller.signal.addEventListener('abort', () => reject(controller.signal.reason), { once: true });
        });
        aborted.catch(() => undefined);
        const result = await Promise.race([
            handler({ job, params, log, signal: controller.signal, pool: deps.pool, settings: deps.settings(), cfg: deps.cfg, services: deps.services }),
            aborted,
        ]);
        return { finish: { ...base, kind: 'done', message: null, result: result ?? null }, ms: Date.now() - started };
    }
    catch (err) {
        const ms = Date.now() - started;
        if (err instanceof JobStopped) {
            return { finish: err.reason === 'shutdown' ? { ...base, kind: 'release', message: null } : null, ms };
        }
        const message = (0, errors_1.errorMessage)(err);
        const maxAttempts = job.batch_max_attempts ?? deps.cfg.daemon.maxAttempts;
        if (err instanceof errors_1.PermanentError || err instanceof errors_1.JobTimeoutError) {
            return { finish: { ...base, kind: 'failed', message }, ms };
        }
        if (job.batch_attempts >= maxAttempts) {
            return { finish: { ...base, kind: 'failed', message: `gave up after ${job.batch_attempts} attempts; last error: ${message}` }, ms };
        }
        const delay = (0, backoff_1.retryDelaySeconds)(job.batch_attempts, deps.cfg.daemon.backoffBaseSeconds, deps.cfg.daemon.backoffMaxSeconds);
        return { finish: { ...base, kind: 'retry', message: `attempt ${job.batch_attempts} of ${maxAttempts} failed: ${message}`, delaySeconds: delay }, ms };
    }
    finally {
        clearTimeout(timer);
    }
}
//# sourceMappingURL=execute.js.map