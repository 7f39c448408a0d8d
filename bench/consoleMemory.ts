/**
 * The web console's memory over a long life: one console (in this process, as `xtconnect console` runs it) through
 * phases of requests in the mix a console sees over months, the heap read after full collections after each phase:
 *   - 40 % the login page fetched without a cookie (a monitoring probe, a browser opening the console): each leaves a
 *     session holding the form's CSRF secret;
 *   - 10 % a page fetched without a cookie (sent to the login page);
 *   - 40 % pages viewed by five users who stay signed in (job list, filters, a job, daemons, series, settings);
 *   - 10 % whole visits: the login form, the login, the six pages; half end with "Log out", half leave the browser
 *     open and never come back (the session stays until its idle time is over);
 *   - every 50th operation, a live-update stream opened, one job changed, its event read, the stream closed.
 *
 * It prints the heap after each phase and its growth per request after the warm-up phases, by least squares,
 * without V8's compiled code; above BENCH_CONSOLE_MEMORY_LIMIT_BYTES (default 20) a request it prints FAILURE, as it
 * does for any request answered with an unexpected status.
 *
 * Sessions are bounded (src/console/sessionStore.ts); so that the ceilings are reached within the warm-up phases,
 * the bench runs with smaller ones (200 signed in, 500 before login) and prints what a kept session costs.
 * BENCH_CONSOLE_MEMORY_SESSIONS=default runs with the production ceilings; =unbounded with no ceiling and no idle
 * time, which is what @fastify/session's own MemoryStore did (it never forgot a session nobody asked for again).
 *
 *   npm run build && npx tsc -p bench/tsconfig.json && node dist-bench/bench/consoleMemory.js
 *
 * BENCH_CONSOLE_MEMORY_PHASES (default 12), BENCH_CONSOLE_MEMORY_OPS per phase (default 3000),
 * BENCH_CONSOLE_MEMORY_SNAPSHOTS=<dir> (heap snapshots of the first counted and the last phase, and what grew).
 * Uses its own database (BENCH_DB, default xtc_bench_console_memory) and drops it at the end.
 */
process.env.BENCH_DB ??= 'xtc_bench_console_memory';
import http from 'node:http';
import path from 'node:path';
import v8 from 'node:v8';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { startConsole, type ConsoleServer } from '../src/console/server';
import { DEFAULT_SESSION_LIMITS, type SessionLimits } from '../src/console/sessionStore';
import type { Config } from '../src/config';
import { silentLogger } from '../src/log';
import { csrfOf, login, loginForm } from '../test/support/consoleClient';
import { benchPool, benchQuery, benchUrl, dropBenchDb, migrateXt, recreateBenchDb } from './lib/db';
import { collect, reportEnd, runWithGc, slope } from './lib/heap';
import { fmt, heading, table } from './lib/util';

const PHASES = Number(process.env.BENCH_CONSOLE_MEMORY_PHASES ?? 12);
const OPS = Number(process.env.BENCH_CONSOLE_MEMORY_OPS ?? 3000);
const LIMIT_BYTES = Number(process.env.BENCH_CONSOLE_MEMORY_LIMIT_BYTES ?? 20);
const SESSIONS = process.env.BENCH_CONSOLE_MEMORY_SESSIONS ?? 'bench';
const SNAPSHOTS = process.env.BENCH_CONSOLE_MEMORY_SNAPSHOTS;
const WARMUP_PHASES = 3;
const WORKERS = 8;
const ROLE = 'xtc_bench_console_memory';
const MB = 1024 * 1024;
const HOUR = 3600_000;

const LIMITS: Record<string, SessionLimits> = {
  bench: { signedIn: { max: 200, idleMs: 8 * HOUR }, anonymous: { max: 500, idleMs: HOUR }, purgeEveryMs: 60_000 },
  default: DEFAULT_SESSION_LIMITS,
  // No idle time, and a ceiling above anything a run makes (lru-cache allocates its ceiling up front, so not 1e9).
  unbounded: { signedIn: { max: 200_000, idleMs: 1e12 }, anonymous: { max: 200_000, idleMs: 1e12 }, purgeEveryMs: 3600_000 },
};

function check(): void {
  for (const [name, v, min] of [['BENCH_CONSOLE_MEMORY_PHASES', PHASES, WARMUP_PHASES + 2], ['BENCH_CONSOLE_MEMORY_OPS', OPS, 100]] as const) {
    if (!Number.isInteger(v) || v < min) throw new Error(`${name}: a whole number of at least ${min}, not ${process.env[name]}`);
  }
  if (!(LIMIT_BYTES >= 0)) throw new Error(`BENCH_CONSOLE_MEMORY_LIMIT_BYTES: a number of bytes, not ${process.env.BENCH_CONSOLE_MEMORY_LIMIT_BYTES}`);
  if (!LIMITS[SESSIONS]) throw new Error(`BENCH_CONSOLE_MEMORY_SESSIONS: one of ${Object.keys(LIMITS).join(', ')}, not ${SESSIONS}`);
}

