/**
 * Benchmark: email to a real SMTP server (issue 17), in one run against the same server:
 *
 *  (a) plain pooled nodemailer (pool: true, maxConnections C) sending N messages, at most BENCH_EMAIL_INFLIGHT at a
 *      time (default: the daemon's concurrency), and
 *  (b) xtconnect's daemon in this process, with its production wiring (the config loaded from a file, a pool for its
 *      own statements and one for the handlers as `xtconnect start` makes them, the mailer and the sent-mail
 *      recorder the daemon makes itself), running N Email jobs inserted into xtbatch.batch with the same SMTP pool
 *      size; every sent message is recorded in xtbatch.eml, as in production.
 *
 * The server is smtp-server (a devDependency) in a child process of its own, so that its CPU is not this
 * process's: plain SMTP on loopback offering STARTTLS with a self-signed certificate made by openssl (the client
 * verifies it, trusting that certificate as smtp.tls.caPath does), AUTH PLAIN/LOGIN required, and AUTH refused before
 * STARTTLS, so no message can arrive without both. The sink counts each message by its X-xtconnect-Batch-Id header:
 * a message lost, duplicated, or arrived without TLS and login is a FAILURE. Loopback only; every loop is bounded.
 *
 *   BENCH_EMAIL_JOBS (2000), BENCH_EMAIL_CONNECTIONS (5), BENCH_EMAIL_CONCURRENCY (10), BENCH_EMAIL_INFLIGHT
 *   (nodemailer's messages in flight; default the concurrency), BENCH_EMAIL_SYSTEMS (nodemailer,xtconnect),
 *   BENCH_EMAIL_LIMIT_MS (120000 per run), BENCH_EMAIL_BODY_BYTES (1500), BENCH_DB (xtc_bench_email),
 *   BENCH_SETUP_SQL (an experiment: statements run on the migrated database after the jobs are inserted),
 *   BENCH_EMAIL_ROUNDS (3): the systems run in turn this many times, and the ratio printed last is the median of the
 *   rounds' ratios. On a shared 2-core machine one pair of runs moves by ±0.15 in ratio; rounds that alternate
 *   put both systems under the same drift and show the spread beside the median. BENCH_EMAIL_WARMUP (1; 0: none): a
 *   round before them that is printed and not counted. Without it the first round's nodemailer ran with nodemailer's
 *   code not yet compiled (1.4–1.5 ms of CPU per message against 0.6–0.8 in later rounds), which flattered the ratio.
 *   BENCH_EMAIL_SERVER (sink; postfix): `postfix` sends to the real Postfix that bench/postfix-setup.sh sets up
 *   (STARTTLS and AUTH required, every message queued to disk, then discarded), counting from its log (lib/postfix.ts).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { startSink, type Sink, type SinkCounts } from './lib/smtpSink';
import { fmt, heading, sleep, table } from './lib/util';

// A database of its own, so that this can run while another benchmark uses the default one. lib/db reads BENCH_DB
// when loaded, hence the late imports in main().
process.env.BENCH_DB ??= 'xtc_bench_email';

const N = Number(process.env.BENCH_EMAIL_JOBS ?? 2000);
const CONNECTIONS = Number(process.env.BENCH_EMAIL_CONNECTIONS ?? 5);
const CONCURRENCY = Number(process.env.BENCH_EMAIL_CONCURRENCY ?? 10);
const INFLIGHT = Number(process.env.BENCH_EMAIL_INFLIGHT ?? CONCURRENCY);
const SYSTEMS = (process.env.BENCH_EMAIL_SYSTEMS ?? 'nodemailer,xtconnect').split(',');
const LIMIT_MS = Number(process.env.BENCH_EMAIL_LIMIT_MS ?? 120_000);
const BODY_BYTES = Number(process.env.BENCH_EMAIL_BODY_BYTES ?? 1500);
const ROUNDS = Number(process.env.BENCH_EMAIL_ROUNDS ?? 3);
const WARMUP = process.env.BENCH_EMAIL_WARMUP !== '0';
const SERVER = process.env.BENCH_EMAIL_SERVER ?? 'sink';
const SMTP_USER = 'bench';
const SMTP_PASS = 'bench-secret-not-real';
const FROM = '"ERP Billing" <erp@ourco.example>';

const loadavg = () => os.loadavg().map((l) => fmt(l, 2)).join(' ');

// --- the messages --------------------------------------------------------------------------------------------

/** A plain-text invoice note of about BODY_BYTES, with a non-ASCII line as ERP mail has (quoted-printable). */
function bodyText(i: number): string {
  const lines = [`Dear customer ${i},`, '', 'please find the details of your invoice below. Mit freundlichen Grüßen.', ''];
  for (let n = 1; lines.join('\n').length < BODY_BYTES; n++) lines.push(`Line ${n}: item ${1000 + n}, quantity ${n % 7 + 1}, unit price ${(n * 3.17).toFixed(2)} EUR`);
  return lines.join('\n');
}

