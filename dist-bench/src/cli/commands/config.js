"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.normaliseSetting = normaliseSetting;
exports.configGetCommand = configGetCommand;
exports.configSetCommand = configSetCommand;
exports.excludeCommand = excludeCommand;
const settings_1 = require("../../db/queries/settings");
const errors_1 = require("../../errors");
const patterns_1 = require("../../settings/patterns");
const context_1 = require("../context");
const SETTINGS = {
    [settings_1.SETTING_NAMES.enabled]: 'bool',
    [settings_1.SETTING_NAMES.defaultFrom]: 'email',
    [settings_1.SETTING_NAMES.purgeDays]: 'days',
    [settings_1.SETTING_NAMES.createContacts]: 'bool',
};
/** Checks a value before it reaches the database, so a typo cannot switch the batch manager off. */
function normaliseSetting(name, value) {
    const kind = SETTINGS[name];
    if (!kind)
        throw new errors_1.ConfigError(`unknown setting "${name}"; settings are ${Object.keys(SETTINGS).join(', ')}`);
    const v = value.trim();
    switch (kind) {
        case 'bool':
            if (/^(t|true|1|yes|on)$/i.test(v))
                return 't';
            if (/^(f|false|0|no|off)$/i.test(v))
                return 'f';
            throw new errors_1.ConfigError(`${name} must be true or false (got "${value}")`);
        case 'days':
            if (/^\d+$/.test(v) && Number(v) <= 36500)
                return String(Number(v));
            throw new errors_1.ConfigError(`${name} must be a whole number of days, 0 for never (got "${value}")`);
        case 'email':
            if (v === '' || /^[^\s@]+@[^\s@]+$/.test(v))
                return v;
            throw new errors_1.ConfigError(`${name} must be an email address (got "${value}")`);
    }
}
async function configGetCommand(ctx, name, json, out) {
    const s = await (0, context_1.withPool)(ctx, settings_1.readSettings);
    const values = {
        [settings_1.SETTING_NAMES.enabled]: s.enabled,
        [settings_1.SETTING_NAMES.defaultFrom]: s.defaultFrom ?? '',
        [settings_1.SETTING_NAMES.purgeDays]: s.purgeDays ?? 0,
        [settings_1.SETTING_NAMES.createContacts]: s.createContacts,
        ExcludeContactsMatching: s.exclusions,
    };
    if (name) {
        if (!(name in values))
            throw new errors_1.ConfigError(`unknown setting "${name}"; settings are ${Object.keys(values).join(', ')}`);
        out.write((json ? JSON.stringify(values[name]) : Array.isArray(values[name]) ? values[name].join('\n') : String(values[name])) + '\n');
        return 0;
    }
    if (json)
        out.write(JSON.stringify(values) + '\n');
    else
        for (const [k, v] of Object.entries(values))
            out.write(`${k.padEnd(30)} ${Array.isArray(v) ? v.join(', ') : String(v)}\n`);
    return 0;
}
async function configSetCommand(ctx, name, value, out) {
    const v = normaliseSetting(name, value);
    await (0, context_1.withPool)(ctx, (pool) => (0, settings_1.writeSetting)(pool, name, v));
    out.write(`${name} = ${v}\n`);
    return 0;
}
async function excludeCommand(ctx, op, pattern, out) {
    if (op === 'list') {
        const s = await (0, context_1.withPool)(ctx, settings_1.readSettings);
        for (const p of s.exclusions)
            out.write(p + '\n');
        return 0;
    }
    if (!pattern)
        throw new errors_1.ConfigError(`config exclude ${op} needs a PATTERN`);
    if (op === 'add') {
        const problem = (0, patterns_1.patternProblem)(pattern);
        if (problem)
            throw new errors_1.ConfigError(`pattern "${pattern}" ${problem}; examples: bob@example.com, example.com, *@example.com, *.example.org, noreply@*`);
        const added = await (0, context_1.withPool)(ctx, (pool) => (0, settings_1.addExclusion)(pool, pattern.trim().toLowerCase()));
        out.write(added ? `added ${pattern.trim().toLowerCase()}\n` : `${pattern} was already in the list\n`);
        return 0;
    }
    const removed = await (0, context_1.withPool)(ctx, (pool) => (0, settings_1.removeExclusion)(pool, pattern.trim().toLowerCase()));
    out.write(removed ? `removed ${pattern}\n` : `${pattern} is not in the list\n`);
    return removed ? 0 : 1;
}
//# sourceMappingURL=config.js.map