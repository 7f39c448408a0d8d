"use strict";
var __importDefault = (this && this.__importDefault) || function (mod) {
    return (mod && mod.__esModule) ? mod : { "default": mod };
};
Object.defineProperty(exports, "__esModule", { value: true });
exports.WINDOW_S = void 0;
exports.xtIdle = xtIdle;
exports.gwIdle = gwIdle;
exports.runIdle = runIdle;
/**
 * Benchmark 3: what an idle worker costs the database. The worker runs alone on a fresh database with nothing to
 * do; after a warm-up (so start-up statements, and PostgreSQL's up-to-10-s-late statistics for them, are out of
 * the window) the statements it sends are counted for a fixed window, three ways:
 *
 *  a. client side, every statement any pg.Client in this process sends, by application_name (pg.Client.prototype
 *     .query is patched): covers the pool and the LISTEN connection;
 *  b. for xtconnect also the Daemon's own pool.query, instrumented, by kind of statement;
 *  c. server side, the delta of pg_stat_database.xact_commit + xact_rollback for the bench database, read from a
 *     connection to the admin database so that the measuring queries are not in it (one autocommit statement is
 *     one transaction; autovacuum, if it visits the database, adds a few);
 *  d. pg_stat_statements, when the server has it in shared_preload_libraries (checked, reported either way).
 */
