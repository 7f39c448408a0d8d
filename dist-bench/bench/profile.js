"use strict";
var __importDefault = (this && this.__importDefault) || function (mod) {
    return (mod && mod.__esModule) ? mod : { "default": mod };
};
Object.defineProperty(exports, "__esModule", { value: true });
exports.runProfile = runProfile;
/**
 * Profile of xtconnect's hot statements, to explain the throughput figures: what one claim costs at different
 * sizes, what one batched finish costs at different batch sizes (through the real named prepared statements, so
 * PostgreSQL's plan cache switches to a generic plan after five executions exactly as in the daemon), what the
 * lease renewal costs, the plans (EXPLAIN ANALYZE, custom and generic) and the commit floor of this server.
 *
 * Everything runs on a fresh bench database with 20,000 waiting jobs; EXPLAIN ANALYZE runs inside a transaction
 * that is rolled back.
 */
const node_perf_hooks_1 = require("node:perf_hooks");
const pg_1 = __importDefault(require("pg"));
const batch_1 = require("../src/db/queries/batch");
const db_1 = require("./lib/db");
const count_1 = require("./lib/count");
const util_1 = require("./lib/util");
const ROWS = 20_000;
const OWNER = 'bench-profile';
async function timeIt(n, fn) {
    const out = [];
    for (let i = 0; i < n; i++) {
        const t = node_perf_hooks_1.performance.now();
        await fn(i);
        out.push(node_perf_hooks_1.performance.now() - t);
    }
    return out;
}
const summary = (xs) => {
    const s = [...xs].sort((a, b) => a - b);
    return `mean ${(0, util_1.fmt)((0, util_1.mean)(xs), 2)} ms, p50 ${(0, util_1.fmt)((0, util_1.percentile)(s, 50), 2)}, max ${(0, util_1.fmt)(s[s.length - 1], 2)}`;
};
/** EXPLAIN (ANALYZE, BUFFERS) of `text` with `values`, custom or generic plan, rolled back. Returns the plan lines. */
async function explain(text, values, mode) {
    const c = new pg_1.default.Client({ connectionString: (0, db_1.benchUrl)(), application_name: 'bench explain' });
    await c.connect();
    try {
        await c.query('BEGIN');
        await c.query(`SET LOCAL plan_cache_mode = force_${mode}_plan`);
        // A named statement is planned like the daemon's: force_generic_plan makes it use the generic plan at once.
        const { rows } = await c.query({ name: `explain_${mode}_${Math.random()}`, text: `EXPLAIN (ANALYZE, BUFFERS, COSTS ON) ${text}`, values });
        return rows.map((r) => r['QUERY PLAN']);
    }
    finally {
        await c.query('ROLLBACK').catch(() => undefined);
        await c.end();
    }
}
function done(ids, attempt = 1) {
    return ids.map((batchId) => ({ batchId, attempt, kind: 'done', message: null, delaySeconds: 0, result: null }));
}
async function runProfile() {
    (0, util_1.heading)(`PROFILE of xtconnect's statements on ${(0, util_1.fmt)(ROWS)} waiting jobs`);
    await (0, db_1.recreateBenchDb)();
    await (0, db_1.migrateXt)();
    await (0, db_1.benchQuery)(`INSERT INTO xtbatch.batch (batch_action) SELECT 'Noop' FROM generate_series(1, $1::int)`, [ROWS]);
    await (0, db_1.benchQuery)('ANALYZE xtbatch.batch');
    const pool = (0, db_1.benchPool)('xtconnect bench profile', 4);
    const inst = (0, count_1.instrumentPool)(pool);
    try {
        // --- commit floor ---------------------------------------------------------------------------------------
        await pool.query('CREATE TABLE bench_commit (id int PRIMARY KEY, n int)');
        await pool.query('INSERT INTO bench_commit VALUES (1, 0)');
        const select1 = await timeIt(200, () => pool.query('SELECT 1'));
        const commit = await timeIt(200, () => pool.query('UPDATE bench_commit SET n = n + 1 WHERE id = 1'));
        console.log(`round trip of SELECT 1 (no commit to flush):    ${summary(select1)}`);
        console.log(`one-row UPDATE in autocommit (WAL flush):       ${summary(commit)}`);
        // --- claims ----------------------------------------------------------------------------------------------
        console.log('\nclaimDue() through the daemon\'s named statement (first 5 custom plans, then PostgreSQL may pick a generic one):');
        const claimRows = [];
        const claimed = [];
        for (const limit of [1, 10, 50, 500]) {
            const times = await timeIt(12, async () => {
                const rows = await (0, batch_1.claimDue)(pool, OWNER, limit, 60, [], []);
                claimed.push(...rows.map((r) => r.batch_id));
            });
            claimRows.push([String(limit), summary(times), (0, util_1.fmt)((0, util_1.mean)(times) / limit, 3)]);
        }
        console.log((0, util_1.table)(['claim LIMIT', 'time per claim (12 claims)', 'ms per job'], claimRows));
        const claimSql = inst.lastClaim;
        for (const mode of ['custom', 'generic']) {
            const values = [...claimSql.values];
            values[1] = 10;
            console.log(`\nEXPLAIN ANALYZE claim LIMIT 10, ${mode} plan:`);
            for (const l of await explain(claimSql.text, values, mode))
                console.log('  ' + l);
        }
        // --- finishes ---------------------------------------------------------------------------------------------
        console.log('\nfinishMany() through the daemon\'s named statement, on jobs claimed above (attempt 1):');
        // Claim enough rows for every batch below.
        while (claimed.length < 1 * 8 + 10 * 8 + 100 * 8 + 1000 * 8 + 2000) {
            const rows = await (0, batch_1.claimDue)(pool, OWNER, 500, 60, [], []);
            if (rows.length === 0)
                break;
            claimed.push(...rows.map((r) => r.batch_id));
        }
        let next = 0;
        const finishRows = [];
        for (const size of [1, 10, 100, 1000]) {
            const times = await timeIt(8, async () => {
                const ids = claimed.slice(next, next + size);
                next += size;
                const written = await (0, batch_1.finishMany)(pool, OWNER, done(ids));
                if (written.size !== ids.length)
                    throw new Error(`finish wrote ${written.size} of ${ids.length}`);
            });
            finishRows.push([String(size), times.map((t) => (0, util_1.fmt)(t, 1)).join(' '), (0, util_1.fmt)((0, util_1.mean)(times.slice(-3)) / size, 3)]);
        }
        console.log((0, util_1.table)(['batch size', 'ms per statement, executions 1..8 (6th+ may use the generic plan)', 'ms per outcome (last 3)'], finishRows));
        const f1000 = claimed.slice(next, next + 1000);
        const finishValues = [OWNER, f1000, f1000.map(() => 1), f1000.map(() => 'done'), f1000.map(() => null), f1000.map(() => 0), f1000.map(() => null)];
        const finishText = (await captureText((p) => (0, batch_1.finishMany)(p, OWNER, done([1]))));
        for (const mode of ['custom', 'generic']) {
            console.log(`\nEXPLAIN ANALYZE finish of 1000 outcomes, ${mode} plan:`);
            for (const l of await explain(finishText, finishValues, mode))
                console.log('  ' + l);
        }
        // --- leases -----------------------------------------------------------------------------------------------
        const held = claimed.slice(next);
        console.log(`\nextendLeases() over ${(0, util_1.fmt)(held.length)} held jobs (the daemon renews running jobs AND every outcome still queued in the completer):`);
        for (const n of [10, 1000, held.length]) {
            const times = await timeIt(3, () => (0, batch_1.extendLeases)(pool, OWNER, held.slice(0, n), 60));
            console.log(`  ${String(n).padStart(6)} ids: ${summary(times)}`);
        }
    }
    finally {
        await pool.end();
    }
}
/** The SQL text a query function sends, without running it. */
async function captureText(fn) {
    let text = '';
    const fake = { query: async (q) => { text = q.text; return { rows: [], rowCount: 0 }; } };
    await fn(fake);
    return text;
}
if (require.main === module) {
    runProfile()
        .catch((err) => {
        console.error(err);
        process.exitCode = 1;
    })
        .finally(() => (0, db_1.dropBenchDb)().catch(() => undefined));
}
//# sourceMappingURL=profile.js.map