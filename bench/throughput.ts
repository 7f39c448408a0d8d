/**
 * Benchmark 1: throughput of no-op jobs, xtconnect against graphile-worker 0.17.3 (fast configuration), each at
 * concurrency 10 and 50, each run on a freshly created database on the same server.
 *
 * Timed from the moment the worker is started (the jobs are already in the table) to the moment the database says
 * every job is finished: for xtconnect every row has batch_completed set (the rows are kept: xTuple reads them),
 * for graphile-worker the job table is empty (finished jobs are deleted).
 */
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { benchPool, benchQuery, dropBenchDb, migrateXt, recreateBenchDb } from './lib/db';
import { describeGw, GW_APP, migrateGw, startGw } from './lib/gw';
import { startXt, XT_APP } from './lib/xt';
import { backendCpuMs, nodeCpuMs } from './lib/cpu';
import { fmt, heading, signal, table, until, within } from './lib/util';
import { clientQueryCounts, countClientQueries, countsDelta, type KindStats } from './lib/count';
import { measureCeiling, type Ceiling } from './lib/ceiling';

export const JOBS = Number(process.env.BENCH_JOBS ?? 20_000);
export const CONCURRENCIES = (process.env.BENCH_CONCURRENCY ?? '10,50').split(',').map(Number);
/** Which systems to run: BENCH_SYSTEMS=xtconnect or =graphile-worker to run only one. */
const SYSTEMS = (process.env.BENCH_SYSTEMS ?? 'xtconnect,graphile-worker').split(',');
/** Upper bound for one run (start to all finished). */
const RUN_LIMIT_MS = Number(process.env.BENCH_RUN_LIMIT_MS ?? 120_000);

export interface ThroughputResult {
  system: 'xtconnect' | 'graphile-worker';
  concurrency: number;
  jobs: number;
  /** Jobs whose handler ran. */
  handled: number;
  /** Jobs the database shows finished at the end. */
  finished: number;
  insertMs: number;
  /** Start → every handler ran. */
  handlersMs: number;
  /** Start → every job finished in the database. */
  totalMs: number;
  jobsPerSec: number;
  timedOut: boolean;
  duplicates: number;
  detail: string[];
}

function cpuLine(nodeMs: number, db: { ms: number; backends: number }, jobs: number): string {
  return `  CPU: this Node process ${fmt(nodeMs)} ms (${fmt((nodeMs * 1000) / jobs, 1)} µs/job); ` +
    `its ${db.backends} PostgreSQL backends ${fmt(db.ms)} ms (${fmt((db.ms * 1000) / jobs, 1)} µs/job, /proc, 10 ms ticks)`;
}

function stmtLine(sent: number, jobs: number): string {
  return `  statements sent (all its connections, counted in pg.Client): ${fmt(sent)} = ${fmt((sent * 1000) / jobs, 1)} per 1,000 jobs`;
}

function describeKinds(kinds: Record<string, KindStats>, jobs: number): string[] {
  const out: string[] = [];
  for (const [k, s] of Object.entries(kinds).sort((a, b) => b[1].count - a[1].count)) {
    let line = `    ${k.padEnd(12)} ${fmt(s.count).padStart(7)} statements, ${fmt(s.ms / Math.max(1, s.count), 2)} ms mean round trip, ${fmt(s.rows)} rows`;
    if (k === 'claim') line += ` (${fmt(s.rows / Math.max(1, s.count), 1)} jobs per claim; ${fmt(s.count / jobs, 3)} claims per job)`;
    if (k === 'finish') line += ` (batches: mean ${fmt(s.items / Math.max(1, s.count), 1)}, max ${s.maxItems} outcomes per statement)`;
    out.push(line);
  }
  return out;
}

