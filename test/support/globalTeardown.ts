import fs from 'node:fs';
import pg from 'pg';
import type { ChildProcess } from 'node:child_process';

export default async function globalTeardown(): Promise<void> {
  const admin = process.env.XTCONNECT_TEST_ADMIN_URL;
  const template = process.env.XTCONNECT_TEST_TEMPLATE;
  if (admin && template) {
    const c = new pg.Client({ connectionString: admin });
    await c.connect();
    await c.query(`DROP DATABASE IF EXISTS ${template}`).catch(() => undefined);
    // xTuple schema templates made by test/support/xtupleDb.ts carry the run's template name as their prefix.
    const xt = await c.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname LIKE $1`, [`${template}\\_xt\\_%`]);
    for (const { datname } of xt.rows) await c.query(`DROP DATABASE IF EXISTS ${datname} WITH (FORCE)`).catch(() => undefined);
    await c.end();
  }
  const child = (globalThis as { __xtcEmbedded?: ChildProcess }).__xtcEmbedded;
  if (child && child.exitCode === null) {
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
  }
  const dir = process.env.XTCONNECT_TEST_EMBEDDED_DIR;
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
}
