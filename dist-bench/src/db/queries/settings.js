"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.SETTING_NAMES = void 0;
exports.parseBool = parseBool;
exports.readSettings = readSettings;
exports.writeSetting = writeSetting;
exports.addExclusion = addExclusion;
exports.removeExclusion = removeExclusion;
/** The settings of the seed's "Configure xTuple Connect" screen. Names are xTuple's where xTuple has one. */
exports.SETTING_NAMES = {
    enabled: 'EnableBatchManager',
    defaultFrom: 'DefaultBatchFromEmailAddress',
    purgeDays: 'BatchManagerPurgeDays',
    createContacts: 'EmailSyncCreateContacts',
};
const TRUE = new Set(['t', 'true', '1', 'yes', 'on', 'y']);
function parseBool(v) {
    return v !== null && v !== undefined && TRUE.has(v.trim().toLowerCase());
}
async function readSettings(pool) {
    const { rows } = await pool.query(`SELECT xtbatch.getsetting($1) AS enabled, xtbatch.getsetting($2) AS default_from,
            xtbatch.getsetting($3) AS purge_days, xtbatch.getsetting($4) AS create_contacts,
            (SELECT array_agg(contact_exclusion_pattern ORDER BY contact_exclusion_pattern)
               FROM xtbatch.contact_exclusion) AS exclusions`, [exports.SETTING_NAMES.enabled, exports.SETTING_NAMES.defaultFrom, exports.SETTING_NAMES.purgeDays, exports.SETTING_NAMES.createContacts]);
    const r = rows[0];
    const days = r.purge_days === null || r.purge_days.trim() === '' ? NaN : Number(r.purge_days);
    return {
        enabled: parseBool(r.enabled),
        defaultFrom: r.default_from?.trim() || null,
        purgeDays: Number.isInteger(days) && days > 0 ? days : null,
        createContacts: parseBool(r.create_contacts),
        exclusions: r.exclusions ?? [],
    };
}
async function writeSetting(pool, name, value) {
    await pool.query('SELECT xtbatch.setsetting($1, $2)', [name, value]);
}
async function addExclusion(pool, pattern) {
    const { rowCount } = await pool.query(`INSERT INTO xtbatch.contact_exclusion (contact_exclusion_pattern) VALUES ($1) ON CONFLICT DO NOTHING`, [pattern]);
    return (rowCount ?? 0) > 0;
}
async function removeExclusion(pool, pattern) {
    const { rowCount } = await pool.query(`DELETE FROM xtbatch.contact_exclusion WHERE contact_exclusion_pattern = $1`, [pattern]);
    return (rowCount ?? 0) > 0;
}
//# sourceMappingURL=settings.js.map