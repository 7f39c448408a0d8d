"use strict";
var __importDefault = (this && this.__importDefault) || function (mod) {
    return (mod && mod.__esModule) ? mod : { "default": mod };
};
Object.defineProperty(exports, "__esModule", { value: true });
exports.quietLogger = exports.GW_APP = void 0;
exports.gwPreset = gwPreset;
exports.gwPoolSize = gwPoolSize;
exports.migrateGw = migrateGw;
exports.startGw = startGw;
exports.describeGw = describeGw;
/** graphile-worker 0.17.3 in the two configurations the benchmarks compare against. */
const pg_1 = __importDefault(require("pg"));
const graphile_worker_1 = require("graphile-worker");
const db_1 = require("./db");
exports.GW_APP = 'graphile-worker bench';
/** Drops every log line: the benchmark prints its own figures. */
exports.quietLogger = new graphile_worker_1.Logger(() => () => undefined);
/**
 * 'fast': the configuration of https://worker.graphile.org/docs/performance ("Quick stats ... achieved with this
 * configuration"): localQueue { size: 500 }, completeJobBatchDelay: 0, failJobBatchDelay: 0, a pool a little larger
 * than the concurrency. Option names checked against node_modules/graphile-worker/dist (0.17.3):
 * preset.worker.localQueue.size, preset.worker.completeJobBatchDelay, preset.worker.failJobBatchDelay
 * (read in dist/main.js), preset.worker.concurrentJobs (= run({ concurrency })).
 *
 * 'default': no local queue, no batched completion, pollInterval 2000 ms (the defaults), LISTEN as always.
 */
function gwPreset(mode) {
    return mode === 'fast'
        ? { worker: { localQueue: { size: 500 }, completeJobBatchDelay: 0, failJobBatchDelay: 0 } }
        : { worker: {} };
}
/** The pool size graphile-worker's docs recommend: 10 or concurrency + 2, whichever is larger. */
function gwPoolSize(concurrency) {
    return Math.max(10, concurrency + 2);
}
/** Installs graphile-worker's schema in the bench database (so jobs can be added before the worker starts). */
async function migrateGw() {
    await (0, graphile_worker_1.runMigrations)({ connectionString: (0, db_1.benchUrl)('graphile-worker bench migrate'), logger: exports.quietLogger });
}
async function startGw(mode, concurrency, taskList) {
    const pool = new pg_1.default.Pool({ connectionString: (0, db_1.benchUrl)(), application_name: exports.GW_APP, max: gwPoolSize(concurrency) });
    // Handlers graphile-worker asks for on a pool it is given (it warns otherwise).
    pool.on('error', () => undefined);
    pool.on('connect', (client) => client.on('error', () => undefined));
    const runner = await (0, graphile_worker_1.run)({
        pgPool: pool,
        concurrency,
        noHandleSignals: true,
        logger: exports.quietLogger,
        taskList,
        preset: gwPreset(mode),
    }, undefined, []);
    return {
        runner,
        pool,
        stop: async () => {
            await runner.stop();
            await pool.end();
        },
    };
}
function describeGw(mode, concurrency) {
    return mode === 'fast'
        ? `graphile-worker 0.17.3 (fast: concurrency ${concurrency}, localQueue.size 500, completeJobBatchDelay 0, failJobBatchDelay 0, pool ${gwPoolSize(concurrency)})`
        : `graphile-worker 0.17.3 (defaults: concurrency ${concurrency}, no localQueue, no batched completion, pollInterval 2000 ms, pool ${gwPoolSize(concurrency)})`;
}
//# sourceMappingURL=gw.js.map