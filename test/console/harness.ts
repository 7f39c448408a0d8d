import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { testConfig, writeConfigFile } from '../support/config';
import { killAll, spawnXt, tempDir, yamlString, type XtProcess } from '../support/proc';
import { createTestDatabase, type TestDatabase } from '../support/db';

export const CHROMIUM = '/usr/bin/chromium';
/**
 * Where screenshot() writes. The tests take their screenshots on every run (rendering each page is part of what
 * they check), but write them into docs/images only for `npm run docs:screenshots` (XTC_SCREENSHOTS=docs): a test
 * run leaves the tracked pictures alone; the others go to a folder under the system's temporary directory.
 */
export const IMAGES = process.env.XTC_SCREENSHOTS === 'docs'
  ? path.resolve(__dirname, '..', '..', 'docs', 'images')
  : path.join(os.tmpdir(), 'xtconnect-console-screenshots');

/**
 * Debian's chromium, headless, with nothing that reaches the network on its own. Playwright gives each launch a
 * fresh --user-data-dir of its own (it refuses one passed in args).
 */
export async function launchBrowser(): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium (.ci/run does)`);
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
}

export interface Roles {
  admin: string;
  clerk: string;
  other: string;
  password: string;
  drop(): Promise<void>;
}

/** Login roles of their own for one test file (roles are cluster-wide): an administrator and two plain users. */
export async function createRoles(db: TestDatabase): Promise<Roles> {
  const tag = crypto.randomBytes(4).toString('hex');
  const r = { admin: `xtc_admin_${tag}`, clerk: `xtc_clerk_${tag}`, other: `xtc_other_${tag}`, password: `pw-${tag}` };
  const c = new pg.Client({ connectionString: db.url });
  await c.connect();
  try {
    for (const name of [r.admin, r.clerk, r.other]) await c.query(`CREATE ROLE ${name} LOGIN PASSWORD '${r.password}'`);
    await c.query(`GRANT xtconnect_admin TO ${r.admin}`);
  } finally {
    await c.end();
  }
  return {
    ...r,
    async drop() {
      const d = new pg.Client({ connectionString: db.url });
      await d.connect();
      try {
        for (const name of [r.admin, r.clerk, r.other]) await d.query(`DROP ROLE IF EXISTS ${name}`);
      } finally {
        await d.end();
      }
    },
  };
}

/** `xtconnect console` as its own process (as an administrator runs it), and where it listens. */
export interface ConsoleProcess {
  proc: XtProcess;
  url: string;
  configFile: string;
  close(): Promise<void>;
}

export async function startConsoleProcess(dbUrl: string, opts: { allowPasswordless?: boolean; loginRateLimit?: number; extraYaml?: string } = {}): Promise<ConsoleProcess> {
  const dir = tempDir('xtc-console-');
  const configFile = writeConfigFile(dir, [
    `database:`,
    `  url: ${yamlString(dbUrl)}`,
    `dataDir: ${yamlString(dir)}`,
    `console:`,
    `  allowPasswordlessLogin: ${opts.allowPasswordless ?? true}`,
    `  loginAttemptsPerMinute: ${opts.loginRateLimit ?? 1000}`,
    opts.extraYaml ?? '',
  ].join('\n'));
  const proc = spawnXt(['--config', configFile, 'console', '--listen', '127.0.0.1:0']);
  const line = await proc.waitForLine(/^console: http:/, { timeoutMs: 20_000 });
  const url = line.replace(/^console: /, '').trim();
  return {
    proc,
    url,
    configFile,
    async close() {
      if (proc.alive()) proc.signal('SIGTERM');
      await proc.waitForExit(10_000).catch(() => undefined);
    },
  };
}

export interface ConsoleFixture {
  db: TestDatabase;
  roles: Roles;
  server: ConsoleProcess;
  browser: Browser;
  cfg: ReturnType<typeof testConfig>;
}

/** Fills `f` step by step, so that stopFixture can undo whatever was started when a step fails. */
export async function startFixture(f: Partial<ConsoleFixture>, opts: { allowPasswordless?: boolean; loginRateLimit?: number } = {}): Promise<ConsoleFixture> {
  f.db = await createTestDatabase();
  f.roles = await createRoles(f.db);
  f.cfg = testConfig(f.db.url);
  // The test server trusts loopback connections (no password asked): the console must be told to accept that.
  f.server = await startConsoleProcess(f.db.url, opts);
  f.browser = await launchBrowser();
  return f as ConsoleFixture;
}

export async function stopFixture(f: Partial<ConsoleFixture>): Promise<void> {
  await f.browser?.close().catch(() => undefined);
  await f.server?.close().catch(() => undefined);
  await f.roles?.drop().catch(() => undefined);
  await f.db?.drop();
  await killAll();
}

/** A fresh browser context (its own cookies) logged in as `user`, in the given zone. */
export async function loggedIn(f: ConsoleFixture, user: string, o: { timezoneId?: string; viewport?: { width: number; height: number } } = {}): Promise<{ ctx: BrowserContext; page: Page }> {
  const ctx = await f.browser.newContext({ timezoneId: o.timezoneId ?? 'Europe/Berlin', viewport: o.viewport ?? { width: 1280, height: 800 }, locale: 'en-GB' });
  const page = await ctx.newPage();
  await page.goto(`${f.server.url}/login`);
  await page.getByLabel('User name').fill(user);
  await page.getByLabel('Password').fill(f.roles.password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.waitForURL(/\/jobs/);
  return { ctx, page };
}

export async function screenshot(page: Page, name: string, o: { fullPage?: boolean } = {}): Promise<void> {
  fs.mkdirSync(IMAGES, { recursive: true });
  await page.evaluate('window.scrollTo(0, 0)');
  await page.screenshot({ path: path.join(IMAGES, `${name}.png`), fullPage: o.fullPage ?? false, animations: 'disabled' });
}
