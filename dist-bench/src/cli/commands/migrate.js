"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.migrateCommand = migrateCommand;
const migrate_1 = require("../../db/migrate");
const context_1 = require("../context");
/** `xtconnect migrate [--dry-run]`: applies pending migrations, or lists them. */
async function migrateCommand(ctx, opts, out) {
    return (0, context_1.withPool)(ctx, async (pool) => {
        const result = await (0, migrate_1.migrate)(pool, { dryRun: opts.dryRun });
        if (opts.dryRun) {
            if (result.pending.length === 0)
                out.write('schema is up to date; nothing to apply\n');
            for (const m of result.pending)
                out.write(`would apply ${m.name}\n`);
        }
        else {
            if (result.applied.length === 0)
                out.write('schema is up to date; nothing applied\n');
            for (const m of result.applied)
                out.write(`applied ${m.name}\n`);
        }
        return 0;
    });
}
//# sourceMappingURL=migrate.js.map