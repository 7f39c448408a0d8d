"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.listCommand = listCommand;
exports.showCommand = showCommand;
exports.retryCommand = retryCommand;
exports.cancelCommand = cancelCommand;
exports.purgeCommand = purgeCommand;
const batch_1 = require("../../db/queries/batch");
const inspect_1 = require("../../db/queries/inspect");
const settings_1 = require("../../db/queries/settings");
const submit_1 = require("../../db/queries/submit");
const context_1 = require("../context");
function cell(v, width) {
    const s = v === null || v === undefined ? '' : String(v).replace(/\s+/g, ' ');
    return s.length > width ? s.slice(0, width - 1) + '…' : s.padEnd(width);
}
async function listCommand(ctx, f, out) {
    const rows = await (0, context_1.withPool)(ctx, (pool) => (0, inspect_1.listJobs)(pool, f));
    if (f.json) {
        out.write(JSON.stringify(rows) + '\n');
        return 0;
    }
    out.write(`${cell('ID', 8)} ${cell('ACTION', 18)} ${cell('STATE', 10)} ${cell('SCHEDULED', 19)} ${cell('TRIES', 5)} ${cell('TO', 24)} STATUS\n`);
    for (const r of rows) {
        const status = r.state === 'retrying' ? r.batch_last_error : r.batch_exitstatus;
        out.write(`${cell(r.batch_id, 8)} ${cell(r.batch_action, 18)} ${cell(r.state, 10)} ${cell(r.batch_scheduled.slice(0, 19), 19)} ` +
            `${cell(r.batch_attempts, 5)} ${cell(r.batch_email, 24)} ${status ?? ''}\n`);
    }
    return 0;
}
async function showCommand(ctx, id, json, out) {
    const found = await (0, context_1.withPool)(ctx, (pool) => (0, inspect_1.getJob)(pool, id));
    if (!found) {
        out.write(`no job ${id}\n`);
        return 1;
    }
    if (json) {
        out.write(JSON.stringify(found) + '\n');
        return 0;
    }
    const { job, params } = found;
    for (const [k, v] of Object.entries(job)) {
        if (v === null || v === '')
            continue;
        out.write(`${k.padEnd(26)} ${typeof v === 'object' && !(v instanceof Date) ? JSON.stringify(v) : String(v)}\n`);
    }
    if (params.length) {
        out.write('parameters:\n');
        for (const p of params)
            out.write(`  ${String(p.order ?? '').padStart(3)} ${String(p.name)} = ${String(p.value)} (${String(p.type ?? 'QString')})\n`);
    }
    return 0;
}
async function retryCommand(ctx, id, out) {
    const r = await (0, context_1.withPool)(ctx, (pool) => (0, submit_1.retryJob)(pool, id));
    out.write(r === 1 ? `job ${id} is due again now\n` : `no job ${id}\n`);
    return r === 1 ? 0 : 1;
}
async function cancelCommand(ctx, id, out) {
    const r = await (0, context_1.withPool)(ctx, (pool) => (0, submit_1.cancelJob)(pool, id));
    const said = { 1: `job ${id} cancelled`, 0: `job ${id} had already finished; nothing to cancel`, [-1]: `no job ${id}` };
    out.write(`${said[r]}\n`);
    return r === 1 ? 0 : 1;
}
async function purgeCommand(ctx, days, out) {
    return (0, context_1.withPool)(ctx, async (pool) => {
        const d = days ?? (await (0, settings_1.readSettings)(pool)).purgeDays;
        if (d === null) {
            out.write('BatchManagerPurgeDays is not set and no --days given: nothing purged\n');
            return 0;
        }
        const n = await (0, batch_1.purgeCompleted)(pool, d);
        out.write(`purged ${n} job(s) finished more than ${d} day(s) ago\n`);
        return 0;
    });
}
//# sourceMappingURL=jobs.js.map