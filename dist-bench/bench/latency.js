"use strict";
var __importDefault = (this && this.__importDefault) || function (mod) {
    return (mod && mod.__esModule) ? mod : { "default": mod };
};
Object.defineProperty(exports, "__esModule", { value: true });
exports.SAMPLES = void 0;
exports.floorLatency = floorLatency;
exports.xtLatency = xtLatency;
exports.gwLatency = gwLatency;
exports.runLatency = runLatency;
/**
 * Benchmark 2: insert-to-start latency with an idle worker. One job at a time: a bounded random gap, then the
 * INSERT (xtconnect) or add_job (graphile-worker) is sent from a connection of its own, and the clock runs from
 * just before the statement is sent to the moment the handler starts, both read with performance.now() in this
 * process. The next job is inserted only after this one has started.
 */
const node_perf_hooks_1 = require("node:perf_hooks");
const pg_1 = __importDefault(require("pg"));
const db_1 = require("./lib/db");
const gw_1 = require("./lib/gw");
const xt_1 = require("./lib/xt");
const util_1 = require("./lib/util");
exports.SAMPLES = Number(process.env.BENCH_LATENCY_JOBS ?? 500);
const WARMUP = 20;
const GAP_MIN_MS = 5;
const GAP_MAX_MS = 25;
/** A job not started after this is counted as a timeout and the run moves on. */
const PER_JOB_LIMIT_MS = 5_000;
/** Upper bound for one system's whole run. */
const RUN_LIMIT_MS = Number(process.env.BENCH_LATENCY_LIMIT_MS ?? 90_000);
async function measure(system, insert, current) {
    const client = new pg_1.default.Client({ connectionString: (0, db_1.benchUrl)(), application_name: 'bench inserter' });
    await client.connect();
    const samples = [];
    const insertRtt = [];
    let timeouts = 0;
    const runDeadline = node_perf_hooks_1.performance.now() + RUN_LIMIT_MS;
    try {
        for (let i = 0; i < WARMUP + exports.SAMPLES && node_perf_hooks_1.performance.now() < runDeadline; i++) {
            await (0, util_1.sleep)(GAP_MIN_MS + Math.random() * (GAP_MAX_MS - GAP_MIN_MS));
            const started = new Promise((resolve) => { current.w = { seq: i, resolve }; });
            const t0 = node_perf_hooks_1.performance.now();
            await insert(client, i);
            const t1 = node_perf_hooks_1.performance.now();
            const at = await (0, util_1.within)(started, PER_JOB_LIMIT_MS);
            current.w = null;
            if (i < WARMUP)
                continue;
            if (at === 'timeout') {
                timeouts++;
                continue;
            }
            samples.push(at - t0);
            insertRtt.push(t1 - t0);
        }
    }
    finally {
        await client.end();
    }
    const s = [...samples].sort((a, b) => a - b);
    return {
        system,
        samples,
        insertRtt,
        timeouts,
        p50: (0, util_1.percentile)(s, 50),
        p95: (0, util_1.percentile)(s, 95),
        p99: (0, util_1.percentile)(s, 99),
        max: s[s.length - 1] ?? NaN,
        mean: (0, util_1.mean)(s),
    };
}
/**
 * The floor under any LISTEN/NOTIFY worker on this server: a bare pg client LISTENing on xtconnect's channel, no
 * daemon. The INSERT fires xtconnect's NOTIFY trigger; the notification is delivered at commit. Nothing can start a
 * job sooner than this.
 */
async function floorLatency() {
    await (0, db_1.recreateBenchDb)();
    await (0, db_1.migrateXt)();
    const current = { w: null };
    const listener = new pg_1.default.Client({ connectionString: (0, db_1.benchUrl)(), application_name: 'bench bare listener' });
    await listener.connect();
    listener.on('notification', () => {
        const t = node_perf_hooks_1.performance.now();
        current.w?.resolve(t);
    });
    await listener.query('LISTEN xtconnect_jobs');
    try {
        return await measure('floor: INSERT -> NOTIFY received by a bare LISTEN client', (c, seq) => c.query(`INSERT INTO xtbatch.batch (batch_action, batch_parameter) VALUES ('Floor', $1)`, [String(seq)]), current);
    }
    finally {
        await listener.end();
    }
}
async function xtLatency() {
    await (0, db_1.recreateBenchDb)();
    await (0, db_1.migrateXt)();
    const current = { w: null };
    const xt = await (0, xt_1.startXt)(10, {
        Noop: async (ctx) => {
            const t = node_perf_hooks_1.performance.now();
            const w = current.w;
            if (w && ctx.job.batch_parameter === String(w.seq))
                w.resolve(t);
        },
    });
    try {
        await (0, util_1.sleep)(1000); // LISTEN connected, first poll done: the daemon is idle
        return await measure('xtconnect (LISTEN/NOTIFY, defaults)', (c, seq) => c.query(`INSERT INTO xtbatch.batch (batch_action, batch_parameter) VALUES ('Noop', $1)`, [String(seq)]), current);
    }
    finally {
        await xt.stop();
    }
}
async function gwLatency(mode) {
    await (0, db_1.recreateBenchDb)();
    await (0, gw_1.migrateGw)();
    const current = { w: null };
    const gw = await (0, gw_1.startGw)(mode, 10, {
        noop: async (payload) => {
            const t = node_perf_hooks_1.performance.now();
            const w = current.w;
            if (w && payload.seq === w.seq)
                w.resolve(t);
        },
    });
    try {
        await (0, util_1.sleep)(1000);
        return await measure((0, gw_1.describeGw)(mode, 10), (c, seq) => c.query(`SELECT graphile_worker.add_job('noop', json_build_object('seq', $1::int))`, [seq]), current);
    }
    finally {
        await gw.stop();
    }
}
async function runLatency() {
    (0, util_1.heading)(`2. INSERT-TO-START LATENCY, idle worker: ${exports.SAMPLES} jobs one at a time (+${WARMUP} warm-up, not counted), random gap ${GAP_MIN_MS}-${GAP_MAX_MS} ms`);
    console.log('Clock: performance.now() just before the INSERT / add_job is sent → performance.now() as the handler starts (same process).');
    const results = [await floorLatency(), await xtLatency(), await gwLatency('default'), await gwLatency('fast')];
    const names = ['floor (bare LISTEN)', 'xtconnect', 'GW default', 'GW fast'];
    results.forEach((r, i) => console.log(`  ${names[i]}: ${r.system}`));
    console.log((0, util_1.table)(['system', 'n', 'p50 ms', 'p95 ms', 'p99 ms', 'max ms', 'mean ms', 'timeouts', 'INSERT rtt p50 ms'], results.map((r, i) => {
        const rtt = [...r.insertRtt].sort((a, b) => a - b);
        return [names[i], String(r.samples.length), (0, util_1.fmt)(r.p50, 2), (0, util_1.fmt)(r.p95, 2), (0, util_1.fmt)(r.p99, 2), (0, util_1.fmt)(r.max, 2), (0, util_1.fmt)(r.mean, 2), String(r.timeouts), (0, util_1.fmt)((0, util_1.percentile)(rtt, 50), 2)];
    })));
    console.log('INSERT rtt = time for the INSERT / add_job statement to return (includes the commit); a handler can start before it returns.');
    return results;
}
if (require.main === module) {
    runLatency()
        .catch((err) => {
        console.error(err);
        process.exitCode = 1;
    })
        .finally(() => (0, db_1.dropBenchDb)().catch(() => undefined));
}
//# sourceMappingURL=latency.js.map