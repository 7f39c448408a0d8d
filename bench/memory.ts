/**
 * Benchmark: does the daemon's memory stay flat over a long life? One daemon, in this process with its production
 * wiring (the config from a file, its two pools, the mailer and the sent-mail recorder it makes itself), runs
 * BENCH_MEMORY_PHASES phases of BENCH_MEMORY_JOBS jobs each without a restart, as a batch manager runs for months:
 *
 *   - Email jobs sent to an SMTP server with STARTTLS and AUTH (lib/smtpSink.ts, a child process) and recorded in
 *     xtbatch.eml;
 *   - ERP actions mapped in xtbatch.action to a trivial function (one insert);
 *   - ERP actions whose function raises an error, and Email jobs with no recipient: both fail, with their reason
 *     written to the row.
 *
 * After each phase, when every job of it is finished, it collects garbage twice (this process runs with
 * --expose-gc; it starts itself again with it when needed) and reads the heap. What a job leaves behind for good
 * (a map entry never deleted, a listener never removed, a closure kept by a timer) shows as a heap that grows with
 * every phase; the first two phases are the warm-up (compiled code, caches, pools filling) and do not count. It
 * prints each phase and the heap's growth per 1,000 jobs from the third phase on, by least squares, without V8's compiled
 * code (printed apart: it grows while V8 optimizes the hot paths further, and levels off; a heap snapshot diff
 * showed all of the growth there). A growth above BENCH_MEMORY_LIMIT_BYTES a job (default 20) is reported as a
 * FAILURE, as is a job not finished, failed for a reason it should not have, or a message lost or sent twice.
 * Loopback only; every wait is bounded.
 *
 *   BENCH_MEMORY_PHASES (12), BENCH_MEMORY_JOBS (4000 a phase), BENCH_MEMORY_CONCURRENCY (10),
 *   BENCH_MEMORY_LIMIT_BYTES (20), BENCH_MEMORY_PHASE_MS (120000: the longest a phase may take), BENCH_DB
 *   (xtc_bench_memory), BENCH_MEMORY_SNAPSHOTS (a folder: a heap snapshot is written there after the second phase and
 *   after the last, and what grew between them is printed by kind and constructor (lib/heapDiff.ts); the files open in
 *   Chrome DevTools' Memory panel. Writing one costs the process about 90 MB of RSS, so the RSS column is then not
 *   the daemon's), BENCH_MEMORY_CUT_MS (0: none): the daemon reaches the database through a TCP proxy
 *   (test/support/tcpProxy.ts), and in every phase, when half of its jobs are finished, the proxy resets every
 *   connection and refuses new ones for this long, so that the reconnect and retry paths (pools, LISTEN, outcomes and
 *   records kept until the database answers) run once a phase and a leak of theirs shows in the same slope.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';
import { performance } from 'node:perf_hooks';
import { collect, reportEnd, runWithGc, slope } from './lib/heap';
import { startSink } from './lib/smtpSink';
import { startTcpProxy } from '../test/support/tcpProxy';
import { fmt, heading, sleep, table } from './lib/util';

process.env.BENCH_DB ??= 'xtc_bench_memory';

const PHASES = Number(process.env.BENCH_MEMORY_PHASES ?? 12);
/** Phases not counted in the growth: V8 still compiles and optimizes the daemon's paths in them. */
const WARMUP_PHASES = 2;
const JOBS = Number(process.env.BENCH_MEMORY_JOBS ?? 4000);
const CONCURRENCY = Number(process.env.BENCH_MEMORY_CONCURRENCY ?? 10);
const LIMIT_BYTES = Number(process.env.BENCH_MEMORY_LIMIT_BYTES ?? 20);
const PHASE_MS = Number(process.env.BENCH_MEMORY_PHASE_MS ?? 120_000);
const SMTP_USER = 'bench';
const SMTP_PASS = 'bench-secret-not-real';
const SNAPSHOTS = process.env.BENCH_MEMORY_SNAPSHOTS;
const CUT_MS = Number(process.env.BENCH_MEMORY_CUT_MS ?? 0);
const MB = 1024 * 1024;

/** The jobs of one phase, in these shares: email sent, ERP action done, ERP action failing, email without recipient. */
const MIX = { email: 0.5, erp: 0.3, erpFails: 0.1, emailBad: 0.1 };

interface Sample {
  phase: number;
  jobs: number;
  ms: number;
  heapUsed: number;
  /** Compiled code, within heapUsed: it grows while V8 keeps optimizing the hot paths, and stops. */
  code: number;
  external: number;
  arrayBuffers: number;
  rss: number;
}

