"use strict";
var __importDefault = (this && this.__importDefault) || function (mod) {
    return (mod && mod.__esModule) ? mod : { "default": mod };
};
Object.defineProperty(exports, "__esModule", { value: true });
exports.countClientQueries = countClientQueries;
exports.clientQueryCounts = clientQueryCounts;
exports.countsDelta = countsDelta;
exports.queryKind = queryKind;
exports.instrumentPool = instrumentPool;
/**
 * Client-side statement counters.
 *
 * - countClientQueries(): patches pg.Client.prototype.query once for the whole process and counts every statement
 *   sent, keyed by the connection's application_name. It sees everything: pooled clients (pool.query goes through
 *   client.query), xtconnect's LISTEN client, graphile-worker's clients.
 * - instrumentPool(): wraps one pg.Pool's query() (the object the Daemon is given) and keeps, per kind of query,
 *   the count, the time and the rows, so a run can say how many claims it took and how big the completer's batches
 *   were.
 */
const node_perf_hooks_1 = require("node:perf_hooks");
const pg_1 = __importDefault(require("pg"));
const clientCounts = new Map();
let patched = false;
function countClientQueries() {
    if (patched)
        return;
    patched = true;
    const proto = pg_1.default.Client.prototype;
    const original = proto.query;
    proto.query = function countingQuery(...args) {
        const app = this.connectionParameters?.application_name ?? '(none)';
        clientCounts.set(app, (clientCounts.get(app) ?? 0) + 1);
        return original.apply(this, args);
    };
}
/** A copy of the per-application_name statement counts so far. */
function clientQueryCounts() {
    return new Map(clientCounts);
}
function countsDelta(before, after, match) {
    const byApp = {};
    let total = 0;
    for (const [app, n] of after) {
        if (!match(app))
            continue;
        const d = n - (before.get(app) ?? 0);
        if (d === 0)
            continue;
        byApp[app] = d;
        total += d;
    }
    return { total, byApp };
}
/** Names the statements xtconnect's daemon sends (named ones by name, the others by a recognisable fragment). */
function queryKind(q) {
    const cfg = typeof q === 'string' ? { text: q } : q;
    if (cfg.name)
        return cfg.name.replace(/^xtconnect_/, '');
    const t = (cfg.text ?? '').replace(/\s+/g, ' ');
    if (/UPDATE xtbatch\.batch SET batch_lease_expires/.test(t))
        return 'lease';
    if (/INSERT INTO xtbatch\.daemon/.test(t))
        return 'heartbeat';
    if (/DELETE FROM xtbatch\.daemon/.test(t))
        return 'deregister';
    if (/xtbatch\.getsetting/.test(t))
        return 'settings';
    if (/WITH expired AS/.test(t))
        return 'rescue';
    if (/purge|DELETE FROM xtbatch\.batch/.test(t))
        return 'purge';
    return 'other: ' + t.slice(0, 40);
}
function instrumentPool(pool) {
    const stats = new Map();
    const inst = {
        stats,
        lastClaim: null,
        reset: () => stats.clear(),
        total: () => [...stats.values()].reduce((s, k) => s + k.count, 0),
        snapshot: () => Object.fromEntries([...stats.entries()].map(([k, v]) => [k, { ...v }])),
    };
    const original = pool.query.bind(pool);
    pool.query = (...args) => {
        const kind = queryKind(args[0]);
        const cfg = args[0];
        const values = (Array.isArray(args[1]) ? args[1] : cfg?.values) ?? [];
        if (kind === 'claim' && cfg.text)
            inst.lastClaim = { text: cfg.text, values };
        const firstArray = values.find((v) => Array.isArray(v));
        const items = kind === 'finish' ? (firstArray?.length ?? 0) : 0;
        const s = stats.get(kind) ?? { count: 0, ms: 0, rows: 0, items: 0, maxItems: 0 };
        stats.set(kind, s);
        s.count++;
        s.items += items;
        s.maxItems = Math.max(s.maxItems, items);
        const t0 = node_perf_hooks_1.performance.now();
        const result = original(...args);
        if (result && typeof result.then === 'function') {
            result.then((r) => {
                s.ms += node_perf_hooks_1.performance.now() - t0;
                s.rows += r?.rowCount ?? 0;
            }, () => {
                s.ms += node_perf_hooks_1.performance.now() - t0;
            });
        }
        return result;
    };
    return inst;
}
//# sourceMappingURL=count.js.map