const PAGES = ['/jobs', '/jobs?state=failed', '/jobs?action=Email&user=user3', '/jobs/JOB', '/daemons', '/schedules', '/settings'];

class Client {
  requests = 0;
  readonly failures: string[] = [];
  constructor(private readonly base: string, private readonly someJob: number) {}

  async get(p: string, cookie: string | null, want: number): Promise<string> {
    this.requests++;
    const r = await fetch(this.base + p.replace('JOB', String(this.someJob)), { redirect: 'manual', headers: cookie ? { cookie } : {} });
    const text = await r.text();
    if (r.status !== want) this.failures.push(`GET ${p}: ${r.status}, not ${want}`);
    return text;
  }

  async loginForm(): Promise<void> {
    this.requests++;
    await loginForm(this.base);
  }

  async login(): Promise<string> {
    this.requests += 2;
    return login(this.base, ROLE, 'bench');
  }

  async logout(cookie: string, html: string): Promise<void> {
    this.requests++;
    const r = await fetch(`${this.base}/logout`, {
      method: 'POST', redirect: 'manual', headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ _csrf: csrfOf(html) ?? '' }),
    });
    await r.text();
    if (r.status !== 303) this.failures.push(`POST /logout: ${r.status}, not 303`);
  }

  /** Opens the live-update stream, changes one job, reads its event, closes the stream. */
  async live(cookie: string, change: () => Promise<void>): Promise<void> {
    this.requests++;
    const url = new URL(`${this.base}/events`);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.failures.push('GET /events: no event within 10 s of a change');
        req.destroy();
        resolve();
      }, 10_000);
      const req = http.get({ host: url.hostname, port: url.port, path: url.pathname, headers: { cookie } }, (res) => {
        let seen = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          seen += chunk;
          if (seen.includes(': connected') && !seen.includes('changed')) {
            seen += 'changed';
            change().catch((err) => this.failures.push(`changing a job: ${String(err)}`));
          }
          if (seen.includes('event: jobs')) {
            clearTimeout(timer);
            req.destroy();
            resolve();
          }
        });
      });
      req.on('error', () => undefined);
    });
  }
}

async function phase(c: Client, signedIn: string[], change: () => Promise<void>, phaseNo: number): Promise<void> {
  let next = 0;
  const one = async (i: number): Promise<void> => {
    const k = i % 10;
    if (i % 50 === 49) await c.live(signedIn[i % signedIn.length]!, change);
    else if (k <= 3) await c.loginForm();
    else if (k === 4) await c.get('/jobs', null, 303);
    else if (k <= 8) await c.get(PAGES[(i + phaseNo) % PAGES.length]!, signedIn[i % signedIn.length]!, 200);
    else {
      const cookie = await c.login();
      let html = '';
      for (const p of PAGES) html = await c.get(p, cookie, 200);
      // Every other visit logs out; the others leave their session behind, as a closed browser does.
      if (Math.floor(i / 10) % 2 === 0) await c.logout(cookie, html);
    }
  };
  await Promise.all(Array.from({ length: WORKERS }, async () => {
    while (next < OPS) await one(next++);
  }));
}

