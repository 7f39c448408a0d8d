/**
 * The web console on 1,000,000 finished jobs: server time of the job list (first page, and filtered pages), read
 * from the Server-Timing header the console sends, and the live-update latency in a real headless Chromium: from
 * the UPDATE that finishes a job to the moment its row on the open page says "done".
 *
 *   npm run build && tsc -p bench/tsconfig.json && node dist-bench/bench/console.js
 *
 * BENCH_CONSOLE_ROWS (default 1000000), BENCH_CONSOLE_REQUESTS per page (default 200), BENCH_CONSOLE_UPDATES
 * (default 30). Uses its own database (BENCH_DB, default xtc_bench_console) and drops it at the end unless
 * BENCH_KEEP=1; BENCH_CONSOLE_REUSE=1 measures again on a kept one without filling it.
 */
process.env.BENCH_DB ??= 'xtc_bench_console';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { chromium } from 'playwright-core';
import { startConsole } from '../src/console/server';
import type { Config } from '../src/config';
import { silentLogger } from '../src/log';
import { login } from '../test/support/consoleClient';
import { benchPool, benchQuery, benchUrl, dropBenchDb, migrateXt, recreateBenchDb } from './lib/db';
import { fmt, heading, percentile, table } from './lib/util';

const ROWS = Number(process.env.BENCH_CONSOLE_ROWS ?? 1_000_000);
const REQUESTS = Number(process.env.BENCH_CONSOLE_REQUESTS ?? 200);
const UPDATES = Number(process.env.BENCH_CONSOLE_UPDATES ?? 30);
const ROLE = 'xtc_bench_console_admin';

async function fill(): Promise<void> {
  const t0 = performance.now();
  // In slices of 100,000, newest last; 1 in 100 failed, 1 in 500 cancelled; 5 actions, 50 users.
  for (let from = 1; from <= ROWS; from += 100_000) {
    const to = Math.min(ROWS, from + 99_999);
    await benchQuery(`
      INSERT INTO xtbatch.batch (batch_action, batch_user, batch_email, batch_subject, batch_submitted, batch_scheduled,
                                 batch_started, batch_completed, batch_exitstatus, batch_attempts)
      SELECT (ARRAY['Email','RunReport','FileUpload','ServerMaintenance','EmailSync'])[1 + g % 5], 'user' || (g % 50),
             'c' || g || '@example.com', 'Invoice ' || g, ts, ts, ts, ts + interval '1 second',
             CASE WHEN g % 500 = 0 THEN 'Cancelled by x at y' WHEN g % 100 = 0 THEN 'SMTP 550 mailbox unavailable' END, 1
        FROM generate_series($1::int, $2::int) g, LATERAL (SELECT localtimestamp - ($3::int - g) * interval '30 seconds' AS ts) t`,
      [from, to, ROWS]);
  }
  await benchQuery(`VACUUM ANALYZE xtbatch.batch`);
  process.stdout.write(`filled ${fmt(ROWS)} finished jobs in ${fmt((performance.now() - t0) / 1000, 1)} s\n`);
}

async function timePage(base: string, cookie: string, path: string): Promise<{ server: number[]; total: number[] }> {
  const server: number[] = [];
  const total: number[] = [];
  for (let i = 0; i < REQUESTS + 10; i++) {
    const t0 = performance.now();
    const r = await fetch(`${base}${path}`, { headers: { cookie } });
    await r.text();
    const t1 = performance.now();
    if (r.status !== 200) throw new Error(`${path}: ${r.status}`);
    if (i < 10) continue; // warm-up
    server.push(Number(/dur=([\d.]+)/.exec(r.headers.get('server-timing') ?? '')?.[1] ?? NaN));
    total.push(t1 - t0);
  }
  return { server: server.sort((a, b) => a - b), total: total.sort((a, b) => a - b) };
}