const recipient = (i: number) => `"Customer ${i}" <customer${i}@customer.example>`;
const subject = (i: number) => `Invoice ${100000 + i}`;

// --- the runs ------------------------------------------------------------------------------------------------

interface RunResult {
  system: string;
  ms: number;
  sent: number;
  timedOut: boolean;
  nodeCpuMs: number;
  /** The main thread's load during the run (lib/cpu watchMainThread). */
  thread: string;
  pgCpuMs: number;
  pgBackends: number;
  statements: number;
  sink: SinkCounts;
  expected: string[];
  failures: string[];
  detail: string[];
}

function sinkFailures(sink: SinkCounts, expected: string[]): string[] {
  const out: string[] = [];
  const want = new Set(expected);
  let lost = 0;
  let dup = 0;
  for (const id of expected) {
    const n = sink.byId[id] ?? 0;
    if (n === 0) lost++;
    else if (n > 1) dup += n - 1;
  }
  const stray = Object.keys(sink.byId).filter((id) => !want.has(id)).length;
  if (lost) out.push(`${lost} message(s) never arrived at the server`);
  if (dup) out.push(`${dup} duplicate message(s) arrived`);
  if (stray) out.push(`${stray} message(s) with a batch id not sent in this run`);
  if (sink.unnamed) out.push(`${sink.unnamed} message(s) without X-xtconnect-Batch-Id`);
  if (sink.insecure) out.push(`${sink.insecure} message(s) arrived without STARTTLS and AUTH`);
  return out;
}

async function runNodemailer(sink: Sink): Promise<RunResult> {
  const nodemailer = require('nodemailer') as typeof import('nodemailer');
  const { nodeCpuMs, watchMainThread } = require('./lib/cpu') as typeof import('./lib/cpu');
  await sink.reset();
  const transport = nodemailer.createTransport({
    pool: true,
    maxConnections: CONNECTIONS,
    host: '127.0.0.1',
    port: sink.port,
    secure: false,
    requireTLS: true,
    auth: { user: SMTP_USER, pass: SMTP_PASS },
    tls: { ca: fs.readFileSync(sink.certPath), rejectUnauthorized: true },
    logger: false,
  });
  const expected = Array.from({ length: N }, (_, i) => `nm-${i + 1}`);
  // The messages' texts are made before the clock starts, as the daemon's are in the table before it starts.
  const bodies = Array.from({ length: N + 1 }, (_, i) => bodyText(i));
  let next = 0;
  let sent = 0;
  const errors: string[] = [];
  const cpu0 = process.cpuUsage();
  const thread = watchMainThread();
  const start = performance.now();
  const deadline = start + LIMIT_MS;
  // INFLIGHT senders, each taking the next message until all N are sent or the time limit passes.
  const worker = async () => {
    while (next < N && performance.now() < deadline) {
      const i = ++next;
      try {
        await transport.sendMail({ from: FROM, to: recipient(i), subject: subject(i), text: bodies[i]!, headers: { 'X-xtconnect-Batch-Id': `nm-${i}` } });
        sent++;
      } catch (err) {
        if (errors.length < 5) errors.push((err as Error).message);
      }
    }
  };
  await Promise.all(Array.from({ length: INFLIGHT }, worker));
  const ms = performance.now() - start;
  const cpu = nodeCpuMs(cpu0);
  const threadLoad = thread();
  transport.close();
  const counts = await sink.counts();
  const failures = sinkFailures(counts, expected);
  if (sent < N) failures.unshift(`${N - sent} send(s) failed or not attempted${errors.length ? ` (${errors.join('; ')})` : ''}`);
  return {
    system: `plain pooled nodemailer (maxConnections ${CONNECTIONS}, ${INFLIGHT} in flight)`,
    ms, sent, timedOut: performance.now() > deadline, nodeCpuMs: cpu, thread: threadLoad, pgCpuMs: 0, pgBackends: 0, statements: 0, sink: counts, expected, failures,
    detail: [],
  };
}

