"use strict";
var __importDefault = (this && this.__importDefault) || function (mod) {
    return (mod && mod.__esModule) ? mod : { "default": mod };
};
Object.defineProperty(exports, "__esModule", { value: true });
/**
 * Runs every benchmark in turn (throughput, latency, idle cost) against the local PostgreSQL, then prints a summary
 * against the targets. Figures only: nothing here fails on a missed target. The bench database is dropped at the end.
 */
const node_os_1 = __importDefault(require("node:os"));
const node_perf_hooks_1 = require("node:perf_hooks");
const db_1 = require("./lib/db");
const idle_1 = require("./idle");
const latency_1 = require("./latency");
const throughput_1 = require("./throughput");
const util_1 = require("./lib/util");
/** Whole-run guard: the benchmarks bound themselves; this stops a wedged run. */
const TOTAL_LIMIT_MS = Number(process.env.BENCH_TOTAL_LIMIT_MS ?? 15 * 60_000);
async function main() {
    const t0 = node_perf_hooks_1.performance.now();
    const info = await (0, db_1.serverInfo)();
    (0, util_1.heading)('xtconnect benchmarks');
    console.log(`server: ${info.version}; fsync=${info.fsync} synchronous_commit=${info.syncCommit} max_connections=${info.maxConnections} shared_preload_libraries='${info.preload}'`);
    console.log(`node ${process.version}, ${node_os_1.default.cpus().length} CPU(s); database ${db_1.BENCH_DB} (created and dropped for every run)`);
    const tp = await (0, throughput_1.runThroughput)();
    const lat = await (0, latency_1.runLatency)();
    const idle = await (0, idle_1.runIdle)();
    (0, util_1.heading)('SUMMARY against targets');
    const rows = [];
    for (const c of [...new Set(tp.map((r) => r.concurrency))]) {
        const x = tp.find((r) => r.system === 'xtconnect' && r.concurrency === c);
        const g = tp.find((r) => r.system === 'graphile-worker' && r.concurrency === c);
        rows.push([`throughput, concurrency ${c} (jobs/s)`, `> GW fast (${(0, util_1.fmt)(g.jobsPerSec)})`, (0, util_1.fmt)(x.jobsPerSec), `${(0, util_1.fmt)(x.jobsPerSec / g.jobsPerSec, 2)}x GW`, x.jobsPerSec > g.jobsPerSec ? 'MET' : 'MISSED']);
    }
    const floor = lat[0];
    const xl = lat[1];
    rows.push(['insert-to-start p50 (ms)', '< 2', (0, util_1.fmt)(xl.p50, 2), `p95 ${(0, util_1.fmt)(xl.p95, 2)}, p99 ${(0, util_1.fmt)(xl.p99, 2)}; floor p50 ${(0, util_1.fmt)(floor.p50, 2)}; GW default ${(0, util_1.fmt)(lat[2].p50, 2)}, GW fast ${(0, util_1.fmt)(lat[3].p50, 2)}`, xl.p50 < 2 ? 'MET' : 'MISSED']);
    const xi = idle[0];
    rows.push(['idle statements/s (client count)', '<= 0.5', (0, util_1.fmt)(xi.perSecond.client, 3), `server xact/s ${(0, util_1.fmt)(xi.perSecond.server, 3)}; GW default ${(0, util_1.fmt)(idle[1].perSecond.client, 3)}, GW fast ${(0, util_1.fmt)(idle[2].perSecond.client, 3)}`, xi.perSecond.client <= 0.5 ? 'MET' : 'MISSED']);
    console.log((0, util_1.table)(['measure (xtconnect)', 'target', 'measured', 'context', 'result'], rows));
    console.log('\nxtconnect keeps every finished job row (xTuple needs them); graphile-worker deletes its finished jobs.');
    console.log(`total bench time ${(0, util_1.fmt)((node_perf_hooks_1.performance.now() - t0) / 1000, 1)} s`);
}
const guard = setTimeout(() => {
    console.error(`bench: exceeded ${TOTAL_LIMIT_MS / 1000} s, stopping`);
    void (0, db_1.dropBenchDb)().finally(() => process.exit(2));
}, TOTAL_LIMIT_MS);
main()
    .catch((err) => {
    console.error(err);
    process.exitCode = 1;
})
    .finally(async () => {
    await (0, db_1.dropBenchDb)().catch(() => undefined);
    clearTimeout(guard);
});
//# sourceMappingURL=run.js.map