import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Daemon } from '../../src/daemon/loop';
import { createPool } from '../../src/db/pool';
import { defaultHandlers } from '../../src/handlers';
import { silentLogger } from '../../src/log';
import { freePort } from '../support/smtp';
import { daemonYaml, spawnXt, tempDir } from '../support/proc';
import { writeConfigFile } from '../support/config';
import { waitFor } from '../support/wait';
import { startFtp } from '../transfer/servers';
import { loggedIn, screenshot, startConsoleProcess, startFixture, stopFixture, type ConsoleFixture } from './harness';

const f = {} as ConsoleFixture;
let daemon: Daemon | null = null;

beforeAll(async () => {
  await startFixture(f);
});
afterEach(async () => {
  await daemon?.stop(0);
  daemon = null;
});
afterAll(async () => {
  await stopFixture(f);
});

/** A daemon as `xtconnect start` makes it (its own mailer: the outbox, and sent mail recorded in xtbatch.eml). */
async function startRealDaemon(): Promise<Daemon> {
  const log = silentLogger();
  const pool = createPool({ url: f.db.url, max: 4, statementTimeoutMs: 0, applicationName: 'console test daemon' }, log);
  const jobPool = createPool({ url: f.db.url, max: 4, statementTimeoutMs: 0, applicationName: 'console test jobs' }, log);
  const d = new Daemon({ cfg: f.cfg, pool, jobPool, log, handlers: defaultHandlers({}), ownsPool: true });
  await d.start();
  return d;
}

test('schedules: a rule is checked and its next five times previewed before saving; pause, resume, remove', async () => {
  const { ctx, page } = await loggedIn(f, f.roles.admin);
  try {
    await page.goto(`${f.server.url}/schedules`);
    await page.getByLabel('Action').fill('ServerMaintenance');
    await page.getByLabel('Name (optional, unique)').fill('nightly-vacuum');
    await page.getByLabel('Cron expression').fill('30 2 * * 77');
    await page.getByLabel('Time zone (IANA)').fill('Europe/Berlin');
    await page.getByRole('button', { name: 'Check and preview' }).click();
    expect(await page.locator('.flash.bad').textContent()).toMatch(/Not saved: invalid cron expression "30 2 \* \* 77"/);
    expect(await page.getByRole('button', { name: 'Save series' }).count()).toBe(0);

    await page.getByLabel('Cron expression').fill('30 2 * * *');
    await page.getByRole('button', { name: 'Check and preview' }).click();
    const times = await page.locator('#preview li').allTextContents();
    expect(times).toHaveLength(5);
    for (const t of times) expect(t).toMatch(/^\d{4}-\d{2}-\d{2} 02:30(:00)? /);
    await page.getByRole('button', { name: 'Save series' }).click();
    expect(await page.locator('.flash.ok').textContent()).toMatch(/Series \d+ added/);
    const { rows } = await f.db.pool.query(`SELECT schedule_id, schedule_cron, schedule_timezone, schedule_action FROM xtbatch.schedule WHERE schedule_name = 'nightly-vacuum'`);
    expect(rows[0]).toMatchObject({ schedule_cron: '30 2 * * *', schedule_timezone: 'Europe/Berlin', schedule_action: 'ServerMaintenance' });
    const id = rows[0].schedule_id as number;
    const row = page.locator(`#s-${id}`);
    expect(await row.textContent()).toContain('02:30');
    await screenshot(page, 'console-schedules');

    await row.getByRole('button', { name: 'Pause' }).click();
    expect(await page.locator(`#s-${id} .badge`).textContent()).toBe('paused');
    await page.locator(`#s-${id}`).getByRole('button', { name: 'Resume' }).click();
    expect(await page.locator(`#s-${id} .badge`).textContent()).toBe('active');
    page.once('dialog', (d) => void d.accept());
    await page.locator(`#s-${id}`).getByRole('button', { name: 'Remove' }).click();
    await page.locator('.flash.ok').waitFor();
    expect(await page.locator(`#s-${id}`).count()).toBe(0);
    const { rows: after } = await f.db.pool.query(`SELECT schedule_removed IS NOT NULL AS removed FROM xtbatch.schedule WHERE schedule_id = $1`, [id]);
    expect(after[0].removed).toBe(true);
  } finally {
    await ctx.close();
  }
});

