"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.classifySmtpError = classifySmtpError;
const errors_1 = require("../errors");
const NETWORK = {
    ECONNREFUSED: 'connection refused',
    ECONNECTION: 'could not connect',
    ETIMEDOUT: 'timed out',
    ESOCKET: 'the connection failed',
    EDNS: 'the host name could not be resolved',
    ECONNRESET: 'the connection was reset',
};
/**
 * Turns a nodemailer failure into a sentence for batch_exitstatus and the right kind of error: a 5xx reply is
 * final (the server will say the same again), a 4xx reply or a network fault is worth another try.
 */
function classifySmtpError(err, server) {
    const e = err;
    const reply = (e.response ?? '').trim();
    if (typeof e.responseCode === 'number') {
        if (e.code === 'EAUTH') {
            return new errors_1.PermanentError(`SMTP server ${server} refused the login (${reply || e.responseCode}); ` +
                'fix smtp.user and smtp.password in the config, then retry the job');
        }
        const what = e.command === 'RCPT TO' || e.code === 'EENVELOPE' ? 'refused a recipient' : 'rejected the message';
        const rejected = e.rejected?.length ? ` (${e.rejected.join(', ')})` : '';
        if (e.responseCode >= 500)
            return new errors_1.PermanentError(`SMTP server ${server} ${what}${rejected}: ${reply}`);
        return new errors_1.TransientError(`SMTP server ${server} temporarily ${what}${rejected}: ${reply}`);
    }
    const cause = (e.code && NETWORK[e.code]) || e.errno && NETWORK[String(e.errno)];
    if (cause || /ECONNREFUSED|ETIMEDOUT|ECONNRESET|socket|Greeting never received|Connection closed/i.test(e.message)) {
        return new errors_1.TransientError(`could not reach SMTP server ${server}: ${cause || e.message}`);
    }
    if (e.code === 'EENVELOPE')
        return new errors_1.PermanentError(`the message has no valid envelope: ${e.message}`);
    if (e.code === 'ETLS')
        return new errors_1.TransientError(`TLS with SMTP server ${server} failed: ${e.message}`);
    return new errors_1.TransientError(`sending through ${server} failed: ${e.message}`);
}
//# sourceMappingURL=smtpErrors.js.map