async function main(): Promise<void> {
  heading(`Web console on ${fmt(ROWS)} jobs`);
  // BENCH_CONSOLE_REUSE=1 keeps a database a previous run filled (with BENCH_KEEP=1), to re-measure quickly.
  const reuse = process.env.BENCH_CONSOLE_REUSE === '1' &&
    (await benchQuery<{ n: number }>(`SELECT count(*)::int AS n FROM xtbatch.batch`).catch(() => [{ n: 0 }]))[0]!.n >= ROWS;
  if (!reuse) {
    await recreateBenchDb();
    await migrateXt();
    await fill();
  }
  const admin = new pg.Client({ connectionString: benchUrl() });
  await admin.connect();
  await admin.query(`DROP ROLE IF EXISTS ${ROLE}`);
  await admin.query(`CREATE ROLE ${ROLE} LOGIN PASSWORD 'bench' IN ROLE xtconnect_admin`);
  await admin.end();

  // Only what the console reads from a config (the bench does not depend on the config file's other sections).
  const cfg = { status: { daemonStaleSeconds: 60 }, mailboxes: [], endpoints: [],
    console: { listen: null, allowPasswordlessLogin: true, loginAttemptsPerMinute: 1000 } } as unknown as Config;
  const pool = benchPool('xtconnect bench console', 5);
  // The bench server trusts loopback connections (no password asked), as the test server does.
  const server = await startConsole({ cfg, pool, log: silentLogger(), url: benchUrl(), host: '127.0.0.1', port: 0, allowPasswordless: true, loginRateLimit: 1000 });
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
  try {
    const cookie = await login(server.url, ROLE, 'bench');
    const pages: Array<[string, string]> = [
      ['first page, no filter', '/jobs'],
      ['page 2 000 (keyset, before=id)', `/jobs?before=${ROWS - 100_000}`],
      ['state = failed', '/jobs?state=failed'],
      ['state = cancelled', '/jobs?state=cancelled'],
      ['action = RunReport', '/jobs?action=RunReport'],
      ['user = user7', '/jobs?user=user7'],
      ['failed Email of user7', '/jobs?state=failed&action=Email&user=user7'],
      ['text "Invoice 4242" (subject/recipient)', '/jobs?q=Invoice+4242'],
      ['rows fragment (live refresh)', '/jobs?fragment=rows'],
    ];
    const rows: string[][] = [];
    for (const [what, path] of pages) {
      const t = await timePage(server.url, cookie, path);
      rows.push([what, fmt(percentile(t.server, 50), 1), fmt(percentile(t.server, 95), 1), fmt(percentile(t.total, 95), 1)]);
    }
    process.stdout.write(`\nJob list, ${REQUESTS} requests each (ms; server = Server-Timing, total = HTTP round trip on loopback)\n`);
    process.stdout.write(table(['page', 'server p50', 'server p95', 'total p95'], rows) + '\n');

    // Live updates: a job runs (started), then the UPDATE that finishes it; the clock stops when the open page's
    // row says "done". Both clocks are this machine's wall clock (Date.now in Node and in the page).
    const ctx = await browser.newContext();
    const [name, value] = cookie.split('=');
    await ctx.addCookies([{ name: name!, value: value!, url: server.url }]);
    const page = await ctx.newPage();
    await page.goto(`${server.url}/jobs`);
    await page.getByText('Live', { exact: true }).waitFor();
    await page.evaluate(`(() => {
      window.__done = {};
      new MutationObserver(() => {
        document.querySelectorAll('tr[data-state="done"]').forEach((tr) => {
          const id = tr.getAttribute('data-id');
          if (!(id in window.__done)) window.__done[id] = Date.now();
        });
      }).observe(document.body, { subtree: true, childList: true, attributes: true });
    })()`);
    const c = new pg.Client({ connectionString: benchUrl() });
    await c.connect();
    const lat: number[] = [];
    for (let i = 0; i < UPDATES; i++) {
      const { rows: r } = await c.query<{ id: number }>(
        `INSERT INTO xtbatch.batch (batch_action, batch_user, batch_started, batch_subject) VALUES ('Email', $1, localtimestamp, 'live') RETURNING batch_id AS id`, [ROLE]);
      const id = r[0]!.id;
      await page.waitForSelector(`tr[data-id="${id}"][data-state="running"]`, { timeout: 10_000 });
      const t0 = Date.now();
      await c.query(`UPDATE xtbatch.batch SET batch_completed = localtimestamp WHERE batch_id = $1`, [id]);
      // A function, not a string: the console's CSP forbids eval, which a string predicate would need.
      await page.waitForFunction((key) => (globalThis as unknown as { __done: Record<string, number> }).__done[key] !== undefined, String(id), { timeout: 10_000, polling: 50 });
      const seen = await page.evaluate((key) => (globalThis as unknown as { __done: Record<string, number> }).__done[key]!, String(id));
      lat.push(seen - t0);
    }
    await c.end();
    lat.sort((a, b) => a - b);
    process.stdout.write(`\nLive update: UPDATE finishing a job to its row saying "done" in Chromium, ${UPDATES} jobs (ms)\n`);
    process.stdout.write(table(['p50', 'p95', 'max'], [[fmt(percentile(lat, 50)), fmt(percentile(lat, 95)), fmt(lat[lat.length - 1]!)]]) + '\n');
  } finally {
    await browser.close();
    await server.close();
    await pool.end();
    const d = new pg.Client({ connectionString: benchUrl() });
    await d.connect().then(() => d.query(`DROP ROLE IF EXISTS ${ROLE}`)).catch(() => undefined).finally(() => d.end());
    if (!process.env.BENCH_KEEP) await dropBenchDb();
  }
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
