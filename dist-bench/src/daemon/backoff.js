"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.retryDelaySeconds = retryDelaySeconds;
exports.reconnectDelayMs = reconnectDelayMs;
/**
 * Seconds before the next attempt: base · 2^(attempt−1), capped, with ±25 % jitter so that jobs that failed
 * together (the mail server went down) do not all come back in the same second.
 */
function retryDelaySeconds(attempt, baseSeconds, maxSeconds, random = Math.random) {
    const exp = baseSeconds * 2 ** Math.min(Math.max(attempt - 1, 0), 30);
    const capped = Math.min(exp, maxSeconds);
    return Math.min(maxSeconds, capped * (0.75 + 0.5 * random()));
}
/** Reconnect/retry waits for the daemon's own database work: 0.5 s doubling to 30 s, jittered. */
function reconnectDelayMs(failures, random = Math.random) {
    const base = Math.min(500 * 2 ** Math.min(failures, 10), 30_000);
    return Math.round(base * (0.75 + 0.5 * random()));
}
//# sourceMappingURL=backoff.js.map