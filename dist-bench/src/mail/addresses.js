"use strict";
var __importDefault = (this && this.__importDefault) || function (mod) {
    return (mod && mod.__esModule) ? mod : { "default": mod };
};
Object.defineProperty(exports, "__esModule", { value: true });
exports.parseAddressList = parseAddressList;
exports.formatAddressList = formatAddressList;
const addressparser_1 = __importDefault(require("nodemailer/lib/addressparser"));
const errors_1 = require("../errors");
// Deliberately plain: one @, no spaces or brackets, a dotted or single-label domain (intranet relays).
const ADDRESS = /^[^\s@<>(),;:"\\[\]]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*$/;
/**
 * Parses an address field as xTuple stores it ("a@x.com, Bob <b@y.com>", commas or semicolons). Every entry
 * must be a valid address; a bad one fails the job with the field and the address named.
 */
function parseAddressList(batchId, field, value) {
    if (!value || !value.trim())
        return [];
    const parsed = (0, addressparser_1.default)(value.replace(/;/g, ','), { flatten: true });
    const out = [];
    for (const a of parsed) {
        const address = (a.address ?? '').trim();
        if (!ADDRESS.test(address)) {
            const shown = address || a.name || value;
            throw new errors_1.JobInputError(batchId, field, `holds "${shown}", which is not a valid email address`);
        }
        out.push({ name: a.name ?? '', address });
    }
    if (out.length === 0)
        throw new errors_1.JobInputError(batchId, field, `holds ${JSON.stringify(value)}, which has no email address in it`);
    return out;
}
function formatAddressList(list) {
    return list.map((a) => (a.name ? `"${a.name.replace(/"/g, "'")}" <${a.address}>` : a.address));
}
//# sourceMappingURL=addresses.js.map