async function runXtconnect(sink: Sink, dir: string): Promise<RunResult> {
  const db = require('./lib/db') as typeof import('./lib/db');
  const { backendCpuMs, nodeCpuMs, watchMainThread } = require('./lib/cpu') as typeof import('./lib/cpu');
  const { clientQueryCounts, countClientQueries, countsDelta, instrumentPool } = require('./lib/count') as typeof import('./lib/count');
  const { loadConfig } = require('../src/config') as typeof import('../src/config');
  const { Daemon } = require('../src/daemon/loop') as typeof import('../src/daemon/loop');
  const { createPool } = require('../src/db/pool') as typeof import('../src/db/pool');
  const { silentLogger } = require('../src/log') as typeof import('../src/log');

  await db.recreateBenchDb();
  await db.migrateXt();
  await sink.reset();
  // Email rows as the ERP queues them: one recipient each, a subject, a text body (the same messages nodemailer sends).
  const nums = Array.from({ length: N }, (_, i) => i + 1);
  await db.benchQuery(
    `INSERT INTO xtbatch.batch (batch_action, batch_email, batch_fromemail, batch_subject, batch_responsebody)
     SELECT 'Email', t, $4, s, b FROM unnest($1::text[], $2::text[], $3::text[]) AS u(t, s, b)`,
    [nums.map(recipient), nums.map(subject), nums.map(bodyText), FROM],
  );
  if (process.env.BENCH_SETUP_SQL) await db.benchQuery(process.env.BENCH_SETUP_SQL);
  await db.benchQuery(`ANALYZE xtbatch.batch`);
  const ids = (await db.benchQuery<{ id: string }>(`SELECT batch_id::text AS id FROM xtbatch.batch ORDER BY batch_id`)).map((r) => r.id);

  // The config as an administrator writes it; the password in the environment, as docs/configuration.md says.
  const dataDir = fs.mkdtempSync(path.join(dir, 'xtconnect-'));
  const file = path.join(dataDir, 'xtconnect.yaml');
  fs.writeFileSync(file, [
    `dataDir: ${JSON.stringify(dataDir)}`,
    'database:', `  url: ${JSON.stringify(db.benchUrl())}`,
    'daemon:', `  concurrency: ${CONCURRENCY}`,
    'smtp:', '  host: 127.0.0.1', `  port: ${sink.port}`, '  security: starttls', `  user: ${SMTP_USER}`, `  maxConnections: ${CONNECTIONS}`,
    '  tls:', `    caPath: ${JSON.stringify(sink.certPath)}`, '',
  ].join('\n'));
  const cfg = loadConfig({ config: file }, { HOME: os.homedir(), XTCONNECT_SMTP_PASSWORD: SMTP_PASS } as NodeJS.ProcessEnv);
  const log = silentLogger();
  const APP = 'xtconnect bench daemon';
  const JOBS_APP = 'xtconnect bench jobs';
  const poolOpts = { url: cfg.database.url, max: cfg.database.poolSize, statementTimeoutMs: cfg.database.statementTimeoutMs };
  const pool = createPool({ ...poolOpts, applicationName: APP }, log);
  const jobPool = createPool({ ...poolOpts, applicationName: JOBS_APP }, log);
  const inst = instrumentPool(pool);
  const jobInst = instrumentPool(jobPool);
  const observer = db.benchPool('xtconnect bench observer', 1);
  const mine = (a: string) => a === APP || a === JOBS_APP || a === 'xtconnect listener';
  countClientQueries();
  const q0 = clientQueryCounts();
  const cpu0 = process.cpuUsage();
  const thread = watchMainThread();
  const start = performance.now();
  const deadline = start + LIMIT_MS;
  // No services given: the daemon makes the mailer and its sent-mail recorder itself, as in production.
  const daemon = new Daemon({ cfg, pool, jobPool, log, ownsPool: true });
  let finished = 0;
  let ms = NaN;
  try {
    await daemon.start();
    // The database says when every job is finished; asked every 50 ms (a few statements, not counted as the daemon's).
    while (performance.now() < deadline) {
      const { rows } = await observer.query<{ n: number }>(`SELECT count(*)::int AS n FROM xtbatch.batch WHERE batch_completed IS NOT NULL`);
      finished = rows[0]!.n;
      if (finished >= N) break;
      await sleep(50);
    }
    ms = performance.now() - start;
    const nodeMs = nodeCpuMs(cpu0);
    const threadLoad = thread();
    const pg = await backendCpuMs(mine);
    // Split: the daemon's own statements (claims, outcomes, leases) and the handlers' (recording the sent mail).
    const pgJobs = await backendCpuMs((a) => a === JOBS_APP);
    const statements = countsDelta(q0, clientQueryCounts(), mine).total;
    const stats = { ...daemon.stats };
    const { rows: done } = await observer.query<{ ok: number; failed: number; attempts: number }>(
      `SELECT count(*) FILTER (WHERE batch_exitstatus = '')::int AS ok, count(*) FILTER (WHERE batch_exitstatus <> '')::int AS failed,
              coalesce(sum(batch_attempts), 0)::int AS attempts
         FROM xtbatch.batch WHERE batch_completed IS NOT NULL`,
    );
    const { rows: eml } = await observer.query<{ n: number; addrs: number; hdr: number }>(
      `SELECT count(*)::int AS n, (SELECT count(*)::int FROM xtbatch.emladdr) AS addrs,
              count(*) FILTER (WHERE position('x-xtconnect-batch-id' in lower(convert_from(eml_msg, 'LATIN1'))) > 0)::int AS hdr
         FROM xtbatch.eml WHERE eml_status = 'O'`,
    );
    const counts = await sink.counts();
    const failures = sinkFailures(counts, ids);
    if (finished < N) failures.unshift(`${N - finished} job(s) not finished (TIMED OUT)`);
    if (done[0]!.failed) failures.push(`${done[0]!.failed} job(s) failed`);
    if (eml[0]!.n !== N) failures.push(`${eml[0]!.n} message(s) recorded in xtbatch.eml, not ${N}`);
    const kinds = (s: Record<string, { count: number; ms: number }>) => Object.entries(s).sort((a, b) => b[1].count - a[1].count)
      .map(([k, v]) => `${k} ${fmt(v.count)} (${fmt(v.count / N, 3)}/job, ${fmt(v.ms / Math.max(1, v.count), 2)} ms)`).join('; ');
    return {
      system: `xtconnect (concurrency ${CONCURRENCY}, smtp.maxConnections ${CONNECTIONS})`,
      ms, sent: done[0]!.ok, timedOut: finished < N, nodeCpuMs: nodeMs, thread: threadLoad, pgCpuMs: pg.ms, pgBackends: pg.backends, statements, sink: counts, expected: ids, failures,
      detail: [
        `  PostgreSQL CPU by pool: the daemon's ${fmt(pg.ms - pgJobs.ms)} ms, the handlers' (recording) ${fmt(pgJobs.ms)} ms (${fmt(pgJobs.ms / N, 2)} ms/message)`,
        `  daemon.stats: ${JSON.stringify(stats)}; attempts ${fmt(done[0]!.attempts)} for ${fmt(N)} jobs`,
        `  recorded in xtbatch.eml: ${fmt(eml[0]!.n)} messages (status O), ${fmt(eml[0]!.addrs)} emladdr rows, ${fmt(eml[0]!.hdr)} with their X-xtconnect-Batch-Id`,
        `  daemon's pool: ${kinds(inst.snapshot())}`,
        `  handlers' pool: ${kinds(jobInst.snapshot())}`,
      ],
    };
  } finally {
    await daemon.stop(10_000).catch(() => undefined);
    await observer.end();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

function printRun(r: RunResult, loadBefore: string): void {
  console.log(`\n${r.system}: ${fmt((r.sent / r.ms) * 1000)} messages/s (${fmt(r.sent)} in ${fmt(r.ms)} ms; load average before ${loadBefore})`);
  console.log(`  CPU: this Node process ${fmt(r.nodeCpuMs)} ms (${fmt(r.nodeCpuMs / N, 2)} ms/message)` +
    (r.pgBackends ? `; its ${r.pgBackends} PostgreSQL backends ${fmt(r.pgCpuMs)} ms (${fmt(r.pgCpuMs / N, 2)} ms/message, /proc, 10 ms ticks)` : '') +
    `; the SMTP server (other processes) ${fmt(r.sink.cpuMs)} ms (${fmt(r.sink.cpuMs / N, 2)} ms/message)`);
  console.log(`  ${r.thread}`);
  if (r.statements) console.log(`  statements sent (all its connections, counted in pg.Client): ${fmt(r.statements)} = ${fmt(r.statements / N, 2)} per job`);
  for (const d of r.detail) console.log(d);
  console.log(`  at the server: ${fmt(r.sink.total)} messages, ${fmt(Object.keys(r.sink.byId).length)} distinct batch ids, ` +
    `${fmt(r.sink.connections)} connections (TLS and login each), ${fmt(r.sink.bytes / Math.max(1, r.sink.total))} bytes/message`);
  for (const f of r.failures) console.log(`  FAILURE: ${f}`);
}

async function main(): Promise<void> {
  const db = require('./lib/db') as typeof import('./lib/db');
  db.adminUrl(); // refuses a non-loopback server before anything starts
  if (!Number.isInteger(ROUNDS) || ROUNDS < 1) throw new Error(`BENCH_EMAIL_ROUNDS: a whole number of at least 1, not ${process.env.BENCH_EMAIL_ROUNDS}`);
  if (SERVER !== 'sink' && SERVER !== 'postfix') throw new Error(`BENCH_EMAIL_SERVER: sink or postfix, not ${SERVER}`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xtconnect-bench-email-'));
  const sink = SERVER === 'postfix' ? await (require('./lib/postfix') as typeof import('./lib/postfix')).postfixServer({ user: SMTP_USER, pass: SMTP_PASS }) : await startSink(dir, { user: SMTP_USER, pass: SMTP_PASS });
  heading(`EMAIL: ${fmt(N)} messages to an SMTP server with STARTTLS and AUTH (${sink.name}, loopback), ${CONNECTIONS} connections`);
  console.log(`node ${process.version}, ${os.cpus().length} CPU(s), nodemailer ${require('nodemailer/package.json').version}; database ${db.BENCH_DB}; load average ${loadavg()}`);
  const results: RunResult[] = [];
  const rounds: RunResult[][] = [];
  try {
    for (let round = WARMUP ? 0 : 1; round <= ROUNDS; round++) {
      if (round === 0) console.log('\n--- warm-up round (not counted)');
      else if (ROUNDS > 1) console.log(`\n--- round ${round} of ${ROUNDS}`);
      const inRound: RunResult[] = [];
      for (const s of SYSTEMS) {
        const load = loadavg();
        const r = s === 'nodemailer' ? await runNodemailer(sink) : s === 'xtconnect' ? await runXtconnect(sink, dir) : null;
        if (!r) throw new Error(`BENCH_EMAIL_SYSTEMS: unknown system ${s}`);
        printRun(r, load);
        inRound.push(r);
      }
      if (round === 0) continue;
      rounds.push(inRound);
      results.push(...inRound);
    }
  } finally {
    sink.stop();
    fs.rmSync(dir, { recursive: true, force: true });
    if (SYSTEMS.includes('xtconnect')) await db.dropBenchDb().catch(() => undefined);
  }
  const rate = (r: RunResult) => (r.sent / r.ms) * 1000;
  console.log();
  console.log(table(
    ['system', 'messages/s', 'Node CPU ms/msg', 'PG CPU ms/msg', 'statements/job', 'failures'],
    results.map((r) => [r.system, fmt(rate(r)), fmt(r.nodeCpuMs / N, 2), r.pgBackends ? fmt(r.pgCpuMs / N, 2) : '-', r.statements ? fmt(r.statements / N, 2) : '-', r.failures.length ? 'FAILURE' : 'none']),
  ));
  const ratios: number[] = [];
  for (const inRound of rounds) {
    const nm = inRound.find((r) => r.system.startsWith('plain'));
    const xt = inRound.find((r) => r.system.startsWith('xtconnect'));
    if (nm && xt) ratios.push(rate(xt) / rate(nm));
  }
  if (ratios.length) {
    const sorted = [...ratios].sort((a, b) => a - b);
    const median = sorted.length % 2 ? sorted[(sorted.length - 1) / 2]! : (sorted[sorted.length / 2 - 1]! + sorted[sorted.length / 2]!) / 2;
    const each = ratios.length > 1 ? ` (rounds: ${ratios.map((x) => fmt(x, 2)).join(', ')})` : '';
    console.log(`\nxtconnect / plain nodemailer: ${fmt(median, 2)}x${ratios.length > 1 ? ', median of the rounds' : ''}${each} (target 0.8x); load average at the end ${loadavg()}`);
  }
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err);
    process.exitCode = 1;
  });
}
