/**
 * Benchmark: the standalone binary (npm run build:binary → build/xtconnect) as a server runs it.
 *
 *  1. Start-up: from spawning `xtconnect start` to the daemon ready (its "started" line) and to its first claimed
 *     job (a job already queued), over several starts on the same migrated database. Target: ready < 1 s.
 *  2. Resident memory (VmRSS from /proc/<pid>/status) idle after start-up, and under a load of about 1,000 jobs/s
 *     for a while (VmRSS sampled, VmHWM at the end, the process's peak). Target: < 80 MB idle.
 *
 * The jobs are an ERP action mapped (xtbatch.action) to a database function that does nothing, so that the
 * figures are the daemon's own. With dist/xtconnect.js present, the bundle under this Node is measured too.
 *
 *   BENCH_BINARY (default build/xtconnect, copied to a temp folder first), BENCH_STARTS (5), BENCH_IDLE_SECONDS (10),
 *   BENCH_LOAD_SECONDS (15), BENCH_RATE (1000 jobs/s), BENCH_BUNDLE=0 to measure the binary only, or the path of
 *   another bundle than dist/xtconnect.js, BENCH_COLD=1 to read the program's file from disk at each start,
 *   BENCH_TZ to run the daemon in that time zone (e.g. Europe/Berlin)
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fmt, heading, percentile, sleep, table, until } from './lib/util';

const ROOT = path.resolve(__dirname, '..', '..');

// A database of its own, so that this can run while another benchmark uses the default one. lib/db reads
// BENCH_DB when loaded, hence the late import.
process.env.BENCH_DB ??= 'xtc_bench_startup';
type Db = typeof import('./lib/db');
let db: Db;
const benchQuery: Db['benchQuery'] = (...a) => db.benchQuery(...a);
const STARTS = Number(process.env.BENCH_STARTS ?? 5);
const IDLE_S = Number(process.env.BENCH_IDLE_SECONDS ?? 10);
const LOAD_S = Number(process.env.BENCH_LOAD_SECONDS ?? 15);
const RATE = Number(process.env.BENCH_RATE ?? 1000);
/** Inserts per second are made in this many batches. */
const TICKS_PER_S = 10;
const READY_LIMIT_MS = 30_000;

interface Target {
  name: string;
  command: string;
  args: string[];
}

/**
 * The binary is measured as installed: copied to a folder of the bench's own. Run straight from build/, right
 * after postject wrote it, its file pages sit in the page cache as large folios, and every page fault maps a
 * whole one: 30 MB more resident (file-backed, clean) than the same file copied, or read cold after a reboot.
 */
function targets(dir: string): Target[] {
  const built = path.resolve(process.env.BENCH_BINARY ?? path.join(ROOT, 'build', 'xtconnect'));
  if (!fs.existsSync(built)) throw new Error(`${built} does not exist: run "npm run build:binary" first (or set BENCH_BINARY)`);
  const binary = path.join(dir, 'xtconnect');
  fs.copyFileSync(built, binary);
  fs.chmodSync(binary, 0o755);
  const list: Target[] = [{ name: 'binary (SEA, Node 24)', command: binary, args: [] }];
  // BENCH_BUNDLE: 0 to leave the bundle out, or another bundle's path (an older build, to compare).
  const bundle = process.env.BENCH_BUNDLE && process.env.BENCH_BUNDLE !== '0' ? path.resolve(process.env.BENCH_BUNDLE) : path.join(ROOT, 'dist', 'xtconnect.js');
  if (fs.existsSync(bundle) && process.env.BENCH_BUNDLE !== '0') list.push({ name: `bundle (node ${process.version})`, command: process.execPath, args: [bundle] });
  return list;
}

/** A config file as an administrator would write it: just the database, everything else at its default. */
function configFile(): { file: string; dir: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xtconnect-bench-startup-'));
  const file = path.join(dir, 'xtconnect.yaml');
  fs.writeFileSync(file, `database:\n  url: ${JSON.stringify(db.benchUrl())}\ndataDir: ${JSON.stringify(dir)}\n`);
  return { file, dir };
}

interface Daemon {
  child: ChildProcess;
  /** performance.now() of the first stderr line matching, by pattern source. */
  seen: Map<string, number>;
  lines: () => number;
  exited: Promise<number | null>;
}

