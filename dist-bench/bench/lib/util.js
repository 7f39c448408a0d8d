"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.fmt = exports.sleep = void 0;
exports.percentile = percentile;
exports.mean = mean;
exports.until = until;
exports.signal = signal;
exports.within = within;
exports.table = table;
exports.heading = heading;
const node_perf_hooks_1 = require("node:perf_hooks");
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
exports.sleep = sleep;
/** Nearest-rank percentile of an ascending-sorted array. */
function percentile(sorted, p) {
    if (sorted.length === 0)
        return NaN;
    const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
    return sorted[rank - 1];
}
function mean(xs) {
    return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN;
}
const fmt = (n, digits = 0) => (Number.isFinite(n) ? n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }) : 'n/a');
exports.fmt = fmt;
/** Polls `check` every `everyMs` until it is true; false when `deadline` (performance.now() ms) passes first. */
async function until(check, deadline, everyMs = 5) {
    for (;;) {
        if (await check())
            return true;
        if (node_perf_hooks_1.performance.now() > deadline)
            return false;
        await (0, exports.sleep)(everyMs);
    }
}
/** A promise with its resolver, resolved at most once. */
function signal() {
    let resolve;
    let settled = false;
    const promise = new Promise((r) => { resolve = r; });
    return { promise, resolve: (v) => { if (!settled) {
            settled = true;
            resolve(v);
        } }, done: () => settled };
}
/** Resolves to 'timeout' after `ms` unless `p` settles first; clears its timer either way. */
async function within(p, ms) {
    let t;
    try {
        return await Promise.race([p, new Promise((r) => { t = setTimeout(() => r('timeout'), ms); })]);
    }
    finally {
        clearTimeout(t);
    }
}
/** A plain text table. */
function table(head, rows) {
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
    const line = (cells) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
    return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}
function heading(s) {
    console.log(`\n${'='.repeat(100)}\n${s}\n${'='.repeat(100)}`);
}
//# sourceMappingURL=util.js.map