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
