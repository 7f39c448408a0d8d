"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.EXIT_CONFIG = exports.ConfigError = exports.JobTimeoutError = exports.UnknownActionError = exports.JobInputError = exports.TransientError = exports.PermanentError = void 0;
exports.errorMessage = errorMessage;
/**
 * Error kinds that decide what happens to a job and to the program.
 *
 * A handler throws PermanentError when trying again cannot help (a 5xx SMTP reply, a bad address, a missing
 * file); the job fails at once. TransientError, and any error we do not recognise, is retried with backoff
 * until the job's attempts run out: an unknown error is more often a network fault than a bad job.
 */
class PermanentError extends Error {
    name = 'PermanentError';
}
exports.PermanentError = PermanentError;
class TransientError extends Error {
    name = 'TransientError';
}
exports.TransientError = TransientError;
/** A job row or parameter that can never run as written. The message names the job and the field. */
class JobInputError extends PermanentError {
    batchId;
    field;
    name = 'JobInputError';
    constructor(batchId, field, problem) {
        super(`job ${batchId}: ${field} ${problem}`);
        this.batchId = batchId;
        this.field = field;
    }
}
exports.JobInputError = JobInputError;
/** The action has no handler in this daemon; never retried. */
class UnknownActionError extends PermanentError {
    name = 'UnknownActionError';
    constructor(action, known) {
        super(`no handler for action "${action}" in this xtconnect (it handles: ${known.join(', ')})`);
    }
}
exports.UnknownActionError = UnknownActionError;
/** The job ran past its timeout; never retried, because it would most likely time out again. */
class JobTimeoutError extends PermanentError {
    name = 'JobTimeoutError';
    constructor(seconds) {
        super(`did not finish within its timeout of ${seconds} s and was stopped; raise the timeout ` +
            `(daemon.jobTimeoutSeconds, daemon.actionTimeoutSeconds or the job's batch_timeout_seconds) if it needs longer`);
    }
}
exports.JobTimeoutError = JobTimeoutError;
/** A bad config file, environment variable or command-line argument: the program stops with exit code 2. */
class ConfigError extends Error {
    name = 'ConfigError';
}
exports.ConfigError = ConfigError;
exports.EXIT_CONFIG = 2;
function errorMessage(err) {
    if (err instanceof Error)
        return err.message || err.name;
    return String(err);
}
//# sourceMappingURL=errors.js.map