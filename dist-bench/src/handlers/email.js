"use strict";
var __importDefault = (this && this.__importDefault) || function (mod) {
    return (mod && mod.__esModule) ? mod : { "default": mod };
};
Object.defineProperty(exports, "__esModule", { value: true });
exports.emailHandler = void 0;
exports.resolveAttachment = resolveAttachment;
const node_fs_1 = __importDefault(require("node:fs"));
const node_path_1 = __importDefault(require("node:path"));
const errors_1 = require("../errors");
const addresses_1 = require("../mail/addresses");
/**
 * Finds the file named by batch_filename: an absolute path as given, else in the spool folder under the job's id
 * (where a report job leaves its output) or directly in the spool folder. A name that climbs out of the spool
 * folder is refused.
 */
function resolveAttachment(ctx) {
    const name = ctx.job.batch_filename?.trim();
    if (!name)
        return null;
    const id = ctx.job.batch_id;
    const candidates = [];
    if (node_path_1.default.isAbsolute(name)) {
        candidates.push(name);
    }
    else {
        if (name.split(/[\\/]/).includes('..')) {
            throw new errors_1.JobInputError(id, 'batch_filename', `"${name}" may not contain "..": name a file in the spool folder or give an absolute path`);
        }
        candidates.push(node_path_1.default.join(ctx.cfg.spoolDir, String(id), name), node_path_1.default.join(ctx.cfg.spoolDir, name));
    }
    const found = candidates.find((c) => node_fs_1.default.existsSync(c) && node_fs_1.default.statSync(c).isFile());
    if (!found) {
        throw new errors_1.JobInputError(id, 'batch_filename', `names "${name}" but there is no such file (looked in ${candidates.join(', ')})`);
    }
    return found;
}
const emailHandler = async (ctx) => {
    const { job, settings } = ctx;
    const id = job.batch_id;
    if (!job.batch_email?.trim()) {
        throw new errors_1.JobInputError(id, 'batch_email', 'is empty: an Email job needs at least one recipient');
    }
    const to = (0, addresses_1.parseAddressList)(id, 'batch_email', job.batch_email);
    const cc = (0, addresses_1.parseAddressList)(id, 'batch_cc', job.batch_cc);
    const bcc = (0, addresses_1.parseAddressList)(id, 'batch_bcc', job.batch_bcc);
    const replyTo = (0, addresses_1.parseAddressList)(id, 'batch_replyto', job.batch_replyto);
    const fromText = job.batch_fromemail?.trim() || settings.defaultFrom;
    if (!fromText) {
        throw new errors_1.JobInputError(id, 'batch_fromemail', 'is empty and DefaultBatchFromEmailAddress is not set: set one of them (xtconnect config set DefaultBatchFromEmailAddress you@example.com)');
    }
    const from = (0, addresses_1.parseAddressList)(id, job.batch_fromemail?.trim() ? 'batch_fromemail' : 'DefaultBatchFromEmailAddress', fromText);
    const attachment = resolveAttachment(ctx);
    const body = job.batch_responsebody ?? '';
    const info = await ctx.services.mailer.send({
        from: (0, addresses_1.formatAddressList)(from)[0],
        to: (0, addresses_1.formatAddressList)(to),
        cc: cc.length ? (0, addresses_1.formatAddressList)(cc) : undefined,
        bcc: bcc.length ? (0, addresses_1.formatAddressList)(bcc) : undefined,
        replyTo: replyTo.length ? (0, addresses_1.formatAddressList)(replyTo) : undefined,
        subject: job.batch_subject ?? '',
        ...(job.batch_emailhtml ? { html: body } : { text: body }),
        attachments: attachment ? [{ filename: node_path_1.default.basename(attachment), path: attachment }] : undefined,
        headers: { 'X-xtconnect-Batch-Id': String(id) },
    }, `batch-${id}`);
    if (info.rejected.length) {
        // Some recipients took it: sending again would duplicate it for them, so the job is done; the row says who missed it.
        ctx.log.warn(`delivered, but the server refused ${info.rejected.join(', ')}`);
    }
    return { messageId: info.messageId, accepted: info.accepted, rejected: info.rejected, deliveredTo: info.deliveredTo,
        attachment: attachment ? node_path_1.default.basename(attachment) : undefined };
};
exports.emailHandler = emailHandler;
//# sourceMappingURL=email.js.map