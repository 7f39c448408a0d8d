/**
 * Email sync import rate and memory (issue 6): a folder of N varied messages on an IMAP server (hoodiecrow-imap, the
 * test server, in a child process so it neither shares the event loop nor counts in our memory) imported by
 * syncMailbox() into a fresh database with xTuple's contact tables: parse, hash, eml + emladdr rows, contact
 * matching and creation, [xtref:...] links, one transaction per message with the folder progress.
 *
 * Printed per size: messages/s, and the importer's peak RSS (sampled every 20 ms) above its RSS before the run.
 * 1,000 and 5,000 messages side by side show whether memory grows with the folder (it should not: batches are
 * bounded by count and bytes). Target: at least 200 messages/s.
 *
 * Run: npx tsc -p bench/tsconfig.json && node dist-bench/bench/emailSync.js
 *   BENCH_EMAIL_SIZES (1000,5000), BENCH_EMAIL_LIMIT_MS (600000 per run), BENCH_EMAIL_BATCH (100 messages per fetch)
 */
import { fork } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { silentLogger } from '../src/log';
import { parseMailboxes } from '../src/config';
import { syncMailbox } from '../src/sync/syncMailbox';
import { htmlOnly, latin1, multipart, plain } from '../test/sync/helpers';
import { IMAP_PASSWORD, IMAP_USER, startImap } from '../test/sync/imapServer';
import { benchPool, dropBenchDb, migrateXt, recreateBenchDb } from './lib/db';
import { fmt, heading, table, within } from './lib/util';

const SIZES = (process.env.BENCH_EMAIL_SIZES ?? '1000,5000').split(',').map(Number).filter((n) => n > 0 && n <= 100_000);
const LIMIT_MS = Number(process.env.BENCH_EMAIL_LIMIT_MS ?? 600_000);
const BATCH = Number(process.env.BENCH_EMAIL_BATCH ?? 100);
const MB = 1024 * 1024;

/**
 * Message i of the folder: 45% plain text, 20% HTML only, 15% ISO-8859-1, 15% with a 40 KB attachment, 5% with a
 * 400 KB one; 300 different senders (so contacts are both created and matched) and a reference in every tenth.
 */
function message(i: number): Buffer {
  const from = `Sender ${i % 300} <sender${i % 300}@customer${i % 7}.example>`;
  const subject = `Message ${i}${i % 10 === 0 ? ` [xtref:S-${10_000 + (i % 50)}]` : ''}`;
  const body = `Hello,\r\n\r\n${'This is line of text number and some words. '.repeat(5 + (i % 20))}\r\n\r\nRegards`;
  const r = i % 20;
  if (r < 9) return plain({ from, subject, body });
  if (r < 13) return htmlOnly(`<p>${body.replace(/\r\n/g, '<br>')}</p>`, { from, subject });
  if (r < 16) return latin1({ from, subject });
  if (r < 19) return multipart(crypto.randomBytes(40 * 1024), { from, subject, body });
  return multipart(crypto.randomBytes(400 * 1024), { from, subject, body });
}

/** Child process: an IMAP server with one folder of `n` messages, until the parent disconnects. */
async function serve(n: number): Promise<void> {
  const imap = await startImap();
  let bytes = 0;
  for (let i = 0; i < n; i++) {
    const raw = message(i);
    bytes += raw.length;
    imap.add('INBOX', raw);
  }
  const ready = process.cpuUsage();
  process.send!({ port: imap.port, bytes });
  // The parent asks how much CPU serving the folder took (filling it is not counted).
  process.on('message', () => process.send!(process.cpuUsage(ready)));
  process.on('disconnect', () => void imap.close().then(() => process.exit(0)));
}

function crmFixture(): string {
  // dist-bench/bench → the repository's test/fixtures.
  const file = path.resolve(__dirname, '..', '..', 'test', 'fixtures', 'xtuple-crm.sql');
  return fs.readFileSync(file, 'utf8');
}

