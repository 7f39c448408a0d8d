"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.rescueOnce = rescueOnce;
const batch_1 = require("../db/queries/batch");
/**
 * Takes back jobs whose daemon stopped renewing their lease (killed, frozen, cut off from the database). One
 * pass; the daemon calls it on a Ticker and tests call it directly. Logs only when something changed.
 */
async function rescueOnce(pool, defaultMaxAttempts, log) {
    let total = 0;
    for (;;) {
        const rows = await (0, batch_1.rescueExpired)(pool, defaultMaxAttempts);
        for (const r of rows) {
            const what = r.failed ? 'failed (no attempts left)' : 'due again';
            log.warn(`job ${r.batch_id} (${r.batch_action}): its daemon stopped responding; ${what}`, { scope: 'rescuer', batchId: r.batch_id });
        }
        total += rows.length;
        if (rows.length < 1000)
            return total;
    }
}
//# sourceMappingURL=rescuer.js.map