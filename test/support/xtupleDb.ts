import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { createPool } from '../../src/db/pool';
import { migrate } from '../../src/db/migrate';
import { silentLogger } from '../../src/log';
import { urlFor, type TestDatabase } from './db';

/**
 * Databases made from xTuple's real 4.4 schema (../shared/xtuple-db: the foundation schema, public.pkghead as
 * xTuple's updater makes it, and optionally the quickstart data), for tests of what the ERP and its desktop
 * client see. A mock of xTuple's tables hid every finding of issue 12, so xTuple behaviour is tested here.
 *
 * Loading takes a few seconds, so each kind is loaded once per jest run into a template database and every test
 * file gets a copy (`CREATE DATABASE ... TEMPLATE`). Jest workers are separate processes: an advisory lock on the
 * server makes the first one load and the others wait. globalTeardown drops the templates (they share the run's
 * template prefix).
 */

export interface XtupleDbOptions {
  /** Load the quickstart data too (chart of accounts, currencies, sites, number sequences...). Default true. */
  data?: boolean;
  /** Run xtconnect's migrations on it. Default false: the ERP as it is before xtconnect is installed. */
  migrated?: boolean;
}

/** The folder holding 440_schema.sql: XTCONNECT_XTUPLE_DB_DIR, ../shared/xtuple-db beside the repo, /work/shared. */
export function xtupleDbDir(): string {
  const candidates = [
    process.env.XTCONNECT_XTUPLE_DB_DIR,
    path.resolve(__dirname, '../../../shared/xtuple-db'),
    '/work/shared/xtuple-db',
  ].filter((c): c is string => !!c);
  const found = candidates.find((c) => fs.existsSync(path.join(c, '440_schema.sql')));
  // Failing, not skipping: the suite's claim of xTuple compatibility rests on these tests running.
  if (!found) throw new Error(`xTuple's schema (440_schema.sql) is missing: looked in ${candidates.join(', ')}`);
  return found;
}

function adminUrl(): string {
  const url = process.env.XTCONNECT_TEST_ADMIN_URL;
  if (!url) throw new Error('XTCONNECT_TEST_ADMIN_URL is not set: run the tests through jest (test/support/globalSetup.ts)');
  return url;
}

/** Template names share the run's template prefix, so globalTeardown finds them. */
function templateName(opts: Required<XtupleDbOptions>): string {
  const base = process.env.XTCONNECT_TEST_TEMPLATE;
  if (!base) throw new Error('XTCONNECT_TEST_TEMPLATE is not set: run the tests through jest');
  return `${base}_xt_${opts.data ? 'data' : 'bare'}${opts.migrated ? '_m' : ''}`;
}

async function withAdmin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: adminUrl() });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

async function databaseExists(c: pg.Client, name: string): Promise<boolean> {
  const r = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
  return r.rowCount === 1;
}

/** What load.sh does, with pg instead of psql (the SQL files hold no psql meta-commands). */
async function loadXtuple(name: string, data: boolean): Promise<void> {
  const dir = xtupleDbDir();
  await withAdmin(async (c) => {
    await c.query(`DO $$BEGIN
      IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname='admin') THEN CREATE ROLE admin SUPERUSER LOGIN; END IF;
      IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname='xtrole') THEN CREATE ROLE xtrole NOLOGIN; END IF;
    END$$`).catch((err: { code?: string }) => {
      // Two runs creating the roles at once: the loser sees a unique violation; the roles exist either way.
      if (err.code !== '23505') throw err;
    });
    await c.query(`CREATE DATABASE ${name} OWNER admin`);
  });
  const db = new pg.Client({ connectionString: urlFor(name) });
  await db.connect();
  try {
    await db.query(fs.readFileSync(path.join(dir, '440_schema.sql'), 'utf8'));
    await db.query(fs.readFileSync(path.join(dir, 'pkghead.sql'), 'utf8'));
    if (data) {
      await db.query(fs.readFileSync(path.join(dir, 'quickstart_data.sql'), 'utf8'));
      // As load.sh: quickstart leaves the base currency unset; xTuple's first-run setup sets one.
      await db.query(`UPDATE curr_symbol SET curr_base = true WHERE curr_id = (SELECT min(curr_id) FROM curr_symbol)
                      AND NOT EXISTS (SELECT 1 FROM curr_symbol WHERE curr_base)`);
    }
  } finally {
    await db.end();
  }
}

async function copyDatabase(c: pg.Client, from: string, to: string): Promise<void> {
  await c.query(`CREATE DATABASE ${to} TEMPLATE ${from}`);
}

/** Makes the template for `opts` unless this run already has it; safe to call from every jest worker at once. */
async function ensureTemplate(opts: Required<XtupleDbOptions>): Promise<string> {
  const name = templateName(opts);
  await withAdmin(async (c) => {
    // One lock per template name: the first worker builds it, the others wait here and then find it.
    const key = crypto.createHash('sha1').update(name).digest().readInt32BE(0);
    await c.query('SELECT pg_advisory_lock($1)', [key]);
    try {
      if (await databaseExists(c, name)) return;
      if (!opts.migrated) {
        await loadXtuple(name, opts.data);
        return;
      }
      const plain = await ensureTemplateUnlocked(c, { ...opts, migrated: false });
      await copyDatabase(c, plain, name);
      const pool = createPool({ url: urlFor(name), max: 2, statementTimeoutMs: 0, applicationName: 'xtconnect test setup' }, silentLogger());
      try {
        await migrate(pool);
      } catch (err) {
        await pool.end();
        await c.query(`DROP DATABASE IF EXISTS ${name}`);
        throw err;
      }
      await pool.end();
    } finally {
      await c.query('SELECT pg_advisory_unlock($1)', [key]);
    }
  });
  return name;
}

/** The un-migrated template, taken under its own lock (called while holding the migrated one's). */
async function ensureTemplateUnlocked(c: pg.Client, opts: Required<XtupleDbOptions>): Promise<string> {
  const name = templateName(opts);
  const key = crypto.createHash('sha1').update(name).digest().readInt32BE(0);
  await c.query('SELECT pg_advisory_lock($1)', [key]);
  try {
    if (!(await databaseExists(c, name))) await loadXtuple(name, opts.data);
  } finally {
    await c.query('SELECT pg_advisory_unlock($1)', [key]);
  }
  return name;
}

/** A fresh database of xTuple's real schema for one test file; drop() removes it. */
export async function createXtupleDatabase(options: XtupleDbOptions = {}): Promise<TestDatabase> {
  const opts: Required<XtupleDbOptions> = { data: options.data ?? true, migrated: options.migrated ?? false };
  const template = await ensureTemplate(opts);
  const name = `xtc_x_${crypto.randomBytes(5).toString('hex')}`;
  await withAdmin((c) => copyDatabase(c, template, name));
  const url = urlFor(name);
  const pool = createPool({ url, max: 10, statementTimeoutMs: 0, applicationName: 'xtconnect test' }, silentLogger());
  return {
    name,
    url,
    pool,
    async drop() {
      await pool.end().catch(() => undefined);
      await withAdmin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    },
  };
}

/**
 * What an ERP desktop session does at login as far as name resolution goes: `login()` runs
 * `SET SEARCH_PATH TO buildSearchPath()` (enabled package schemas first, then public, then api) and turns
 * standard_conforming_strings off. `login()` itself refuses server versions newer than it knows, so tests set
 * the same settings directly. Returns a connected client; the caller ends it.
 */
export async function erpSession(url: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  await c.query(`SELECT set_config('search_path', buildSearchPath(), false)`);
  await c.query('SET standard_conforming_strings TO false');
  return c;
}