test('bulk: retry every failed job the filter selects, then cancel them all, after a confirmation that says how many', async () => {
  await f.db.pool.query(`INSERT INTO xtbatch.batch (batch_action, batch_user, batch_started, batch_completed, batch_exitstatus)
    SELECT 'BulkThing', $1, localtimestamp, localtimestamp, 'boom ' || g FROM generate_series(1, 3) g`, [f.roles.admin]);
  // Same action, but done: a retry of the failed ones leaves it alone.
  await f.db.pool.query(`INSERT INTO xtbatch.batch (batch_action, batch_user, batch_started, batch_completed) VALUES ('BulkThing', $1, localtimestamp, localtimestamp)`, [f.roles.admin]);
  const { ctx, page } = await loggedIn(f, f.roles.admin);
  try {
    await page.goto(`${f.server.url}/jobs?state=failed&action=BulkThing`);
    expect(await page.locator('#jobs-rows tr[data-id]').count()).toBe(3);
    await page.getByRole('button', { name: 'Retry all matching…' }).click();
    expect(await page.locator('main .card p').first().textContent()).toContain('selects 3 finished job(s)');
    await page.getByRole('button', { name: 'Retry 3 job(s)' }).click();
    expect(await page.locator('.flash.ok').textContent()).toContain('3 job(s) due again now');
    const states = await f.db.pool.query(`SELECT state, count(*)::int AS n FROM xtbatch.job WHERE batch_action = 'BulkThing' GROUP BY state ORDER BY state`);
    expect(states.rows).toEqual([{ state: 'done', n: 1 }, { state: 'scheduled', n: 3 }]);

    await page.goto(`${f.server.url}/jobs?action=BulkThing`);
    page.once('dialog', (d) => void d.accept());
    await page.getByRole('button', { name: 'Cancel all matching…' }).click();
    await page.getByRole('button', { name: 'Cancel 3 job(s)' }).click();
    expect(await page.locator('.flash.ok').textContent()).toContain('3 job(s) cancelled');
    const { rows } = await f.db.pool.query(`SELECT batch_exitstatus FROM xtbatch.job WHERE batch_action = 'BulkThing' AND state = 'cancelled'`);
    expect(rows).toHaveLength(3);
    for (const r of rows) expect(r.batch_exitstatus).toMatch(new RegExp(`^Cancelled by ${f.roles.admin} at .* \\(console\\)$`));
  } finally {
    await ctx.close();
  }
});

test('an Email job\'s page shows the mail as sent: headers, body, attachment names', async () => {
  daemon = await startRealDaemon();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xtc-console-att-'));
  const file = path.join(dir, 'invoice-1001.pdf');
  fs.writeFileSync(file, '%PDF-1.4 not really\n');
  const { rows } = await f.db.pool.query<{ id: number }>(
    `SELECT xtbatch.submitEmailToBatch('billing@example.com', 'ap@customer.example', NULL, 'Invoice 1001', 'Dear customer,\nplease find the invoice attached.', $1, NULL, false) AS id`,
    [file]);
  const id = rows[0]!.id;
  await f.db.pool.query(`UPDATE xtbatch.batch SET batch_user = $1 WHERE batch_id = $2`, [f.roles.clerk, id]);
  await waitFor('the mail to be sent', async () => (await f.db.pool.query(`SELECT state FROM xtbatch.job WHERE batch_id = $1`, [id])).rows[0].state === 'done', 20_000);
  const { ctx, page } = await loggedIn(f, f.roles.clerk);
  try {
    await page.goto(`${f.server.url}/jobs/${id}`);
    const mail = page.locator('#h-mail').locator('..');
    await mail.waitFor();
    const text = (await mail.textContent())!;
    expect(text).toContain('Subject: Invoice 1001');
    expect(text).toMatch(new RegExp(`X-xtconnect-Batch-Id: ${id}\\b`, 'i'));
    expect(text).toContain('please find the invoice attached.');
    expect(text).toContain('invoice-1001.pdf');
    await screenshot(page, 'console-job-mail', { fullPage: true });
  } finally {
    await ctx.close();
  }
});

