"use strict";
var __importDefault = (this && this.__importDefault) || function (mod) {
    return (mod && mod.__esModule) ? mod : { "default": mod };
};
Object.defineProperty(exports, "__esModule", { value: true });
exports.createMailer = createMailer;
const promises_1 = __importDefault(require("node:fs/promises"));
const node_path_1 = __importDefault(require("node:path"));
const nodemailer_1 = __importDefault(require("nodemailer"));
const smtpErrors_1 = require("./smtpErrors");
function addresses(list) {
    if (!Array.isArray(list))
        return [];
    return list.map((a) => (typeof a === 'string' ? a : String(a.address ?? a)));
}
/** Pooled SMTP: connections are reused across jobs, up to smtp.maxConnections. */
function smtpMailer(smtp) {
    const server = `${smtp.host}:${smtp.port}`;
    const transport = nodemailer_1.default.createTransport({
        pool: true,
        host: smtp.host,
        port: smtp.port,
        secure: smtp.security === 'tls',
        requireTLS: smtp.security === 'starttls',
        ignoreTLS: smtp.security === 'none',
        auth: smtp.user ? { user: smtp.user, pass: smtp.password ?? '' } : undefined,
        tls: { rejectUnauthorized: smtp.rejectUnauthorized },
        maxConnections: smtp.maxConnections,
        connectionTimeout: smtp.connectionTimeoutMs,
        greetingTimeout: smtp.connectionTimeoutMs,
        socketTimeout: Math.max(smtp.connectionTimeoutMs, 60_000),
        logger: false,
    });
    return {
        description: `smtp ${server}`,
        async send(message) {
            try {
                const info = await transport.sendMail(message);
                return { messageId: info.messageId, accepted: addresses(info.accepted), rejected: addresses(info.rejected), deliveredTo: `smtp://${server}` };
            }
            catch (err) {
                throw (0, smtpErrors_1.classifySmtpError)(err, server);
            }
        },
        close: () => transport.close(),
    };
}
/**
 * With no SMTP server configured, each message becomes an .eml file that any mail program opens. Written under
 * a temporary name and renamed, so a reader never sees half a message.
 */
function outboxMailer(dir) {
    const transport = nodemailer_1.default.createTransport({ streamTransport: true, buffer: true, newline: 'windows' });
    return {
        description: `outbox ${dir}`,
        async send(message, fileHint) {
            const info = (await transport.sendMail(message));
            await promises_1.default.mkdir(dir, { recursive: true });
            const safe = fileHint.replace(/[^A-Za-z0-9._-]/g, '_');
            const file = node_path_1.default.join(dir, `${safe}.eml`);
            const tmp = node_path_1.default.join(dir, `.${safe}.eml.tmp`);
            await promises_1.default.writeFile(tmp, info.message);
            await promises_1.default.rename(tmp, file);
            return { messageId: info.messageId, accepted: info.envelope.to, rejected: [], deliveredTo: file };
        },
        close: () => undefined,
    };
}
function createMailer(cfg) {
    return cfg.smtp ? smtpMailer(cfg.smtp) : outboxMailer(cfg.outboxDir);
}
//# sourceMappingURL=transport.js.map