/**
 * BENCH_COLD=1: the program's file leaves the page cache before each start (GNU dd's iflag=nocache with count=0
 * drops a whole file's pages), so it is read from disk as after a reboot, with this machine's read-ahead
 * (/sys/block/<disk>/queue/read_ahead_kb), instead of mapped from the pages the copy left in memory.
 */
const COLD = process.env.BENCH_COLD === '1';

function dropFromCache(file: string): void {
  execFileSync('dd', [`if=${file}`, 'iflag=nocache', 'count=0', 'status=none']);
}

function startDaemon(t: Target, config: string, watch: RegExp[]): Daemon {
  if (COLD) dropFromCache(t.command);
  const child = spawn(t.command, [...t.args, 'start', '--config', config], {
    cwd: os.tmpdir(),
    // BENCH_TZ: the daemon's time zone (unset: the machine's). In a zone other than UTC it reads ICU's data.
    env: { PATH: '/usr/bin:/bin', HOME: os.tmpdir(), ...(process.env.BENCH_TZ ? { TZ: process.env.BENCH_TZ } : {}) },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const seen = new Map<string, number>();
  let lines = 0;
  let partial = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => {
    const now = performance.now();
    const parts = (partial + chunk).split('\n');
    partial = parts.pop()!;
    for (const line of parts) {
      lines++;
      for (const re of watch) if (!seen.has(re.source) && re.test(line)) seen.set(re.source, now);
    }
  });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, seen, lines: () => lines, exited };
}

async function stop(d: Daemon): Promise<void> {
  d.child.kill('SIGTERM');
  const code = await Promise.race([d.exited, sleep(60_000).then(() => 'timeout' as const)]);
  if (code === 'timeout') {
    d.child.kill('SIGKILL');
    throw new Error('the daemon did not stop within 60 s of SIGTERM');
  }
}

/** Where the resident memory is: anonymous (heaps, the compiled code) or file-backed (the executable's pages). */
function rollup(pid: number): { anonMb: number; fileMb: number } {
  try {
    const text = fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN);
    return { anonMb: kb('Anonymous') / 1024, fileMb: (kb('Rss') - kb('Anonymous')) / 1024 };
  } catch {
    return { anonMb: NaN, fileMb: NaN };
  }
}

const loadavg = () => os.loadavg().map((l) => fmt(l, 2)).join(' ');

function memory(pid: number): { rssMb: number; hwmMb: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rssMb: kb('VmRSS') / 1024, hwmMb: kb('VmHWM') / 1024 };
}

async function setupDatabase(): Promise<void> {
  await db.recreateBenchDb();
  await db.migrateXt();
  await benchQuery(`CREATE FUNCTION public.xtc_bench_noop() RETURNS integer LANGUAGE sql AS 'SELECT 0'`);
  await benchQuery(`INSERT INTO xtbatch.action (action_name, action_schema, action_function, action_args, action_descrip)
                    VALUES ('BenchNoop', 'public', 'xtc_bench_noop', '[]', 'startup bench: does nothing')`);
}

const READY = /\[daemon\] daemon \S+ started/;
// The first job's line at info: "claimed" went to debug (issue 17), "done" stays at info.
const CLAIMED = /\[job\] done in \d+ ms/;

interface StartResult {
  readyMs: number;
  firstJobMs: number;
}

/** One cold start with one job queued; the job table is emptied first so every start finds the same work. */
async function measureStart(t: Target, config: string): Promise<StartResult> {
  await benchQuery('TRUNCATE xtbatch.batch, xtbatch.batchparam, xtbatch.daemon CASCADE');
  await benchQuery(`INSERT INTO xtbatch.batch (batch_action) VALUES ('BenchNoop')`);
  const t0 = performance.now();
  const d = startDaemon(t, config, [READY, CLAIMED]);
  try {
    const ok = await until(() => d.seen.has(CLAIMED.source) && d.seen.has(READY.source), t0 + READY_LIMIT_MS, 2);
    if (!ok) throw new Error(`${t.name}: no claimed job within ${READY_LIMIT_MS} ms`);
    return { readyMs: d.seen.get(READY.source)! - t0, firstJobMs: d.seen.get(CLAIMED.source)! - t0 };
  } finally {
    await stop(d);
  }
}

interface MemoryResult {
  idleRssMb: number;
  idleAnonMb: number;
  idleFileMb: number;
  loadRssMb: number;
  hwmMb: number;
  offered: number;
  done: number;
  jobsPerS: number;
}

