"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.STATUS = void 0;
exports.judge = judge;
exports.formatLine = formatLine;
exports.statusCommand = statusCommand;
const inspect_1 = require("../../db/queries/inspect");
const errors_1 = require("../../errors");
const context_1 = require("../context");
/** Monitoring-plugin exit codes (Nagios, Icinga, Sensu, ...). */
exports.STATUS = { OK: 0, WARNING: 1, CRITICAL: 2, UNKNOWN: 3 };
const NAMES = ['OK', 'WARNING', 'CRITICAL', 'UNKNOWN'];
/** Decides health from the numbers; pure, so each rule is tested on its own. */
function judge(h, t) {
    const critical = [];
    const warning = [];
    if (h.daemons_alive < t.minDaemons)
        critical.push(`${h.daemons_alive} daemon(s) alive, need ${t.minDaemons}`);
    if (!h.enabled)
        warning.push('EnableBatchManager is off: no job is submitted or run');
    if (h.failed_24h >= t.maxFailures24h)
        warning.push(`${h.failed_24h} job(s) failed in 24 h (limit ${t.maxFailures24h})`);
    if (h.due > 0 && h.oldest_due_seconds > t.maxQueueAgeSeconds) {
        warning.push(`oldest due job has waited ${h.oldest_due_seconds} s (limit ${t.maxQueueAgeSeconds} s)`);
    }
    const code = critical.length ? exports.STATUS.CRITICAL : warning.length ? exports.STATUS.WARNING : exports.STATUS.OK;
    return { code, state: NAMES[code], problems: [...critical, ...warning], health: h };
}
function formatLine(r) {
    if (!r.health)
        return `XTCONNECT ${r.state} - ${r.problems.join('; ')}`;
    const h = r.health;
    const summary = `${h.daemons_alive} daemon(s) alive, ${h.due} due, ${h.running} running, ${h.failed_24h} failed in 24 h, ` +
        `oldest waiting ${h.oldest_due_seconds} s`;
    const perf = `daemons=${h.daemons_alive} due=${h.due} running=${h.running} failed_24h=${h.failed_24h} oldest_due=${h.oldest_due_seconds}s`;
    return `XTCONNECT ${r.state} - ${r.problems.length ? r.problems.join('; ') + '; ' : ''}${summary} | ${perf}`;
}
async function statusCommand(ctx, opts, out) {
    const t = {
        minDaemons: opts.minDaemons ?? 1,
        maxFailures24h: opts.maxFailures ?? ctx.cfg.status.maxFailures24h,
        maxQueueAgeSeconds: opts.maxQueueAge ?? ctx.cfg.status.maxQueueAgeSeconds,
    };
    let report;
    try {
        const health = await (0, context_1.withPool)(ctx, (pool) => (0, inspect_1.queueHealth)(pool, ctx.cfg.status.daemonStaleSeconds));
        report = judge(health, t);
    }
    catch (err) {
        report = { code: exports.STATUS.CRITICAL, state: 'CRITICAL', problems: [`database unreachable: ${(0, errors_1.errorMessage)(err)}`], health: null };
    }
    out.write(opts.json ? JSON.stringify({ status: report.state, code: report.code, problems: report.problems, ...report.health }) + '\n' : formatLine(report) + '\n');
    return report.code;
}
//# sourceMappingURL=status.js.map