/** CPU seconds (user + system) the PostgreSQL backends serving the bench database have used, by pid (Linux /proc). */
async function backendCpu(pool: ReturnType<typeof benchPool>): Promise<Map<number, number>> {
  const { rows } = await pool.query<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE datname = current_database()`);
  const tick = 100; // USER_HZ on Linux
  const out = new Map<number, number>();
  for (const { pid } of rows) {
    try {
      const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      out.set(pid, (Number(fields[11]) + Number(fields[12])) / tick);
    } catch {
      // Not on this machine, or gone: not counted.
    }
  }
  return out;
}

interface RunResult {
  n: number;
  folderMb: number;
  seconds: number;
  rate: number;
  imported: number;
  baseRssMb: number;
  peakRssMb: number;
  timedOut: boolean;
  /** CPU milliseconds per imported message: the importer, the PostgreSQL backends, the IMAP server. */
  cpuMs: { importer: number; postgres: number; imap: number };
}

async function run(n: number): Promise<RunResult> {
  await recreateBenchDb();
  await migrateXt();
  const pool = benchPool('xtconnect bench email sync', 4);
  await pool.query(crmFixture());
  await pool.query(`INSERT INTO public.cohead (cohead_number) SELECT (10000 + g)::text FROM generate_series(0, 49) g`);
  const child = fork(__filename, ['serve', String(n)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  try {
    const info = await new Promise<{ port: number; bytes: number }>((resolve, reject) => {
      child.once('message', (m) => resolve(m as { port: number; bytes: number }));
      child.once('exit', (code) => reject(new Error(`IMAP server process exited with ${code}`)));
    });
    const [mb] = parseMailboxes([{ name: 'bench', host: '127.0.0.1', port: info.port, security: 'none', user: IMAP_USER,
      password: IMAP_PASSWORD, batchSize: BATCH, timeoutMs: 60_000 }], 'bench', {});
    global.gc?.();
    // Open the pool's connections first, so that their backends are there to be measured from the start.
    await Promise.all([1, 2, 3, 4].map(() => pool.query('SELECT pg_sleep(0.05)')));
    const pgBefore = await backendCpu(pool);
    const cpuBefore = process.cpuUsage();
    const baseRss = process.memoryUsage().rss;
    let peakRss = baseRss;
    const sampler = setInterval(() => {
      peakRss = Math.max(peakRss, process.memoryUsage().rss);
    }, 20);
    const stop = new AbortController();
    const t0 = performance.now();
    const result = await within(
      syncMailbox(mb!, { pool, log: silentLogger(), signal: stop.signal, settings: { createContacts: true, exclusions: ['noreply@*'], defaultFrom: 'erp@ourco.example' } }),
      LIMIT_MS,
    );
    const seconds = (performance.now() - t0) / 1000;
    const importerCpu = process.cpuUsage(cpuBefore);
    const pgAfter = await backendCpu(pool);
    const pgSeconds = [...pgAfter].reduce((sum, [pid, t]) => sum + t - (pgBefore.get(pid) ?? 0), 0);
    child.send('cpu');
    const imapCpu = await new Promise<NodeJS.CpuUsage>((resolve) => child.once('message', (m) => resolve(m as NodeJS.CpuUsage)));
    clearInterval(sampler);
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
    let timedOut = false;
    if (result === 'timeout') {
      timedOut = true;
      stop.abort(new Error('bench time limit'));
    }
    const { rows } = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM xtbatch.eml WHERE eml_status = 'O'`);
    const imported = rows[0]!.n;
    await pool.end();
    const perMsg = (micro: number) => micro / 1000 / Math.max(1, imported);
    return { n, folderMb: info.bytes / MB, seconds, rate: imported / seconds, imported, baseRssMb: baseRss / MB, peakRssMb: peakRss / MB, timedOut,
      cpuMs: { importer: perMsg(importerCpu.user + importerCpu.system), postgres: (pgSeconds * 1000) / Math.max(1, imported), imap: perMsg(imapCpu.user + imapCpu.system) } };
  } finally {
    child.disconnect();
  }
}

async function main(): Promise<void> {
  heading(`Email sync: IMAP folder → xtbatch.eml (batch ${BATCH}), ${os.cpus().length} CPUs, load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  const results: RunResult[] = [];
  try {
    for (const n of SIZES) {
      const r = await run(n);
      results.push(r);
      console.log(`${n} messages (${fmt(r.folderMb, 1)} MB): ${r.imported} imported in ${fmt(r.seconds, 1)} s = ${fmt(r.rate)} msg/s, ` +
        `peak RSS ${fmt(r.peakRssMb)} MB (${fmt(r.peakRssMb - r.baseRssMb)} MB above the ${fmt(r.baseRssMb)} MB before)${r.timedOut ? ' TIMED OUT' : ''}`);
    }
  } finally {
    await dropBenchDb();
  }
  console.log('\n' + table(
    ['messages', 'folder MB', 'seconds', 'msg/s', 'peak RSS MB', 'growth MB', 'CPU ms/msg: importer', 'postgres', 'imap server', 'target 200 msg/s'],
    results.map((r) => [String(r.n), fmt(r.folderMb, 1), fmt(r.seconds, 1), fmt(r.rate), fmt(r.peakRssMb), fmt(r.peakRssMb - r.baseRssMb),
      fmt(r.cpuMs.importer, 2), fmt(r.cpuMs.postgres, 2), fmt(r.cpuMs.imap, 2), r.timedOut ? 'TIMED OUT' : r.rate >= 200 ? 'met' : 'missed']),
  ));
  // On a busy machine the rate says more about the other load than about the import; the CPU cost does not.
  console.log(`\nload average now ${os.loadavg().map((l) => l.toFixed(2)).join(' ')} on ${os.cpus().length} CPUs. CPU per message is the ` +
    'machine-independent figure: importer + postgres (+ the IMAP server, which a real mailbox runs elsewhere).');
}

if (process.argv[2] === 'serve') {
  void serve(Number(process.argv[3]));
} else {
  main().catch((err) => {
    console.error(err);
    process.exitCode = 1;
  });
}
