import fs from 'node:fs';
import path from 'node:path';
import type { Pool } from './pool';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** sql/ sits beside src/ and dist/ alike. */
export const SQL_DIR = path.resolve(__dirname, '..', '..', 'sql');

const MIGRATION_FILE = /^\d{4}_[a-z0-9_]+\.sql$/;

/**
 * The sql/ files as they were when scripts/bundle.js built dist/xtconnect.js and the standalone binary (esbuild
 * `define` puts them here), so that those run from any folder, with no sql/ beside them. Undefined in the tsc
 * build and under ts-jest, which read the folder.
 */
declare const __XTCONNECT_MIGRATIONS__: ReadonlyArray<{ file: string; sql: string }> | undefined;

function bundledMigrations(): ReadonlyArray<{ file: string; sql: string }> | null {
  return typeof __XTCONNECT_MIGRATIONS__ === 'undefined' ? null : __XTCONNECT_MIGRATIONS__;
}

function toMigrations(files: ReadonlyArray<{ file: string; sql: string }>): Migration[] {
  return files
    .filter((f) => MIGRATION_FILE.test(f.file))
    .sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0))
    .map((f) => ({ version: Number(f.file.slice(0, 4)), name: f.file.replace(/\.sql$/, ''), sql: f.sql }));
}

/** The migrations carried by the bundle, else those in `dir` (sql/ by default); an explicit `dir` is always read. */
export function loadMigrations(dir?: string): Migration[] {
  const bundled = dir === undefined ? bundledMigrations() : null;
  if (bundled) return toMigrations(bundled);
  const from = dir ?? SQL_DIR;
  return toMigrations(fs.readdirSync(from).filter((f) => MIGRATION_FILE.test(f)).map((file) => ({ file, sql: fs.readFileSync(path.join(from, file), 'utf8') })));
}

export const KNOWN_SCHEMA_VERSION = (): number => Math.max(0, ...loadMigrations().map((m) => m.version));

export async function appliedVersions(pool: Pool): Promise<number[]> {
  const exists = await pool.query<{ t: string | null }>(`SELECT to_regclass('xtbatch.xtconnect_migration')::text AS t`);
  if (!exists.rows[0]?.t) return [];
  const { rows } = await pool.query<{ v: number }>(`SELECT migration_version AS v FROM xtbatch.xtconnect_migration ORDER BY 1`);
  return rows.map((r) => r.v);
}

export interface MigrateResult {
  applied: Migration[];
  pending: Migration[];
}

/** Raised when the database was migrated by a newer xtconnect: running against it could corrupt its jobs. */
export class SchemaTooNewError extends Error {
  constructor(dbVersion: number, known: number) {
    super(`the database schema is at version ${dbVersion} but this xtconnect knows only up to ${known}; ` +
      `upgrade xtconnect on this machine before running it against this database`);
  }
}

/**
 * Applies pending migrations under an advisory lock so that two daemons starting at once cannot both run them.
 * All pending migrations run in ONE transaction: on an xTuple database every ERP session that logs in while
 * migrate runs sees either the database as it was or the finished install, never a step in between (a half-made
 * package schema on its search_path could hide the ERP's own tables). A failure rolls them all back. With dryRun
 * it only reports what is pending.
 */
export async function migrate(pool: Pool, opts: { dryRun?: boolean } = {}): Promise<MigrateResult> {
  const all = loadMigrations();
  const known = Math.max(0, ...all.map((m) => m.version));
  const client = await pool.connect();
  try {
    if (!opts.dryRun) await client.query(`SELECT pg_advisory_lock(hashtext('xtconnect.migrate'))`);
    try {
      const done = new Set(await appliedVersions(pool));
      const newest = Math.max(0, ...done);
      if (newest > known) throw new SchemaTooNewError(newest, known);
      const pending = all.filter((m) => !done.has(m.version));
      if (opts.dryRun) return { applied: [], pending };
      if (pending.length === 0) return { applied: [], pending: [] };
      await client.query('BEGIN');
      try {
        for (const m of pending) {
          try {
            await client.query(m.sql);
            await client.query(
              `INSERT INTO xtbatch.xtconnect_migration (migration_version, migration_name) VALUES ($1, $2)`,
              [m.version, m.name],
            );
          } catch (err) {
            (err as Error).message = `migration ${m.name} failed: ${(err as Error).message}`;
            throw err;
          }
        }
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      }
      return { applied: pending, pending: [] };
    } finally {
      if (!opts.dryRun) await client.query(`SELECT pg_advisory_unlock(hashtext('xtconnect.migrate'))`).catch(() => undefined);
    }
  } finally {
    client.release();
  }
}

/** For a daemon: is the schema one this build can run against? Throws SchemaTooNewError when not. */
export async function checkSchema(pool: Pool): Promise<{ version: number; pending: number }> {
  const all = loadMigrations();
  const known = Math.max(0, ...all.map((m) => m.version));
  const done = await appliedVersions(pool);
  const version = Math.max(0, ...done);
  if (version > known) throw new SchemaTooNewError(version, known);
  return { version, pending: all.filter((m) => !done.includes(m.version)).length };
}