test('the daemons page lists a live daemon; the jobs list works on a phone-sized screen', async () => {
  daemon = await startRealDaemon();
  const { ctx, page } = await loggedIn(f, f.roles.admin);
  try {
    await page.goto(`${f.server.url}/daemons`);
    const row = page.locator('tbody tr').first();
    expect(await row.textContent()).toContain(os.hostname());
    expect(await row.textContent()).toContain('alive');
    await screenshot(page, 'console-daemons');
  } finally {
    await ctx.close();
  }
  const phone = await loggedIn(f, f.roles.admin, { viewport: { width: 390, height: 844 } });
  try {
    await phone.page.goto(`${f.server.url}/jobs`);
    // No sideways scrolling: the table turns into stacked rows.
    const overflow = await phone.page.evaluate<number>('document.documentElement.scrollWidth - document.documentElement.clientWidth');
    expect(overflow).toBeLessThanOrEqual(0);
    await screenshot(phone.page, 'console-phone');
  } finally {
    await phone.ctx.close();
  }
});

test('`xtconnect start` serves the console when XTCONNECT_CONSOLE_LISTEN is set (a bare port binds loopback)', async () => {
  const dir = tempDir('xtc-console-start-');
  const port = await freePort();
  const file = writeConfigFile(dir, daemonYaml({ url: f.db.url, dataDir: dir }));
  const proc = spawnXt(['start', '--config', file], { env: { XTCONNECT_CONSOLE_LISTEN: String(port) } });
  try {
    await proc.waitForLine(`console: listening on http://127.0.0.1:${port}`, { timeoutMs: 30_000 });
    const r = await fetch(`http://127.0.0.1:${port}/login`);
    expect(r.status).toBe(200);
    expect(await r.text()).toContain('Log in');
  } finally {
    proc.signal('SIGTERM');
    await proc.waitForExit(20_000);
  }
});

test('endpoints: "Test connection" logs in and lists the folder, or says why it could not', async () => {
  const ftp = await startFtp();
  const closed = await freePort();
  fs.writeFileSync(path.join(ftp.root, 'a.edi'), 'x');
  const yaml = ['endpoints:',
    `  - { name: edi-ftp, protocol: ftp, host: 127.0.0.1, port: ${ftp.port}, user: ${ftp.user}, password: ${ftp.password}, timeoutMs: 5000 }`,
    `  - { name: edi-down, protocol: ftp, host: 127.0.0.1, port: ${closed}, user: edi, password: nope, timeoutMs: 5000 }`].join('\n');
  const server = await startConsoleProcess(f.db.url, { extraYaml: yaml });
  const own = { ...f, server } as ConsoleFixture;
  const { ctx, page } = await loggedIn(own, f.roles.admin);
  try {
    await page.goto(`${server.url}/daemons`);
    await page.locator('tr', { hasText: 'edi-ftp' }).getByRole('button', { name: 'Test connection' }).click();
    expect(await page.locator('.flash.ok').textContent()).toMatch(/edi-ftp: connected to .*; 1 entry in the folder/);
    await page.locator('tr', { hasText: 'edi-down' }).getByRole('button', { name: 'Test connection' }).click();
    expect(await page.locator('.flash.bad').textContent()).toMatch(/^edi-down: /);
  } finally {
    await ctx.close();
    await server.close();
    await ftp.close();
  }
});
