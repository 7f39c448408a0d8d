"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.CONCURRENCIES = exports.JOBS = void 0;
exports.xtThroughput = xtThroughput;
exports.gwThroughput = gwThroughput;
exports.runThroughput = runThroughput;
/**
 * Benchmark 1: throughput of no-op jobs, xtconnect against graphile-worker 0.17.3 (fast configuration), each at
 * concurrency 10 and 50, each run on a freshly created database on the same server.
 *
 * Timed from the moment the worker is started (the jobs are already in the table) to the moment the database says
 * every job is finished: for xtconnect every row has batch_completed set (the rows are kept: xTuple reads them),
 * for graphile-worker the job table is empty (finished jobs are deleted).
 */
const node_perf_hooks_1 = require("node:perf_hooks");
const db_1 = require("./lib/db");
const gw_1 = require("./lib/gw");
const xt_1 = require("./lib/xt");
const util_1 = require("./lib/util");
exports.JOBS = Number(process.env.BENCH_JOBS ?? 20_000);
exports.CONCURRENCIES = (process.env.BENCH_CONCURRENCY ?? '10,50').split(',').map(Number);
/** Upper bound for one run (start to all finished). */
const RUN_LIMIT_MS = Number(process.env.BENCH_RUN_LIMIT_MS ?? 120_000);
function describeKinds(kinds, jobs) {
    const out = [];
    for (const [k, s] of Object.entries(kinds).sort((a, b) => b[1].count - a[1].count)) {
        let line = `    ${k.padEnd(12)} ${(0, util_1.fmt)(s.count).padStart(7)} statements, ${(0, util_1.fmt)(s.ms / Math.max(1, s.count), 2)} ms mean round trip, ${(0, util_1.fmt)(s.rows)} rows`;
        if (k === 'claim')
            line += ` (${(0, util_1.fmt)(s.rows / Math.max(1, s.count), 1)} jobs per claim; ${(0, util_1.fmt)(s.count / jobs, 3)} claims per job)`;
        if (k === 'finish')
            line += ` (batches: mean ${(0, util_1.fmt)(s.items / Math.max(1, s.count), 1)}, max ${s.maxItems} outcomes per statement)`;
        out.push(line);
    }
    return out;
}
async function xtThroughput(concurrency) {
    await (0, db_1.recreateBenchDb)();
    await (0, db_1.migrateXt)();
    const t0 = node_perf_hooks_1.performance.now();
    await (0, db_1.benchQuery)(`INSERT INTO xtbatch.batch (batch_action) SELECT 'Noop' FROM generate_series(1, $1::int)`, [exports.JOBS]);
    const insertMs = node_perf_hooks_1.performance.now() - t0;
    await (0, db_1.benchQuery)(`ANALYZE xtbatch.batch`);
    let handled = 0;
    const seen = new Set();
    let duplicates = 0;
    const allHandled = (0, util_1.signal)();
    const observer = (0, db_1.benchPool)('xtconnect bench observer', 1);
    let xt = null;
    try {
        const start = node_perf_hooks_1.performance.now();
        xt = await (0, xt_1.startXt)(concurrency, {
            Noop: async (ctx) => {
                if (seen.has(ctx.job.batch_id))
                    duplicates++;
                seen.add(ctx.job.batch_id);
                if (++handled === exports.JOBS)
                    allHandled.resolve(node_perf_hooks_1.performance.now());
            },
        });
        const deadline = start + RUN_LIMIT_MS;
        const h = await (0, util_1.within)(allHandled.promise, RUN_LIMIT_MS);
        const handlersAt = h === 'timeout' ? NaN : h;
        let unfinished = -1;
        const ok = h !== 'timeout' && (await (0, util_1.until)(async () => {
            const { rows } = await observer.query(`SELECT count(*)::int AS n FROM xtbatch.batch WHERE batch_completed IS NULL`);
            unfinished = rows[0].n;
            return unfinished === 0;
        }, deadline, 2));
        const end = node_perf_hooks_1.performance.now();
        const kinds = xt.inst.snapshot();
        const stats = { ...xt.daemon.stats };
        const { rows } = await observer.query(`SELECT count(*)::int AS n, count(*) FILTER (WHERE batch_exitstatus = '')::int AS ok FROM xtbatch.batch WHERE batch_completed IS NOT NULL`);
        const totalMs = end - start;
        return {
            system: 'xtconnect',
            concurrency,
            jobs: exports.JOBS,
            handled,
            finished: rows[0].n,
            insertMs,
            handlersMs: handlersAt - start,
            totalMs,
            jobsPerSec: ok ? exports.JOBS / (totalMs / 1000) : rows[0].n / (totalMs / 1000),
            timedOut: !ok,
            duplicates,
            detail: [
                `  daemon.stats: ${JSON.stringify(stats)}`,
                `  statements sent by the daemon's pool during the run (instrumented pool.query):`,
                ...describeKinds(kinds, exports.JOBS),
                `  finished rows kept in xtbatch.batch: ${(0, util_1.fmt)(rows[0].n)} (exit status '' = done: ${(0, util_1.fmt)(rows[0].ok)})`,
            ],
        };
    }
    finally {
        await xt?.stop().catch(() => undefined);
        await observer.end();
    }
}
async function gwThroughput(concurrency) {
    await (0, db_1.recreateBenchDb)();
    await (0, gw_1.migrateGw)();
    const t0 = node_perf_hooks_1.performance.now();
    // add_jobs with one array of 20,000 specs: one statement, one NOTIFY (the fastest documented bulk path).
    await (0, db_1.benchQuery)(`SELECT count(*) FROM graphile_worker.add_jobs(
       (SELECT array_agg(ROW('noop', '{}'::json, NULL, NULL, NULL, NULL, NULL, NULL)::graphile_worker.job_spec)
          FROM generate_series(1, $1::int)))`, [exports.JOBS]);
    const insertMs = node_perf_hooks_1.performance.now() - t0;
    await (0, db_1.benchQuery)(`ANALYZE graphile_worker._private_jobs`);
    let handled = 0;
    const seen = new Set();
    let duplicates = 0;
    const allHandled = (0, util_1.signal)();
    const observer = (0, db_1.benchPool)('graphile-worker bench observer', 1);
    let gw = null;
    try {
        const start = node_perf_hooks_1.performance.now();
        gw = await (0, gw_1.startGw)('fast', concurrency, {
            noop: async (_payload, helpers) => {
                if (seen.has(helpers.job.id))
                    duplicates++;
                seen.add(helpers.job.id);
                if (++handled === exports.JOBS)
                    allHandled.resolve(node_perf_hooks_1.performance.now());
            },
        });
        const deadline = start + RUN_LIMIT_MS;
        const h = await (0, util_1.within)(allHandled.promise, RUN_LIMIT_MS);
        const handlersAt = h === 'timeout' ? NaN : h;
        let left = -1;
        const ok = h !== 'timeout' && (await (0, util_1.until)(async () => {
            const { rows } = await observer.query(`SELECT count(*)::int AS n FROM graphile_worker._private_jobs`);
            left = rows[0].n;
            return left === 0;
        }, deadline, 2));
        const end = node_perf_hooks_1.performance.now();
        const totalMs = end - start;
        const { rows } = await observer.query(`SELECT count(*)::int AS n FROM graphile_worker._private_jobs`);
        return {
            system: 'graphile-worker',
            concurrency,
            jobs: exports.JOBS,
            handled,
            finished: exports.JOBS - rows[0].n,
            insertMs,
            handlersMs: handlersAt - start,
            totalMs,
            jobsPerSec: ok ? exports.JOBS / (totalMs / 1000) : (exports.JOBS - rows[0].n) / (totalMs / 1000),
            timedOut: !ok,
            duplicates,
            detail: [`  ${(0, gw_1.describeGw)('fast', concurrency)}`, `  job rows left in graphile_worker._private_jobs: ${rows[0].n} (finished jobs are deleted)`],
        };
    }
    finally {
        await gw?.stop().catch(() => undefined);
        await observer.end();
    }
}
async function runThroughput() {
    (0, util_1.heading)(`1. THROUGHPUT: ${(0, util_1.fmt)(exports.JOBS)} no-op jobs, concurrency ${exports.CONCURRENCIES.join(' and ')} (limit ${RUN_LIMIT_MS / 1000} s per run)`);
    console.log('Each run: fresh database, bulk insert, ANALYZE, start the worker, time until the database shows every job finished.');
    console.log('NOTE: xtconnect KEEPS finished rows (xTuple reads batch_completed/batch_exitstatus); graphile-worker DELETES them.');
    const results = [];
    for (const c of exports.CONCURRENCIES) {
        for (const fn of [xtThroughput, gwThroughput]) {
            const r = await fn(c);
            results.push(r);
            console.log(`\n${r.system} @ concurrency ${c}: ${(0, util_1.fmt)(r.jobsPerSec)} jobs/s` +
                `  (all ${(0, util_1.fmt)(r.jobs)} finished in the DB after ${(0, util_1.fmt)(r.totalMs)} ms; last handler at ${(0, util_1.fmt)(r.handlersMs)} ms;` +
                ` bulk insert ${(0, util_1.fmt)(r.insertMs)} ms; handled ${(0, util_1.fmt)(r.handled)}, duplicates ${r.duplicates}${r.timedOut ? '; TIMED OUT' : ''})`);
            for (const d of r.detail)
                console.log(d);
        }
    }
    console.log('\nThroughput (jobs/s, start → all finished in the database):');
    console.log((0, util_1.table)(['concurrency', 'xtconnect', 'graphile-worker (fast)', 'xtconnect / GW'], exports.CONCURRENCIES.map((c) => {
        const x = results.find((r) => r.system === 'xtconnect' && r.concurrency === c);
        const g = results.find((r) => r.system === 'graphile-worker' && r.concurrency === c);
        return [String(c), (0, util_1.fmt)(x.jobsPerSec), (0, util_1.fmt)(g.jobsPerSec), `${(0, util_1.fmt)(x.jobsPerSec / g.jobsPerSec, 2)}x`];
    })));
    console.log('(xtconnect rows are kept and updated in place; graphile-worker rows are deleted on completion.)');
    return results;
}
if (require.main === module) {
    runThroughput()
        .catch((err) => {
        console.error(err);
        process.exitCode = 1;
    })
        .finally(() => (0, db_1.dropBenchDb)().catch(() => undefined));
}
//# sourceMappingURL=throughput.js.map