export async function xtThroughput(concurrency: number): Promise<ThroughputResult> {
  await recreateBenchDb();
  await migrateXt();
  const t0 = performance.now();
  await benchQuery(`INSERT INTO xtbatch.batch (batch_action) SELECT 'Noop' FROM generate_series(1, $1::int)`, [JOBS]);
  const insertMs = performance.now() - t0;
  // An experiment, not a setting: what the web console's per-row NOTIFY trigger (sql/0021) costs the daemon.
  if (process.env.BENCH_CONSOLE_TRIGGER === 'off') await benchQuery(`ALTER TABLE xtbatch.batch DISABLE TRIGGER xtconnect_console_changed`);
  await benchQuery(`ANALYZE xtbatch.batch`);

  let handled = 0;
  const seen = new Set<number>();
  let duplicates = 0;
  const allHandled = signal<number>();
  const observer = benchPool('xtconnect bench observer', 1);
  let xt: Awaited<ReturnType<typeof startXt>> | null = null;
  try {
    countClientQueries();
    const q0 = clientQueryCounts();
    const cpu0 = process.cpuUsage();
    const start = performance.now();
    xt = await startXt(concurrency, {
      Noop: async (ctx) => {
        if (seen.has(ctx.job.batch_id)) duplicates++;
        seen.add(ctx.job.batch_id);
        if (++handled === JOBS) allHandled.resolve(performance.now());
      },
    });
    const deadline = start + RUN_LIMIT_MS;
    const h = await within(allHandled.promise, RUN_LIMIT_MS);
    const handlersAt = h === 'timeout' ? NaN : h;
    let unfinished = -1;
    const ok = h !== 'timeout' && (await until(async () => {
      const { rows } = await observer.query<{ n: number }>(`SELECT count(*)::int AS n FROM xtbatch.batch WHERE batch_completed IS NULL`);
      unfinished = rows[0]!.n;
      return unfinished === 0;
    }, deadline, 2));
    const end = performance.now();
    const nodeMs = nodeCpuMs(cpu0);
    const db = await backendCpuMs((a) => a === XT_APP || a === 'xtconnect listener');
    const sent = countsDelta(q0, clientQueryCounts(), (a) => a === XT_APP || a === 'xtconnect listener').total;
    const kinds = xt.inst.snapshot();
    const stats = { ...xt.daemon.stats };
    const { rows } = await observer.query<{ n: number; ok: number }>(
      `SELECT count(*)::int AS n, count(*) FILTER (WHERE batch_exitstatus = '')::int AS ok FROM xtbatch.batch WHERE batch_completed IS NOT NULL`,
    );
    const totalMs = end - start;
    return {
      system: 'xtconnect',
      concurrency,
      jobs: JOBS,
      handled,
      finished: rows[0]!.n,
      insertMs,
      handlersMs: handlersAt - start,
      totalMs,
      jobsPerSec: ok ? JOBS / (totalMs / 1000) : rows[0]!.n / (totalMs / 1000),
      timedOut: !ok,
      duplicates,
      detail: [
        cpuLine(nodeMs, db, JOBS),
        stmtLine(sent, JOBS),
        `  daemon.stats: ${JSON.stringify(stats)}`,
        `  statements sent by the daemon's pool during the run (instrumented pool.query):`,
        ...describeKinds(kinds, JOBS),
        `  finished rows kept in xtbatch.batch: ${fmt(rows[0]!.n)} (exit status '' = done: ${fmt(rows[0]!.ok)})`,
      ],
    };
  } finally {
    await xt?.stop().catch(() => undefined);
    await observer.end();
  }
}

export async function gwThroughput(concurrency: number): Promise<ThroughputResult> {
  await recreateBenchDb();
  await migrateGw();
  const t0 = performance.now();
  // add_jobs with one array of 20,000 specs: one statement, one NOTIFY (the fastest documented bulk path).
  await benchQuery(
    `SELECT count(*) FROM graphile_worker.add_jobs(
       (SELECT array_agg(ROW('noop', '{}'::json, NULL, NULL, NULL, NULL, NULL, NULL)::graphile_worker.job_spec)
          FROM generate_series(1, $1::int)))`,
    [JOBS],
  );
  const insertMs = performance.now() - t0;
  await benchQuery(`ANALYZE graphile_worker._private_jobs`);

  let handled = 0;
  const seen = new Set<string>();
  let duplicates = 0;
  const allHandled = signal<number>();
  const observer = benchPool('graphile-worker bench observer', 1);
  let gw: Awaited<ReturnType<typeof startGw>> | null = null;
  try {
    countClientQueries();
    const q0 = clientQueryCounts();
    const cpu0 = process.cpuUsage();
    const start = performance.now();
    gw = await startGw('fast', concurrency, {
      noop: async (_payload, helpers) => {
        if (seen.has(helpers.job.id)) duplicates++;
        seen.add(helpers.job.id);
        if (++handled === JOBS) allHandled.resolve(performance.now());
      },
    });
    const deadline = start + RUN_LIMIT_MS;
    const h = await within(allHandled.promise, RUN_LIMIT_MS);
    const handlersAt = h === 'timeout' ? NaN : h;
    let left = -1;
    const ok = h !== 'timeout' && (await until(async () => {
      const { rows } = await observer.query<{ n: number }>(`SELECT count(*)::int AS n FROM graphile_worker._private_jobs`);
      left = rows[0]!.n;
      return left === 0;
    }, deadline, 2));
    const end = performance.now();
    const nodeMs = nodeCpuMs(cpu0);
    const db = await backendCpuMs((a) => a === GW_APP);
    const sent = countsDelta(q0, clientQueryCounts(), (a) => a === GW_APP).total;
    const totalMs = end - start;
    const { rows } = await observer.query<{ n: number }>(`SELECT count(*)::int AS n FROM graphile_worker._private_jobs`);
    return {
      system: 'graphile-worker',
      concurrency,
      jobs: JOBS,
      handled,
      finished: JOBS - rows[0]!.n,
      insertMs,
      handlersMs: handlersAt - start,
      totalMs,
      jobsPerSec: ok ? JOBS / (totalMs / 1000) : (JOBS - rows[0]!.n) / (totalMs / 1000),
      timedOut: !ok,
      duplicates,
      detail: [`  ${describeGw('fast', concurrency)}`, cpuLine(nodeMs, db, JOBS), stmtLine(sent, JOBS), `  job rows left in graphile_worker._private_jobs: ${rows[0]!.n} (finished jobs are deleted)`],
    };
  } finally {
    await gw?.stop().catch(() => undefined);
    await observer.end();
  }
}