const node_perf_hooks_1 = require("node:perf_hooks");
const pg_1 = __importDefault(require("pg"));
const db_1 = require("./lib/db");
const count_1 = require("./lib/count");
const gw_1 = require("./lib/gw");
const xt_1 = require("./lib/xt");
const util_1 = require("./lib/util");
exports.WINDOW_S = Number(process.env.BENCH_IDLE_SECONDS ?? 30);
/** Longer than PostgreSQL 15's PGSTAT_IDLE_INTERVAL (10 s), so start-up transactions are flushed before the window. */
const WARMUP_S = Number(process.env.BENCH_IDLE_WARMUP_SECONDS ?? 11);
/** Tries pg_stat_statements in the bench database; null with the reason when it cannot be used. */
async function pgssProbe() {
    const c = new pg_1.default.Client({ connectionString: (0, db_1.benchUrl)(), application_name: 'bench pgss probe' });
    await c.connect();
    try {
        await c.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
        await c.query('SELECT count(*) FROM pg_stat_statements');
        return { ok: true, note: 'pg_stat_statements available' };
    }
    catch (err) {
        return { ok: false, note: `pg_stat_statements not usable: ${err.message}` };
    }
    finally {
        await c.end();
    }
}
/** Calls in pg_stat_statements for the bench database, read from the admin database. */
async function pgssCalls(reset) {
    const u = new URL((0, db_1.benchUrl)());
    u.pathname = '/postgres';
    const c = new pg_1.default.Client({ connectionString: u.toString(), application_name: 'bench pgss reader' });
    await c.connect();
    try {
        // The view lives in the database where the extension was created; read it through the bench database's oid.
        const { rows } = await c.query(`SELECT coalesce(sum(calls), 0)::text AS n FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = $1`, [db_1.BENCH_DB]).catch(() => ({ rows: [{ n: 'NaN' }] }));
        if (reset)
            await c.query('SELECT pg_stat_statements_reset()').catch(() => undefined);
        return Number(rows[0].n);
    }
    finally {
        await c.end();
    }
}
async function measureIdle(system, app, start) {
    (0, count_1.countClientQueries)();
    const probe = await pgssProbe();
    const worker = await start();
    try {
        await (0, util_1.sleep)(WARMUP_S * 1000);
        const c0 = (0, count_1.clientQueryCounts)();
        const k0 = worker.kinds?.() ?? null;
        const s0 = await (0, db_1.statDatabase)();
        if (probe.ok)
            await pgssCalls(true); // reset: what is counted after this is the window's
        const t0 = node_perf_hooks_1.performance.now();
        await (0, util_1.sleep)((exports.WINDOW_S * 1000) / 2);
        const sessions = await (0, db_1.sessionsOnBenchDb)();
        await (0, util_1.sleep)((exports.WINDOW_S * 1000) / 2);
        const c1 = (0, count_1.clientQueryCounts)();
        const k1 = worker.kinds?.() ?? null;
        const s1 = await (0, db_1.statDatabase)();
        const p1 = probe.ok ? await pgssCalls(false) : NaN;
        const seconds = (node_perf_hooks_1.performance.now() - t0) / 1000;
        const client = (0, count_1.countsDelta)(c0, c1, app);
        let poolKinds = null;
        if (k0 && k1) {
            poolKinds = {};
            for (const [k, n] of Object.entries(k1))
                if (n - (k0[k] ?? 0) > 0)
                    poolKinds[k] = n - (k0[k] ?? 0);
        }
        const pgss = probe.ok ? p1 : null;
        return {
            system,
            windowS: seconds,
            clientStatements: client.total,
            clientByApp: client.byApp,
            poolKinds,
            serverXacts: s1.xacts - s0.xacts,
            pgss,
            pgssNote: probe.note,
            sessions,
            perSecond: { client: client.total / seconds, server: (s1.xacts - s0.xacts) / seconds, pgss: pgss === null ? null : pgss / seconds },
        };
    }
    finally {
        await worker.stop();
    }
}
async function xtIdle() {
    await (0, db_1.recreateBenchDb)();
    await (0, db_1.migrateXt)();
    return measureIdle('xtconnect (defaults: concurrency 10, poll 3000 ms, LISTEN, maintenance 15 s)', (a) => a === xt_1.XT_APP || a === 'xtconnect listener', async () => {
        const xt = await (0, xt_1.startXt)(10, { Noop: async () => undefined });
        return {
            stop: () => xt.stop(),
            kinds: () => Object.fromEntries([...xt.inst.stats.entries()].map(([k, s]) => [k, s.count])),
        };
    });
}
async function gwIdle(mode) {
    await (0, db_1.recreateBenchDb)();
    await (0, gw_1.migrateGw)();
    return measureIdle((0, gw_1.describeGw)(mode, 10), (a) => a === gw_1.GW_APP, async () => {
        const gw = await (0, gw_1.startGw)(mode, 10, { noop: async () => undefined });
        return { stop: () => gw.stop() };
    });
}
async function runIdle() {
    (0, util_1.heading)(`3. IDLE COST: statements per second an idle worker sends, ${exports.WINDOW_S} s window after ${WARMUP_S} s warm-up, fresh database each`);
    const results = [await xtIdle(), await gwIdle('default'), await gwIdle('fast')];
    const names = ['xtconnect', 'GW default', 'GW fast'];
    for (const [i, r] of results.entries()) {
        console.log(`\n${names[i]}: ${r.system}`);
        console.log(`  client-side statements by application_name: ${JSON.stringify(r.clientByApp)}`);
        if (r.poolKinds)
            console.log(`  daemon pool.query by kind: ${JSON.stringify(r.poolKinds)}`);
        console.log(`  server: pg_stat_database xact delta ${r.serverXacts}; ${r.pgssNote}`);
        console.log(`  sessions on ${db_1.BENCH_DB} mid-window (pg_stat_activity): ${JSON.stringify(r.sessions)}`);
    }
    console.log('');
    console.log((0, util_1.table)(['system', 'window s', 'client stmts', 'client q/s', 'server xacts', 'server xact/s', 'pg_stat_statements q/s'], results.map((r, i) => [names[i], (0, util_1.fmt)(r.windowS, 1), String(r.clientStatements), (0, util_1.fmt)(r.perSecond.client, 3), String(r.serverXacts), (0, util_1.fmt)(r.perSecond.server, 3), r.perSecond.pgss === null ? 'n/a' : (0, util_1.fmt)(r.perSecond.pgss, 3)])));
    return results;
}
if (require.main === module) {
    runIdle()
        .catch((err) => {
        console.error(err);
        process.exitCode = 1;
    })
        .finally(() => (0, db_1.dropBenchDb)().catch(() => undefined));
}
//# sourceMappingURL=idle.js.map