"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.parseParams = parseParams;
const errors_1 = require("../errors");
const INT = /^[+-]?\d+$/;
const DATE = /^\d{4}-\d{2}-\d{2}$/;
const DATETIME = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([+-]\d{2}(:?\d{2})?|Z)?$/;
function isValidDate(s) {
    const d = new Date(s.slice(0, 10) + 'T00:00:00Z');
    return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === s.slice(0, 10);
}
/**
 * Converts one batchparam value by its Qt type name (as the ERP's client wrote it). An unknown type is kept as
 * text: the ERP adds types over the years, and the handler that reads the value knows what it needs.
 */
function convert(batchId, p, field) {
    const v = p.value;
    if (v === null)
        return null;
    const type = (p.type ?? 'QString').trim();
    const bad = (what) => {
        throw new errors_1.JobInputError(batchId, field, `has type ${type} but its value ${JSON.stringify(v)} is not ${what}`);
    };
    switch (type.toLowerCase()) {
        case 'int':
        case 'uint':
        case 'qlonglong':
        case 'qulonglong':
        case 'integer': {
            if (!INT.test(v.trim()))
                bad('a whole number');
            const n = Number(v);
            if (!Number.isSafeInteger(n) || (type.toLowerCase().startsWith('u') || type.toLowerCase() === 'qulonglong') && n < 0)
                bad('a whole number in range');
            return n;
        }
        case 'double':
        case 'float':
        case 'numeric': {
            const n = Number(v);
            if (v.trim() === '' || !Number.isFinite(n))
                bad('a number');
            return n;
        }
        case 'bool':
        case 'boolean': {
            const s = v.trim().toLowerCase();
            if (['true', 't', '1', 'yes'].includes(s))
                return true;
            if (['false', 'f', '0', 'no', ''].includes(s))
                return false;
            return bad('true or false');
        }
        case 'qdate':
        case 'date':
            if (!DATE.test(v.trim()) || !isValidDate(v.trim()))
                bad('a date (YYYY-MM-DD)');
            return v.trim();
        case 'qdatetime':
        case 'timestamp':
            if (!DATETIME.test(v.trim()) || !isValidDate(v.trim()))
                bad('a date and time (YYYY-MM-DD HH:MM[:SS])');
            return v.trim();
        default:
            return v;
    }
}
function parseParams(batchId, rows) {
    const out = new Map();
    for (const p of rows) {
        const label = p.name ? `parameter "${p.name}"` : `parameter #${p.order ?? '?'}`;
        if (!p.name || !p.name.trim()) {
            throw new errors_1.JobInputError(batchId, `batchparam #${p.order ?? '?'}`, 'has no name (batchparam_name is empty)');
        }
        out.set(p.name, convert(batchId, p, label));
    }
    return out;
}
//# sourceMappingURL=params.js.map