async function doneCount(): Promise<number> {
  const rows = await benchQuery<{ n: number }>(`SELECT count(*)::int AS n FROM xtbatch.batch WHERE batch_completed IS NOT NULL`);
  return rows[0]!.n;
}

async function measureMemory(t: Target, config: string): Promise<MemoryResult> {
  await benchQuery('TRUNCATE xtbatch.batch, xtbatch.batchparam, xtbatch.daemon CASCADE');
  const d = startDaemon(t, config, [READY]);
  const pid = d.child.pid!;
  try {
    if (!(await until(() => d.seen.has(READY.source), performance.now() + READY_LIMIT_MS, 5))) throw new Error(`${t.name}: not ready`);
    await sleep(IDLE_S * 1000);
    const idle = memory(pid);
    const parts = rollup(pid);

    // About RATE jobs a second for LOAD_S seconds, in TICKS_PER_S batches a second; a bounded number in all.
    const perTick = Math.round(RATE / TICKS_PER_S);
    const ticks = LOAD_S * TICKS_PER_S;
    let loadRss = 0;
    const started = performance.now();
    for (let i = 0; i < ticks; i++) {
      await benchQuery(`INSERT INTO xtbatch.batch (batch_action) SELECT 'BenchNoop' FROM generate_series(1, $1::int)`, [perTick]);
      loadRss = Math.max(loadRss, memory(pid).rssMb);
      const next = started + ((i + 1) * 1000) / TICKS_PER_S;
      const wait = next - performance.now();
      if (wait > 0) await sleep(wait);
    }
    const offered = perTick * ticks;
    const drained = await until(async () => (await doneCount()) >= offered, performance.now() + 120_000, 200);
    const elapsed = (performance.now() - started) / 1000;
    const done = await doneCount();
    const end = memory(pid);
    if (!drained) console.log(`  (${t.name}: only ${done} of ${offered} jobs done 120 s after the load ended)`);
    return { idleRssMb: idle.rssMb, idleAnonMb: parts.anonMb, idleFileMb: parts.fileMb, loadRssMb: Math.max(loadRss, end.rssMb), hwmMb: end.hwmMb, offered, done, jobsPerS: done / elapsed };
  } finally {
    await stop(d);
  }
}

async function main(): Promise<void> {
  db = require('./lib/db') as Db;
  heading(`Startup and memory: ${STARTS} starts each; idle ${IDLE_S} s; load ${RATE} jobs/s for ${LOAD_S} s; ${os.cpus().length} CPUs; load average ${loadavg()}`);
  await setupDatabase();
  const { file, dir } = configFile();
  const list = targets(dir);
  const rows: string[][] = [];
  try {
    for (const t of list) {
      const starts: StartResult[] = [];
      for (let i = 0; i < STARTS; i++) starts.push(await measureStart(t, file));
      const ready = starts.map((s) => s.readyMs).sort((a, b) => a - b);
      const first = starts.map((s) => s.firstJobMs).sort((a, b) => a - b);
      const mem = await measureMemory(t, file);
      rows.push([
        t.name,
        fmt(percentile(ready, 50)), fmt(ready.at(-1)!),
        fmt(percentile(first, 50)), fmt(first.at(-1)!),
        fmt(mem.idleRssMb, 1), `${fmt(mem.idleAnonMb, 1)} / ${fmt(mem.idleFileMb, 1)}`, fmt(mem.loadRssMb, 1), fmt(mem.hwmMb, 1),
        `${fmt(mem.done)}/${fmt(mem.offered)}`, fmt(mem.jobsPerS),
      ]);
      console.log(`  ${t.name}: ready ${ready.map((x) => fmt(x)).join(', ')} ms; first job ${first.map((x) => fmt(x)).join(', ')} ms; load average ${loadavg()}`);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
    await db.dropBenchDb();
  }
  console.log();
  console.log(table(
    ['target', 'ready p50 ms', 'ready max', '1st job p50 ms', '1st job max', 'idle RSS MB', 'anon / file MB', 'load RSS MB', 'VmHWM MB', 'jobs done', 'jobs/s'],
    rows,
  ));
  console.log(`\nTargets: ready < 1,000 ms; idle RSS < 80 MB. Idle RSS is split (smaps_rollup) into anonymous memory (heaps, ` +
    `compiled code) and file-backed pages (the executable). Load average at the end ${loadavg()}.`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
