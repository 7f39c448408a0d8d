/**
 * Database plumbing for the benchmarks: a loopback-only admin connection, one dedicated database that is created
 * fresh for every run and dropped afterwards, and the xtconnect migrations.
 */
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { createPool, type Pool } from '../../src/db/pool';
import { migrate, SQL_DIR } from '../../src/db/migrate';
import { silentLogger } from '../../src/log';

/** The only database the benchmarks create, fill and drop. */
export const BENCH_DB = process.env.BENCH_DB ?? 'xtc_bench';

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

/** BENCH_ADMIN_URL, default postgres://postgres@127.0.0.1:5432/postgres. Refuses anything but loopback. */
export function adminUrl(): string {
  const url = process.env.BENCH_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const u = new URL(url);
  if (!LOOPBACK.has(u.hostname)) throw new Error(`benchmarks run only against a loopback server; BENCH_ADMIN_URL host is ${u.hostname}`);
  if (!/^xtc_bench[a-z0-9_]*$/.test(BENCH_DB)) throw new Error(`BENCH_DB must start with xtc_bench (got ${BENCH_DB})`);
  return url;
}

export function benchUrl(applicationName?: string): string {
  const u = new URL(adminUrl());
  u.pathname = `/${BENCH_DB}`;
  if (applicationName) u.searchParams.set('application_name', applicationName);
  return u.toString();
}

async function withAdmin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: adminUrl(), application_name: 'xtconnect bench admin' });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** Drops (forcefully) and recreates the bench database: every run starts from an empty database. */
export async function recreateBenchDb(): Promise<void> {
  await withAdmin(async (c) => {
    await c.query(`DROP DATABASE IF EXISTS ${BENCH_DB} WITH (FORCE)`);
    await c.query(`CREATE DATABASE ${BENCH_DB} TEMPLATE template0`);
  });
}

export async function dropBenchDb(): Promise<void> {
  await withAdmin((c) => c.query(`DROP DATABASE IF EXISTS ${BENCH_DB} WITH (FORCE)`));
}

/**
 * migrate() reads sql/ from two directories above its compiled file, which under dist-bench/ is dist-bench/sql:
 * copy the repository's sql/ there (the build output directory; nothing in the repository is touched).
 */
function ensureSqlDir(): void {
  let dir = __dirname;
  for (let i = 0; i < 6; i++) {
    const candidate = path.join(dir, 'sql');
    if (fs.existsSync(path.join(candidate, '0001_install_xtbatch.sql')) && fs.existsSync(path.join(dir, 'package.json'))) {
      if (path.resolve(candidate) !== path.resolve(SQL_DIR)) {
        fs.mkdirSync(SQL_DIR, { recursive: true });
        for (const f of fs.readdirSync(candidate)) fs.copyFileSync(path.join(candidate, f), path.join(SQL_DIR, f));
      }
      return;
    }
    dir = path.dirname(dir);
  }
  if (!fs.existsSync(SQL_DIR)) throw new Error(`cannot find the repository's sql/ directory from ${__dirname}`);
}

/** A pool on the bench database for the benchmark itself (inserting, observing), not for the system under test. */
export function benchPool(applicationName: string, max = 4): Pool {
  return createPool({ url: benchUrl(), max, statementTimeoutMs: 0, applicationName }, silentLogger());
}

/** Applies xtconnect's migrations to the (fresh) bench database with src/db/migrate.ts. */
export async function migrateXt(): Promise<void> {
  ensureSqlDir();
  const pool = benchPool('xtconnect bench migrate', 2);
  try {
    await migrate(pool);
  } finally {
    await pool.end();
  }
}

/** One-shot statement on the bench database from a short-lived connection. */
export async function benchQuery<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, values: unknown[] = []): Promise<R[]> {
  const c = new pg.Client({ connectionString: benchUrl(), application_name: 'xtconnect bench setup' });
  await c.connect();
  try {
    return (await c.query<R>(sql, values)).rows;
  } finally {
    await c.end();
  }
}

/** Reads pg_stat_database for the bench database from a connection to the admin database (so it is not counted). */
export async function statDatabase(): Promise<{ xacts: number; commits: number; rollbacks: number }> {
  return withAdmin(async (c) => {
    const { rows } = await c.query<{ c: string; r: string }>(
      `SELECT xact_commit::text AS c, xact_rollback::text AS r FROM pg_stat_database WHERE datname = $1`,
      [BENCH_DB],
    );
    const commits = Number(rows[0]?.c ?? 0);
    const rollbacks = Number(rows[0]?.r ?? 0);
    return { xacts: commits + rollbacks, commits, rollbacks };
  });
}

/** Connections to the bench database by application_name, as the server sees them. */
export async function sessionsOnBenchDb(): Promise<Record<string, number>> {
  return withAdmin(async (c) => {
    const { rows } = await c.query<{ app: string; n: number }>(
      `SELECT coalesce(nullif(application_name, ''), backend_type) AS app, count(*)::int AS n
         FROM pg_stat_activity WHERE datname = $1 GROUP BY 1 ORDER BY 1`,
      [BENCH_DB],
    );
    return Object.fromEntries(rows.map((r) => [r.app, r.n]));
  });
}

/** Server facts worth printing with the figures. */
export async function serverInfo(): Promise<{ version: string; preload: string; maxConnections: string; fsync: string; syncCommit: string }> {
  return withAdmin(async (c) => {
    const one = async (q: string) => String((await c.query(q)).rows[0]?.v ?? '');
    return {
      version: await one(`SELECT split_part(version(), ' on ', 1) AS v`),
      preload: await one(`SELECT current_setting('shared_preload_libraries') AS v`),
      maxConnections: await one(`SELECT current_setting('max_connections') AS v`),
      fsync: await one(`SELECT current_setting('fsync') AS v`),
      syncCommit: await one(`SELECT current_setting('synchronous_commit') AS v`),
    };
  });
}
