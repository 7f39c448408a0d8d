"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.commandContext = commandContext;
exports.databaseUrl = databaseUrl;
exports.withPool = withPool;
const config_1 = require("../config");
const pool_1 = require("../db/pool");
const postgres_1 = require("../embedded/postgres");
const errors_1 = require("../errors");
const log_1 = require("../log");
function commandContext(opts) {
    const cfg = (0, config_1.loadConfig)(opts);
    if (opts.logLevel)
        cfg.log.level = opts.logLevel;
    return { cfg, log: (0, log_1.createLogger)(cfg) };
}
/**
 * The database a short-lived command (submit, status, list, ...) talks to: the configured one, or the embedded
 * server that `xtconnect start` is running in this data folder.
 */
async function databaseUrl(cfg) {
    if (!cfg.database.embedded)
        return cfg.database.url;
    const info = await (0, postgres_1.findEmbedded)(cfg.dataDir);
    if (!info) {
        throw new errors_1.ConfigError(`no database is configured (database.url, DATABASE_URL or PGHOST) and no embedded server is ` +
            `running in ${cfg.dataDir}: start one with "xtconnect start", or point xtconnect at your database`);
    }
    return info.url;
}
/** Runs `fn` with a small pool and always closes it. */
async function withPool(ctx, fn) {
    const url = await databaseUrl(ctx.cfg);
    const pool = (0, pool_1.createPool)({ ...(0, pool_1.poolOptionsFrom)(ctx.cfg, 'xtconnect cli', url), max: 2 }, ctx.log);
    try {
        return await fn(pool);
    }
    finally {
        await pool.end().catch(() => undefined);
    }
}
//# sourceMappingURL=context.js.map