async function main(): Promise<void> {
  check();
  heading(`CONSOLE MEMORY: one console, ${PHASES} phases of ${fmt(OPS)} operations (login page 40 %, a page without a cookie 10 %, ` +
    `pages of signed-in users 40 %, whole visits 10 %, a live-update stream every 50th); sessions: ${SESSIONS}`);
  await recreateBenchDb();
  await migrateXt();
  await benchQuery(`
    INSERT INTO xtbatch.batch (batch_action, batch_user, batch_email, batch_subject, batch_submitted, batch_scheduled, batch_started, batch_completed, batch_exitstatus, batch_attempts)
    SELECT (ARRAY['Email','RunReport','FileUpload'])[1 + g % 3], 'user' || (g % 5), 'c' || g || '@example.com', 'Invoice ' || g,
           localtimestamp, localtimestamp, localtimestamp, localtimestamp, CASE WHEN g % 10 = 0 THEN 'SMTP 550 mailbox unavailable' ELSE '' END, 1
      FROM generate_series(1, 500) g`);
  const [someJob] = await benchQuery<{ id: number }>(`SELECT max(batch_id) AS id FROM xtbatch.batch`);
  const admin = new pg.Client({ connectionString: benchUrl() });
  await admin.connect();
  await admin.query(`DROP ROLE IF EXISTS ${ROLE}`);
  await admin.query(`CREATE ROLE ${ROLE} LOGIN PASSWORD 'bench' IN ROLE xtconnect_admin`);

  // The bench database trusts loopback connections (no password asked), so passwordless logins are allowed, as in
  // bench/console.ts.
  const cfg = { status: { daemonStaleSeconds: 60 }, mailboxes: [], endpoints: [],
    console: { listen: null, allowPasswordlessLogin: true, loginAttemptsPerMinute: 1e9 } } as unknown as Config;
  const pool = benchPool('xtconnect bench console memory', 5);
  let server: ConsoleServer | null = null;
  const samples: Array<{ phase: number; requests: number; ms: number; heap: number; code: number; external: number; rss: number; signedIn: number; anonymous: number }> = [];
  const snapshots: string[] = [];
  let failures: string[] = [];
  try {
    server = await startConsole({ cfg, pool, log: silentLogger(), url: benchUrl(), host: '127.0.0.1', port: 0, allowPasswordless: true, loginRateLimit: 1e9, sessionLimits: LIMITS[SESSIONS] });
    const c = new Client(server.url, someJob!.id);
    const signedIn = await Promise.all(Array.from({ length: 5 }, () => c.login()));
    let n = 0;
    // batch_scheduled: only a change of a column that decides the state notifies the console (sql/0026).
    const change = async () => void (await admin.query(`UPDATE xtbatch.batch SET batch_scheduled = localtimestamp, batch_subject = $1 WHERE batch_id = $2`, [`Invoice ${++n}`, someJob!.id]));
    const start = await collect();
    console.log(`started: heap used ${fmt(start.heapUsed / MB, 2)} MB, RSS ${fmt(start.rss / MB, 1)} MB`);
    for (let p = 1; p <= PHASES; p++) {
      const t0 = performance.now();
      await phase(c, signedIn, change, p);
      const ms = performance.now() - t0;
      const m = await collect();
      samples.push({ phase: p, requests: c.requests, ms, heap: m.heapUsed, code: m.code, external: m.external, rss: m.rss, ...server.sessions.size });
      console.log(`phase ${p}: ${fmt(ms / 1000, 1)} s, heap ${fmt(m.heapUsed / MB, 2)} MB (code ${fmt(m.code / MB, 2)}), RSS ${fmt(m.rss / MB, 1)} MB`);
      if (SNAPSHOTS && (p === WARMUP_PHASES + 1 || p === PHASES)) {
        snapshots.push(v8.writeHeapSnapshot(path.join(SNAPSHOTS, `console-phase-${p}.heapsnapshot`)));
      }
    }
    failures = c.failures.slice(0, 20);
  } finally {
    await server?.close().catch(() => undefined);
    await pool.end().catch(() => undefined);
    await admin.query(`DROP ROLE IF EXISTS ${ROLE}`).catch(() => undefined);
    await admin.end().catch(() => undefined);
    await dropBenchDb().catch(() => undefined);
  }

  console.log();
  console.log(table(['phase', 'requests', 'seconds', 'heap used MB', 'of it compiled code MB', 'external MB', 'RSS MB', 'sessions signed in', 'before login'],
    samples.map((s) => [String(s.phase), fmt(s.requests), fmt(s.ms / 1000, 1), fmt(s.heap / MB, 2), fmt(s.code / MB, 2), fmt(s.external / MB, 2),
      fmt(s.rss / MB, 1), fmt(s.signedIn), fmt(s.anonymous)])));
  const counted = samples.slice(WARMUP_PHASES);
  const xs = counted.map((s) => s.requests);
  const perRequest = slope(xs, counted.map((s) => s.heap - s.code));
  const extPerRequest = slope(xs, counted.map((s) => s.external));
  const kb = (per: number) => `${fmt(per * 1000 / 1024, 1)} KB per 1,000 requests (${fmt(per, 1)} bytes a request)`;
  console.log(`\ngrowth after the ${WARMUP_PHASES} warm-up phases, by least squares: heap without compiled code ${kb(perRequest)}, ` +
    `limit ${fmt(LIMIT_BYTES)} bytes a request; external memory ${kb(extPerRequest)}`);
  const kept = samples.map((s) => s.signedIn + s.anonymous);
  const perSession = slope(kept, samples.map((s) => s.heap - s.code));
  if (kept[kept.length - 1]! > kept[0]!) console.log(`a kept session costs about ${fmt(perSession)} bytes of heap (slope over the phases, by sessions kept)`);
  if (perRequest > LIMIT_BYTES) failures.push(`the heap grows by ${fmt(perRequest, 1)} bytes a request after the warm-up phases (limit ${LIMIT_BYTES})`);
  if (extPerRequest > LIMIT_BYTES) failures.push(`external memory grows by ${fmt(extPerRequest, 1)} bytes a request (limit ${LIMIT_BYTES})`);
  reportEnd(snapshots, failures);
}

if (require.main === module) runWithGc(__filename, main);
