import type { Pool } from '../pool';

/**
 * The settings of the seed's "Configure xTuple Connect" screen. Names are xTuple's where xTuple has one. On an
 * xTuple database they live in public.metric alone, where the ERP's fetchMetricText/setMetric read and write them;
 * on a plain database in xtbatch.xtconnect_setting (sql/0010). xtbatch.getsetting/setsetting pick the place.
 */
export const SETTING_NAMES = {
  enabled: 'EnableBatchManager',
  defaultFrom: 'DefaultBatchFromEmailAddress',
  purgeDays: 'BatchManagerPurgeDays',
  createContacts: 'EmailSyncCreateContacts',
} as const;

/**
 * Seconds a job submitted by submitReportToBatch/submitActionToBatch waits after its last batchparam insert
 * (default 2, 0 turns it off; read in the database by xtbatch.settle_seconds(), sql/0011). Not on the screen.
 */
export const SETTLE_SETTING = 'BatchParamSettleSeconds';

export interface Settings {
  enabled: boolean;
  defaultFrom: string | null;
  /** null: never purge. */
  purgeDays: number | null;
  createContacts: boolean;
  exclusions: string[];
}

const TRUE = new Set(['t', 'true', '1', 'yes', 'on', 'y']);

export function parseBool(v: string | null | undefined): boolean {
  return v !== null && v !== undefined && TRUE.has(v.trim().toLowerCase());
}

export async function readSettings(pool: Pool): Promise<Settings> {
  const { rows } = await pool.query<{ enabled: string | null; default_from: string | null; purge_days: string | null;
    create_contacts: string | null; exclusions: string[] | null }>(
    `SELECT xtbatch.getsetting($1) AS enabled, xtbatch.getsetting($2) AS default_from,
            xtbatch.getsetting($3) AS purge_days, xtbatch.getsetting($4) AS create_contacts,
            (SELECT array_agg(contact_exclusion_pattern ORDER BY contact_exclusion_pattern)
               FROM xtbatch.contact_exclusion) AS exclusions`,
    [SETTING_NAMES.enabled, SETTING_NAMES.defaultFrom, SETTING_NAMES.purgeDays, SETTING_NAMES.createContacts],
  );
  const r = rows[0]!;
  const days = r.purge_days === null || r.purge_days.trim() === '' ? NaN : Number(r.purge_days);
  return {
    enabled: parseBool(r.enabled),
    defaultFrom: r.default_from?.trim() || null,
    purgeDays: Number.isInteger(days) && days > 0 ? days : null,
    createContacts: parseBool(r.create_contacts),
    exclusions: r.exclusions ?? [],
  };
}

export async function writeSetting(pool: Pool, name: string, value: string): Promise<void> {
  await pool.query('SELECT xtbatch.setsetting($1, $2)', [name, value]);
}

export async function addExclusion(pool: Pool, pattern: string): Promise<boolean> {
  const { rowCount } = await pool.query(
    `INSERT INTO xtbatch.contact_exclusion (contact_exclusion_pattern) VALUES ($1) ON CONFLICT DO NOTHING`,
    [pattern],
  );
  return (rowCount ?? 0) > 0;
}

export async function removeExclusion(pool: Pool, pattern: string): Promise<boolean> {
  const { rowCount } = await pool.query(`DELETE FROM xtbatch.contact_exclusion WHERE contact_exclusion_pattern = $1`, [pattern]);
  return (rowCount ?? 0) > 0;
}
