"use strict";
var __importDefault = (this && this.__importDefault) || function (mod) {
    return (mod && mod.__esModule) ? mod : { "default": mod };
};
Object.defineProperty(exports, "__esModule", { value: true });
exports.purgeOnce = purgeOnce;
exports.schedulePurge = schedulePurge;
const node_cron_1 = __importDefault(require("node-cron"));
const batch_1 = require("../db/queries/batch");
const settings_1 = require("../db/queries/settings");
/** Deletes finished jobs older than BatchManagerPurgeDays (read at run time, so a change applies at once). */
async function purgeOnce(pool, log) {
    const { purgeDays } = await (0, settings_1.readSettings)(pool);
    if (purgeDays === null) {
        log.debug('BatchManagerPurgeDays is not set: nothing purged', { scope: 'purger' });
        return 0;
    }
    const n = await (0, batch_1.purgeCompleted)(pool, purgeDays);
    if (n > 0)
        log.info(`purged ${n} job(s) finished more than ${purgeDays} day(s) ago`, { scope: 'purger' });
    return n;
}
/**
 * Daily by default (daemon.purgeSchedule, a cron expression in the machine's time zone). Several daemons may run
 * it at once: the delete is idempotent and works in small batches.
 */
function schedulePurge(expression, pool, log) {
    return node_cron_1.default.schedule(expression, async () => {
        try {
            await purgeOnce(pool, log);
        }
        catch (err) {
            log.warn(`purge failed: ${err.message}`, { scope: 'purger' });
        }
    }, { name: 'xtconnect-purge', noOverlap: true, maxRandomDelay: 60_000 });
}
//# sourceMappingURL=purger.js.map