function check(): void {
  for (const [name, v, min] of [['BENCH_MEMORY_PHASES', PHASES, WARMUP_PHASES + 2], ['BENCH_MEMORY_JOBS', JOBS, 10], ['BENCH_MEMORY_CONCURRENCY', CONCURRENCY, 1]] as const) {
    if (!Number.isInteger(v) || v < min) throw new Error(`${name}: a whole number of at least ${min}, not ${process.env[name]}`);
  }
  if (!(LIMIT_BYTES >= 0)) throw new Error(`BENCH_MEMORY_LIMIT_BYTES: a number of bytes, not ${process.env.BENCH_MEMORY_LIMIT_BYTES}`);
  if (!(CUT_MS >= 0)) throw new Error(`BENCH_MEMORY_CUT_MS: a number of milliseconds, 0 for none, not ${process.env.BENCH_MEMORY_CUT_MS}`);
  if (!(PHASE_MS > 0)) throw new Error(`BENCH_MEMORY_PHASE_MS: a number of milliseconds, not ${process.env.BENCH_MEMORY_PHASE_MS}`);
}

async function main(): Promise<void> {
  check();
  if (SNAPSHOTS && !fs.statSync(SNAPSHOTS, { throwIfNoEntry: false })?.isDirectory()) {
    throw new Error(`BENCH_MEMORY_SNAPSHOTS: ${SNAPSHOTS} is not a folder`);
  }
  const db = require('./lib/db') as typeof import('./lib/db');
  const { loadConfig } = require('../src/config') as typeof import('../src/config');
  const { Daemon } = require('../src/daemon/loop') as typeof import('../src/daemon/loop');
  const { createPool } = require('../src/db/pool') as typeof import('../src/db/pool');
  const { silentLogger } = require('../src/log') as typeof import('../src/log');
  db.adminUrl(); // refuses a non-loopback server before anything starts

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xtconnect-bench-memory-'));
  const sink = await startSink(dir, { user: SMTP_USER, pass: SMTP_PASS });
  const server = new URL(db.benchUrl());
  const proxy = CUT_MS ? await startTcpProxy({ host: server.hostname, port: Number(server.port || 5432) }) : null;
  const counts = {
    email: Math.round(JOBS * MIX.email), erp: Math.round(JOBS * MIX.erp), erpFails: Math.round(JOBS * MIX.erpFails),
  };
  const emailBad = JOBS - counts.email - counts.erp - counts.erpFails;
  heading(`MEMORY: one daemon, ${PHASES} phases of ${fmt(JOBS)} jobs (email ${fmt(counts.email)}, ERP ${fmt(counts.erp)}, ` +
    `ERP failing ${fmt(counts.erpFails)}, email without recipient ${fmt(emailBad)}), concurrency ${CONCURRENCY}` +
    (CUT_MS ? `; the database cut for ${fmt(CUT_MS)} ms in every phase` : ''));
  console.log(`node ${process.version}, ${os.cpus().length} CPU(s); database ${db.BENCH_DB}; SMTP ${sink.name}; load average ${os.loadavg().map((l) => fmt(l, 2)).join(' ')}`);

  const failures: string[] = [];
  const samples: Sample[] = [];
  const snapshots: string[] = [];
  let daemon: InstanceType<typeof Daemon> | null = null;
  const observer = db.benchPool('xtconnect bench observer', 1);
  try {
    await db.recreateBenchDb();
    await db.migrateXt();
    await db.benchQuery(`CREATE UNLOGGED TABLE public.xtc_bench_calls (at timestamptz NOT NULL DEFAULT now())`);
    await db.benchQuery(`CREATE FUNCTION public.xtc_bench_erp() RETURNS integer LANGUAGE sql AS
                           'INSERT INTO public.xtc_bench_calls DEFAULT VALUES; SELECT 0'`);
    await db.benchQuery(`CREATE FUNCTION public.xtc_bench_erp_fails() RETURNS integer LANGUAGE plpgsql AS
                           $$BEGIN RAISE EXCEPTION 'the bench''s ERP function refuses, as it should'; END$$`);
    await db.benchQuery(`INSERT INTO xtbatch.action (action_name, action_schema, action_function, action_args, action_descrip)
                         VALUES ('BenchErp', 'public', 'xtc_bench_erp', '[]', 'bench: one insert'),
                                ('BenchErpFails', 'public', 'xtc_bench_erp_fails', '[]', 'bench: raises')`);

    const dataDir = fs.mkdtempSync(path.join(dir, 'xtconnect-'));
    const file = path.join(dataDir, 'xtconnect.yaml');
    fs.writeFileSync(file, [
      `dataDir: ${JSON.stringify(dataDir)}`,
      'database:', `  url: ${JSON.stringify(proxy ? proxy.url(db.benchUrl()) : db.benchUrl())}`,
      'daemon:', `  concurrency: ${CONCURRENCY}`,
      'smtp:', '  host: 127.0.0.1', `  port: ${sink.port}`, '  security: starttls', `  user: ${SMTP_USER}`, '  maxConnections: 5',
      '  tls:', `    caPath: ${JSON.stringify(sink.certPath)}`, '',
    ].join('\n'));
    const cfg = loadConfig({ config: file }, { HOME: os.homedir(), XTCONNECT_SMTP_PASSWORD: SMTP_PASS } as NodeJS.ProcessEnv);
    const log = silentLogger();
    const poolOpts = { url: cfg.database.url, max: cfg.database.poolSize, statementTimeoutMs: cfg.database.statementTimeoutMs };
    const pool = createPool({ ...poolOpts, applicationName: 'xtconnect bench daemon' }, log);
    const jobPool = createPool({ ...poolOpts, applicationName: 'xtconnect bench jobs' }, log);
    daemon = new Daemon({ cfg, pool, jobPool, log, ownsPool: true });
    await daemon.start();
    const base = await collect();
    console.log(`\nstarted: heap used ${fmt(base.heapUsed / MB, 2)} MB, RSS ${fmt(base.rss / MB, 1)} MB`);

    let first = 0;
    for (let phase = 1; phase <= PHASES; phase++) {
      const t0 = performance.now();
      // One statement, in a random order, so that the kinds run side by side as an ERP's queue mixes them.
      const { rows } = await observer.query<{ lo: string; hi: string }>(
        `WITH kinds AS (
           SELECT k FROM (SELECT 'email' AS k, generate_series(1, $1::int) UNION ALL SELECT 'erp', generate_series(1, $2::int)
                          UNION ALL SELECT 'erpFails', generate_series(1, $3::int) UNION ALL SELECT 'emailBad', generate_series(1, $4::int)) s
           ORDER BY random())
         , ins AS (
           INSERT INTO xtbatch.batch (batch_action, batch_email, batch_fromemail, batch_subject, batch_responsebody)
           SELECT CASE k WHEN 'erp' THEN 'BenchErp' WHEN 'erpFails' THEN 'BenchErpFails' ELSE 'Email' END,
                  CASE k WHEN 'email' THEN 'customer' || (random() * 1e6)::int || '@customer.example' WHEN 'emailBad' THEN '' END,
                  CASE WHEN k LIKE 'email%' THEN 'ERP Billing <erp@ourco.example>' END,
                  CASE WHEN k LIKE 'email%' THEN 'Invoice ' || (random() * 1e6)::int END,
                  CASE WHEN k LIKE 'email%' THEN repeat('Line of an invoice note, 40 characters.\n', 30) END
             FROM kinds
           RETURNING batch_id)
         SELECT min(batch_id)::text AS lo, max(batch_id)::text AS hi FROM ins`,
        [counts.email, counts.erp, counts.erpFails, emailBad],
      );
      const lo = rows[0]!.lo;
      const hi = rows[0]!.hi;
      if (phase === 1) first = Number(lo);
      const deadline = t0 + PHASE_MS;
      let done = 0;
      let cutDone = !proxy;
      while (performance.now() < deadline) {
        const r = await observer.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM xtbatch.batch WHERE batch_id BETWEEN $1 AND $2 AND batch_completed IS NOT NULL`, [lo, hi]);
        done = r.rows[0]!.n;
        if (done >= JOBS) break;
        if (!cutDone && done >= JOBS / 2) {
          cutDone = true;
          await proxy!.cut();
          await sleep(CUT_MS);
          proxy!.restore();
        }
        await sleep(100);
      }
      const ms = performance.now() - t0;
      if (done < JOBS) {
        failures.push(`phase ${phase}: ${JOBS - done} job(s) not finished within ${fmt(PHASE_MS)} ms`);
        break;
      }
      const m = await collect();
      samples.push({ phase, jobs: phase * JOBS, ms, heapUsed: m.heapUsed, code: m.code, external: m.external, arrayBuffers: m.arrayBuffers, rss: m.rss });
      // One line as it goes: a long run (BENCH_MEMORY_PHASES=100) shows its progress and leaves figures if stopped.
      console.log(`phase ${phase}: ${fmt(ms / 1000, 1)} s, heap ${fmt(m.heapUsed / MB, 2)} MB (code ${fmt(m.code / MB, 2)}), RSS ${fmt(m.rss / MB, 1)} MB`);
      if (SNAPSHOTS && (phase === 2 || phase === PHASES)) {
        snapshots.push(v8.writeHeapSnapshot(path.join(SNAPSHOTS, `xtconnect-phase-${phase}.heapsnapshot`)));
      }
    }

    // Every job ended as its kind should, and every message arrived once.
    const { rows: ends } = await observer.query<{ action: string; ok: number; failed: number; other: number }>(
      `SELECT batch_action AS action,
              count(*) FILTER (WHERE batch_exitstatus = '')::int AS ok,
              count(*) FILTER (WHERE batch_exitstatus <> '')::int AS failed,
              count(*) FILTER (WHERE batch_completed IS NULL)::int AS other
         FROM xtbatch.batch WHERE batch_id >= $1 GROUP BY 1 ORDER BY 1`, [first]);
    const phasesRun = samples.length;
    for (const e of ends) {
      const kind = e.action === 'BenchErp' ? 'ok' : e.action === 'BenchErpFails' ? 'failed' : null;
      if (kind === 'ok' && e.failed) failures.push(`${e.failed} BenchErp job(s) failed`);
      if (kind === 'failed' && e.ok) failures.push(`${e.ok} BenchErpFails job(s) did not fail`);
    }
    const { rows: emails } = await observer.query<{ sent: number; bad: number; badOk: number; recorded: number }>(
      `SELECT count(*) FILTER (WHERE batch_email <> '' AND batch_exitstatus = '')::int AS sent,
              count(*) FILTER (WHERE batch_email = '' AND batch_exitstatus LIKE '%batch_email%')::int AS bad,
              count(*) FILTER (WHERE batch_email = '' AND batch_exitstatus = '')::int AS "badOk",
              (SELECT count(*)::int FROM xtbatch.eml WHERE eml_status = 'O') AS recorded
         FROM xtbatch.batch WHERE batch_action = 'Email'`);
    const e = emails[0]!;
    const wantSent = counts.email * phasesRun;
    if (e.sent !== wantSent) failures.push(`${e.sent} email job(s) done, not ${wantSent}`);
    if (e.bad !== emailBad * phasesRun) failures.push(`${e.bad} email job(s) without recipient failed naming batch_email, not ${emailBad * phasesRun}`);
    if (e.badOk) failures.push(`${e.badOk} email job(s) without recipient were done`);
    if (e.recorded !== wantSent) failures.push(`${e.recorded} message(s) recorded in xtbatch.eml, not ${wantSent}`);
    const got = await sink.counts();
    const dup = Object.values(got.byId).filter((n) => n > 1).length;
    if (got.total !== wantSent) failures.push(`${got.total} message(s) arrived at the SMTP server, not ${wantSent}`);
    if (dup) failures.push(`${dup} message(s) arrived more than once`);
  } finally {
    await daemon?.stop(10_000).catch(() => undefined);
    await observer.end();
    sink.stop();
    await proxy?.close();
    fs.rmSync(dir, { recursive: true, force: true });
    await db.dropBenchDb().catch(() => undefined);
  }

  console.log();
  console.log(table(['phase', 'jobs run', 'seconds', 'heap used MB', 'of it compiled code MB', 'external MB', 'array buffers MB', 'RSS MB'],
    samples.map((s) => [String(s.phase), fmt(s.jobs), fmt(s.ms / 1000, 1), fmt(s.heapUsed / MB, 2), fmt(s.code / MB, 2), fmt(s.external / MB, 2),
      fmt(s.arrayBuffers / MB, 2), fmt(s.rss / MB, 1)])));
  const counted = samples.slice(WARMUP_PHASES);
  if (counted.length >= 2) {
    const jobs = counted.map((s) => s.jobs);
    const kb = (perJob: number) => `${fmt(perJob * 1000 / 1024, 1)} KB per 1,000 jobs (${fmt(perJob, 1)} bytes a job)`;
    // The limit is on the heap without compiled code: code grows while V8 optimizes, and a leak is data.
    const perJob = slope(jobs, counted.map((s) => s.heapUsed - s.code));
    const codePerJob = slope(jobs, counted.map((s) => s.code));
    const extPerJob = slope(jobs, counted.map((s) => s.external));
    console.log(`\ngrowth after the ${WARMUP_PHASES} warm-up phases, by least squares: heap without compiled code ${kb(perJob)}, limit ${fmt(LIMIT_BYTES)} bytes a job;` +
      ` compiled code ${kb(codePerJob)}; external memory ${kb(extPerJob)}` +
      (CUT_MS ? `; with one cut a phase, ${fmt((perJob * JOBS) / 1024, 1)} KB a phase and its cut` : ''));
    if (perJob > LIMIT_BYTES) failures.push(`the heap grows by ${fmt(perJob, 1)} bytes a job after the warm-up phases (limit ${LIMIT_BYTES})`);
    if (extPerJob > LIMIT_BYTES) failures.push(`external memory grows by ${fmt(extPerJob, 1)} bytes a job after the warm-up phases (limit ${LIMIT_BYTES})`);
  }
  reportEnd(snapshots, failures);
}

if (require.main === module) runWithGc(__filename, main);