/** A run that lost a job, ran one twice or did not finish is a failure, whatever its rate. */
export function failures(r: ThroughputResult): string[] {
  const out: string[] = [];
  if (r.timedOut) out.push('timed out');
  if (r.duplicates > 0) out.push(`${r.duplicates} job(s) run twice`);
  if (r.handled - r.duplicates < r.jobs) out.push(`${r.jobs - (r.handled - r.duplicates)} job(s) never run (lost)`);
  if (r.finished !== r.jobs) out.push(`${r.jobs - r.finished} job(s) not finished in the database`);
  return out;
}

export async function runThroughput(): Promise<ThroughputResult[]> {
  heading(`1. THROUGHPUT: ${fmt(JOBS)} no-op jobs, concurrency ${CONCURRENCIES.join(' and ')} (limit ${RUN_LIMIT_MS / 1000} s per run)`);
  console.log('Each run: fresh database, bulk insert, ANALYZE, start the worker, time until the database shows every job finished.');
  console.log('NOTE: xtconnect KEEPS finished rows (xTuple reads batch_completed/batch_exitstatus); graphile-worker DELETES them.');
  const results: ThroughputResult[] = [];
  for (const c of CONCURRENCIES) {
    for (const fn of [xtThroughput, gwThroughput]) {
      if (!SYSTEMS.includes(fn === xtThroughput ? 'xtconnect' : 'graphile-worker')) continue;
      const load = os.loadavg()[0]!;
      const r = await fn(c);
      results.push(r);
      console.log(
        `\n${r.system} @ concurrency ${c}: ${fmt(r.jobsPerSec)} jobs/s` +
          `  (all ${fmt(r.jobs)} finished in the DB after ${fmt(r.totalMs)} ms; last handler at ${fmt(r.handlersMs)} ms;` +
          ` bulk insert ${fmt(r.insertMs)} ms; handled ${fmt(r.handled)}, duplicates ${r.duplicates}${r.timedOut ? '; TIMED OUT' : ''};` +
          ` load average before ${fmt(load, 2)})`,
      );
      for (const d of r.detail) console.log(d);
      const wrong = failures(r);
      if (wrong.length > 0) console.log(`  FAILURE: ${wrong.join('; ')}`);
    }
  }
  // The SQL ceiling in the same run: the daemon's claim and finish statements with no client (bench/lib/ceiling.ts).
  let ceiling: Ceiling | null = null;
  if (process.env.BENCH_CEILING !== '0') {
    const load = os.loadavg()[0]!;
    const cs = await measureCeiling(JOBS);
    for (const c of cs) console.log(`
SQL ceiling (pgbench -M prepared, claim 50 + finish 50 per transaction, rows kept), ${c.clients} client(s): ${fmt(c.jobsPerSec)} jobs/s (${fmt(c.finished)} done; load average before ${fmt(load, 2)})`);
    ceiling = cs.reduce((a, b) => (b.jobsPerSec > a.jobsPerSec ? b : a));
  }
  console.log('\nThroughput (jobs/s, start → all finished in the database):');
  console.log(
    table(
      ['concurrency', 'xtconnect', 'graphile-worker (fast)', 'SQL ceiling (best of 1/2/4)', 'xtconnect / GW', 'xtconnect / ceiling', 'failures'],
      CONCURRENCIES.map((c) => {
        const x = results.find((r) => r.system === 'xtconnect' && r.concurrency === c);
        const g = results.find((r) => r.system === 'graphile-worker' && r.concurrency === c);
        const ratio = x && g ? `${fmt(x.jobsPerSec / g.jobsPerSec, 2)}x` : 'n/a';
        const toCeiling = x && ceiling ? `${fmt(x.jobsPerSec / ceiling.jobsPerSec, 2)}x` : 'n/a';
        const wrong = [x, g].filter((r): r is ThroughputResult => !!r && failures(r).length > 0).map((r) => r.system).join(', ') || 'none';
        return [String(c), x ? fmt(x.jobsPerSec) : 'n/a', g ? fmt(g.jobsPerSec) : 'n/a', ceiling ? `${fmt(ceiling.jobsPerSec)} (${ceiling.clients})` : 'n/a', ratio, toCeiling, wrong];
      }),
    ),
  );
  console.log('(xtconnect rows are kept and updated in place; graphile-worker rows are deleted on completion.)');
  return results;
}

if (require.main === module) {
  runThroughput()
    .catch((err) => {
      console.error(err);
      process.exitCode = 1;
    })
    .finally(() => dropBenchDb().catch(() => undefined));
}
