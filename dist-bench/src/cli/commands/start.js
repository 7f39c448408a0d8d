"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.startCommand = startCommand;
const loop_1 = require("../../daemon/loop");
const backoff_1 = require("../../daemon/backoff");
const migrate_1 = require("../../db/migrate");
const pool_1 = require("../../db/pool");
const postgres_1 = require("../../embedded/postgres");
const errors_1 = require("../../errors");
const config_1 = require("../../config");
async function waitForDatabase(pool, log, stopped) {
    for (let failures = 0;; failures++) {
        try {
            await pool.query('SELECT 1');
            if (failures > 0)
                log.info('database reachable', { scope: 'daemon' });
            return;
        }
        catch (err) {
            if (!(0, pool_1.isConnectionError)(err) || stopped())
                throw err;
            const delay = (0, backoff_1.reconnectDelayMs)(failures);
            if (failures === 0)
                log.warn(`database unreachable (${(0, errors_1.errorMessage)(err)}); waiting for it`, { scope: 'daemon' });
            await new Promise((r) => setTimeout(r, delay));
        }
    }
}
/**
 * `xtconnect start`: the daemon. Migrates the schema (advisory-locked, so many daemons may start at once), then
 * runs until SIGTERM/SIGINT: the first drains, a second puts running jobs back at once.
 */
async function startCommand(ctx, opts) {
    const { cfg, log } = ctx;
    let embedded = null;
    let url = cfg.database.url;
    if (cfg.database.embedded) {
        log.info('no database configured: using an embedded PostgreSQL', { scope: 'daemon' });
        embedded = await (0, postgres_1.startEmbedded)(cfg.dataDir, log);
        url = embedded.url;
    }
    else {
        log.info(`database: ${url ? (0, config_1.redactUrl)(url) : 'from PG* environment variables'}`, { scope: 'daemon' });
    }
    const pool = (0, pool_1.createPool)((0, pool_1.poolOptionsFrom)(cfg, 'xtconnect daemon', url), log);
    let signalled = 0;
    let daemon = null;
    let resolveExit;
    const exited = new Promise((r) => (resolveExit = r));
    const onSignal = (sig) => {
        signalled++;
        if (signalled === 1) {
            log.info(`${sig} received: stopping (send it again to put running jobs back now)`, { scope: 'daemon' });
            if (!daemon) {
                resolveExit(0);
                return;
            }
            void daemon.stop().then(() => resolveExit(0), (err) => {
                log.error(`stop failed: ${(0, errors_1.errorMessage)(err)}`, { scope: 'daemon' });
                resolveExit(1);
            });
        }
        else {
            log.warn(`${sig} received again: putting running jobs back now`, { scope: 'daemon' });
            daemon?.hurry();
        }
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    try {
        await waitForDatabase(pool, log, () => signalled > 0);
        if (signalled > 0)
            return 0;
        if (opts.migrate) {
            const { applied } = await (0, migrate_1.migrate)(pool);
            for (const m of applied)
                log.info(`applied migration ${m.name}`, { scope: 'migrate' });
        }
        const schema = await (0, migrate_1.checkSchema)(pool);
        if (schema.pending > 0) {
            log.error(`the database schema lacks ${schema.pending} migration(s): run "xtconnect migrate" (or start without --no-migrate)`, { scope: 'daemon' });
            return 1;
        }
        daemon = new loop_1.Daemon({ cfg, pool, log, ownsPool: true });
        await daemon.start();
        if (signalled > 0)
            await daemon.stop();
        const code = await exited;
        return code;
    }
    finally {
        process.off('SIGTERM', onSignal);
        process.off('SIGINT', onSignal);
        if (!daemon)
            await pool.end().catch(() => undefined);
        await embedded?.stop().catch((err) => log.warn(`embedded PostgreSQL did not stop cleanly: ${(0, errors_1.errorMessage)(err)}`));
    }
}
//# sourceMappingURL=start.js.map