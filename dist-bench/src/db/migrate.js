"use strict";
var __importDefault = (this && this.__importDefault) || function (mod) {
    return (mod && mod.__esModule) ? mod : { "default": mod };
};
Object.defineProperty(exports, "__esModule", { value: true });
exports.SchemaTooNewError = exports.KNOWN_SCHEMA_VERSION = exports.SQL_DIR = void 0;
exports.loadMigrations = loadMigrations;
exports.appliedVersions = appliedVersions;
exports.migrate = migrate;
exports.checkSchema = checkSchema;
const node_fs_1 = __importDefault(require("node:fs"));
const node_path_1 = __importDefault(require("node:path"));
/** sql/ sits beside src/ and dist/ alike. */
exports.SQL_DIR = node_path_1.default.resolve(__dirname, '..', '..', 'sql');
function loadMigrations(dir = exports.SQL_DIR) {
    return node_fs_1.default
        .readdirSync(dir)
        .filter((f) => /^\d{4}_[a-z0-9_]+\.sql$/.test(f))
        .sort()
        .map((f) => ({ version: Number(f.slice(0, 4)), name: f.replace(/\.sql$/, ''), sql: node_fs_1.default.readFileSync(node_path_1.default.join(dir, f), 'utf8') }));
}
const KNOWN_SCHEMA_VERSION = () => Math.max(0, ...loadMigrations().map((m) => m.version));
exports.KNOWN_SCHEMA_VERSION = KNOWN_SCHEMA_VERSION;
async function appliedVersions(pool) {
    const exists = await pool.query(`SELECT to_regclass('xtbatch.xtconnect_migration')::text AS t`);
    if (!exists.rows[0]?.t)
        return [];
    const { rows } = await pool.query(`SELECT migration_version AS v FROM xtbatch.xtconnect_migration ORDER BY 1`);
    return rows.map((r) => r.v);
}
/** Raised when the database was migrated by a newer xtconnect: running against it could corrupt its jobs. */
class SchemaTooNewError extends Error {
    constructor(dbVersion, known) {
        super(`the database schema is at version ${dbVersion} but this xtconnect knows only up to ${known}; ` +
            `upgrade xtconnect on this machine before running it against this database`);
    }
}
exports.SchemaTooNewError = SchemaTooNewError;
/**
 * Applies pending migrations, each in its own transaction, under an advisory lock so that two daemons starting
 * at once cannot both run them. With dryRun it only reports what is pending.
 */
async function migrate(pool, opts = {}) {
    const all = loadMigrations();
    const known = Math.max(0, ...all.map((m) => m.version));
    const client = await pool.connect();
    try {
        if (!opts.dryRun)
            await client.query(`SELECT pg_advisory_lock(hashtext('xtconnect.migrate'))`);
        try {
            const done = new Set(await appliedVersions(pool));
            const newest = Math.max(0, ...done);
            if (newest > known)
                throw new SchemaTooNewError(newest, known);
            const pending = all.filter((m) => !done.has(m.version));
            if (opts.dryRun)
                return { applied: [], pending };
            for (const m of pending) {
                await client.query('BEGIN');
                try {
                    await client.query(m.sql);
                    await client.query(`INSERT INTO xtbatch.xtconnect_migration (migration_version, migration_name) VALUES ($1, $2)`, [m.version, m.name]);
                    await client.query('COMMIT');
                }
                catch (err) {
                    await client.query('ROLLBACK').catch(() => undefined);
                    err.message = `migration ${m.name} failed: ${err.message}`;
                    throw err;
                }
            }
            return { applied: pending, pending: [] };
        }
        finally {
            if (!opts.dryRun)
                await client.query(`SELECT pg_advisory_unlock(hashtext('xtconnect.migrate'))`).catch(() => undefined);
        }
    }
    finally {
        client.release();
    }
}
/** For a daemon: is the schema one this build can run against? Throws SchemaTooNewError when not. */
async function checkSchema(pool) {
    const all = loadMigrations();
    const known = Math.max(0, ...all.map((m) => m.version));
    const done = await appliedVersions(pool);
    const version = Math.max(0, ...done);
    if (version > known)
        throw new SchemaTooNewError(version, known);
    return { version, pending: all.filter((m) => !done.includes(m.version)).length };
}
//# sourceMappingURL=migrate.js.map