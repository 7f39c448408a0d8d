import crypto from 'node:crypto';
import pg from 'pg';
import { createPool, type Pool } from '../../src/db/pool';
import { silentLogger } from '../../src/log';

export interface TestDatabase {
  name: string;
  url: string;
  pool: Pool;
  drop(): Promise<void>;
}

function adminUrl(): string {
  const url = process.env.XTCONNECT_TEST_ADMIN_URL;
  if (!url) throw new Error('XTCONNECT_TEST_ADMIN_URL is not set: run the tests through jest (test/support/globalSetup.ts)');
  return url;
}

export function urlFor(name: string): string {
  const u = new URL(adminUrl());
  u.pathname = `/${name}`;
  return u.toString();
}

/**
 * A database of its own for one test file: a copy of the migrated template (fast), or empty with `empty: true`
 * (for migration tests). Dropped by drop(), which also ends the pool and any connection left open.
 */
export async function createTestDatabase(opts: { empty?: boolean; poolSize?: number } = {}): Promise<TestDatabase> {
  const name = `xtc_t_${crypto.randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl() });
  await admin.connect();
  try {
    const template = opts.empty ? 'template0' : process.env.XTCONNECT_TEST_TEMPLATE!;
    await admin.query(`CREATE DATABASE ${name} TEMPLATE ${template}`);
  } finally {
    await admin.end();
  }
  const url = urlFor(name);
  const pool = createPool({ url, max: opts.poolSize ?? 10, statementTimeoutMs: 0, applicationName: 'xtconnect test' }, silentLogger());
  return {
    name,
    url,
    pool,
    async drop() {
      await pool.end().catch(() => undefined);
      const c = new pg.Client({ connectionString: adminUrl() });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}
