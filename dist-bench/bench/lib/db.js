"use strict";
var __importDefault = (this && this.__importDefault) || function (mod) {
    return (mod && mod.__esModule) ? mod : { "default": mod };
};
Object.defineProperty(exports, "__esModule", { value: true });
exports.BENCH_DB = void 0;
exports.adminUrl = adminUrl;
exports.benchUrl = benchUrl;
exports.recreateBenchDb = recreateBenchDb;
exports.dropBenchDb = dropBenchDb;
exports.benchPool = benchPool;
exports.migrateXt = migrateXt;
exports.benchQuery = benchQuery;
exports.statDatabase = statDatabase;
exports.sessionsOnBenchDb = sessionsOnBenchDb;
exports.serverInfo = serverInfo;
/**
 * Database plumbing for the benchmarks: a loopback-only admin connection, one dedicated database that is created
 * fresh for every run and dropped afterwards, and the xtconnect migrations.
 */
const node_fs_1 = __importDefault(require("node:fs"));
const node_path_1 = __importDefault(require("node:path"));
const pg_1 = __importDefault(require("pg"));
const pool_1 = require("../../src/db/pool");
const migrate_1 = require("../../src/db/migrate");
const log_1 = require("../../src/log");
/** The only database the benchmarks create, fill and drop. */
exports.BENCH_DB = process.env.BENCH_DB ?? 'xtc_bench';
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);
/** BENCH_ADMIN_URL, default postgres://postgres@127.0.0.1:5432/postgres. Refuses anything but loopback. */
function adminUrl() {
    const url = process.env.BENCH_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
    const u = new URL(url);
    if (!LOOPBACK.has(u.hostname))
        throw new Error(`benchmarks run only against a loopback server; BENCH_ADMIN_URL host is ${u.hostname}`);
    if (!/^xtc_bench[a-z0-9_]*$/.test(exports.BENCH_DB))
        throw new Error(`BENCH_DB must start with xtc_bench (got ${exports.BENCH_DB})`);
    return url;
}
function benchUrl(applicationName) {
    const u = new URL(adminUrl());
    u.pathname = `/${exports.BENCH_DB}`;
    if (applicationName)
        u.searchParams.set('application_name', applicationName);
    return u.toString();
}
async function withAdmin(fn) {
    const c = new pg_1.default.Client({ connectionString: adminUrl(), application_name: 'xtconnect bench admin' });
    await c.connect();
    try {
        return await fn(c);
    }
    finally {
        await c.end();
    }
}
/** Drops (forcefully) and recreates the bench database: every run starts from an empty database. */
async function recreateBenchDb() {
    await withAdmin(async (c) => {
        await c.query(`DROP DATABASE IF EXISTS ${exports.BENCH_DB} WITH (FORCE)`);
        await c.query(`CREATE DATABASE ${exports.BENCH_DB} TEMPLATE template0`);
    });
}
async function dropBenchDb() {
    await withAdmin((c) => c.query(`DROP DATABASE IF EXISTS ${exports.BENCH_DB} WITH (FORCE)`));
}
/**
 * migrate() reads sql/ from two directories above its compiled file, which under dist-bench/ is dist-bench/sql:
 * copy the repository's sql/ there (the build output directory; nothing in the repository is touched).
 */
function ensureSqlDir() {
    let dir = __dirname;
    for (let i = 0; i < 6; i++) {
        const candidate = node_path_1.default.join(dir, 'sql');
        if (node_fs_1.default.existsSync(node_path_1.default.join(candidate, '0001_install_xtbatch.sql')) && node_fs_1.default.existsSync(node_path_1.default.join(dir, 'package.json'))) {
            if (node_path_1.default.resolve(candidate) !== node_path_1.default.resolve(migrate_1.SQL_DIR)) {
                node_fs_1.default.mkdirSync(migrate_1.SQL_DIR, { recursive: true });
                for (const f of node_fs_1.default.readdirSync(candidate))
                    node_fs_1.default.copyFileSync(node_path_1.default.join(candidate, f), node_path_1.default.join(migrate_1.SQL_DIR, f));
            }
            return;
        }
        dir = node_path_1.default.dirname(dir);
    }
    if (!node_fs_1.default.existsSync(migrate_1.SQL_DIR))
        throw new Error(`cannot find the repository's sql/ directory from ${__dirname}`);
}
/** A pool on the bench database for the benchmark itself (inserting, observing), not for the system under test. */
function benchPool(applicationName, max = 4) {
    return (0, pool_1.createPool)({ url: benchUrl(), max, statementTimeoutMs: 0, applicationName }, (0, log_1.silentLogger)());
}
/** Applies xtconnect's migrations to the (fresh) bench database with src/db/migrate.ts. */
async function migrateXt() {
    ensureSqlDir();
    const pool = benchPool('xtconnect bench migrate', 2);
    try {
        await (0, migrate_1.migrate)(pool);
    }
    finally {
        await pool.end();
    }
}
/** One-shot statement on the bench database from a short-lived connection. */
async function benchQuery(sql, values = []) {
    const c = new pg_1.default.Client({ connectionString: benchUrl(), application_name: 'xtconnect bench setup' });
    await c.connect();
    try {
        return (await c.query(sql, values)).rows;
    }
    finally {
        await c.end();
    }
}
/** Reads pg_stat_database for the bench database from a connection to the admin database (so it is not counted). */
async function statDatabase() {
    return withAdmin(async (c) => {
        const { rows } = await c.query(`SELECT xact_commit::text AS c, xact_rollback::text AS r FROM pg_stat_database WHERE datname = $1`, [exports.BENCH_DB]);
        const commits = Number(rows[0]?.c ?? 0);
        const rollbacks = Number(rows[0]?.r ?? 0);
        return { xacts: commits + rollbacks, commits, rollbacks };
    });
}
/** Connections to the bench database by application_name, as the server sees them. */
async function sessionsOnBenchDb() {
    return withAdmin(async (c) => {
        const { rows } = await c.query(`SELECT coalesce(nullif(application_name, ''), backend_type) AS app, count(*)::int AS n
         FROM pg_stat_activity WHERE datname = $1 GROUP BY 1 ORDER BY 1`, [exports.BENCH_DB]);
        return Object.fromEntries(rows.map((r) => [r.app, r.n]));
    });
}
/** Server facts worth printing with the figures. */
async function serverInfo() {
    return withAdmin(async (c) => {
        const one = async (q) => String((await c.query(q)).rows[0]?.v ?? '');
        return {
            version: await one(`SELECT split_part(version(), ' on ', 1) AS v`),
            preload: await one(`SELECT current_setting('shared_preload_libraries') AS v`),
            maxConnections: await one(`SELECT current_setting('max_connections') AS v`),
            fsync: await one(`SELECT current_setting('fsync') AS v`),
            syncCommit: await one(`SELECT current_setting('synchronous_commit') AS v`),
        };
    });
}
//# sourceMappingURL=db.js.map