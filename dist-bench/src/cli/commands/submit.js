"use strict";
var __importDefault = (this && this.__importDefault) || function (mod) {
    return (mod && mod.__esModule) ? mod : { "default": mod };
};
Object.defineProperty(exports, "__esModule", { value: true });
exports.parseParam = parseParam;
exports.parseAt = parseAt;
exports.submitEmailCommand = submitEmailCommand;
exports.submitActionCommand = submitActionCommand;
exports.submitReportCommand = submitReportCommand;
const node_path_1 = __importDefault(require("node:path"));
const submit_1 = require("../../db/queries/submit");
const errors_1 = require("../../errors");
const context_1 = require("../context");
/** --param name=value or name:type=value (type as xTuple writes it: QString, int, double, bool, QDate, ...). */
function parseParam(spec, previous = []) {
    const eq = spec.indexOf('=');
    if (eq <= 0)
        throw new errors_1.ConfigError(`--param "${spec}" must look like name=value or name:type=value`);
    const left = spec.slice(0, eq);
    const [name, type] = left.includes(':') ? left.split(':', 2) : [left, 'QString'];
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name))
        throw new errors_1.ConfigError(`--param "${spec}": "${name}" is not a parameter name`);
    return [...previous, { name, type, value: spec.slice(eq + 1) }];
}
/** --at "2026-12-01 08:00" (the database server's local time, as xTuple stores it). */
function parseAt(at) {
    if (!at)
        return null;
    if (!/^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2})?)?$/.test(at.trim()) || Number.isNaN(Date.parse(at.trim().replace(' ', 'T')))) {
        throw new errors_1.ConfigError(`--at "${at}" must be a date and time like "2026-12-01 08:00"`);
    }
    return at.trim().replace('T', ' ');
}
async function submitEmailCommand(ctx, f, out) {
    const id = await (0, context_1.withPool)(ctx, (pool) => (0, submit_1.submitEmail)(pool, {
        from: f.from ?? null, to: f.to, cc: f.cc ?? null, bcc: f.bcc ?? null, replyTo: f.replyTo ?? null,
        subject: f.subject, body: f.body ?? '', html: Boolean(f.html),
        filename: f.attach ? node_path_1.default.resolve(f.attach) : null, scheduled: parseAt(f.at),
    }));
    out.write(`${id}\n`);
    return 0;
}
async function submitActionCommand(ctx, action, f, out) {
    const id = await (0, context_1.withPool)(ctx, (pool) => (0, submit_1.submitAction)(pool, action, f.email ?? null, parseAt(f.at), f.param));
    out.write(`${id}\n`);
    return 0;
}
async function submitReportCommand(ctx, report, f, out) {
    const id = await (0, context_1.withPool)(ctx, (pool) => (0, submit_1.submitReport)(pool, {
        report, from: f.from ?? null, to: f.to ?? null, cc: f.cc ?? null, subject: f.subject ?? null, body: f.body ?? null,
        filename: f.filename ?? null, scheduled: parseAt(f.at), html: Boolean(f.html),
    }, f.param));
    out.write(`${id}\n`);
    return 0;
}
//# sourceMappingURL=submit.js.map