/**
 * The scheduler's cost per minute against the number of active series (issue 3): 1,000 / 10,000 / 50,000 series
 * that are not due (daily series spread over the next day) plus the same 20 minutely series that are, scheduled
 * the way a daemon does (a pass every 30 s, occurrences inserted 60 s ahead), over 10 simulated minutes with an
 * injected clock. Prints statements and milliseconds per minute. Target: flat in the number of series not due.
 *
 * Run: npm run bench:scheduler (or node dist-bench/bench/scheduler.js after tsc -p bench/tsconfig.json).
 */
import { performance } from 'node:perf_hooks';
import { scheduleOnce } from '../src/daemon/scheduler';
import { silentLogger } from '../src/log';
import { clientQueryCounts, countClientQueries, countsDelta } from './lib/count';
import { benchPool, benchQuery, dropBenchDb, migrateXt, recreateBenchDb } from './lib/db';
import { fmt, heading, table } from './lib/util';

const APP = 'xtconnect bench scheduler';
const DUE_SERIES = 20;
const PASS_MS = 30_000;
const MINUTES = 10;

async function seed(notDue: number, t0: Date): Promise<void> {
  // Daily series at minutes spread over the next 24 h from 2 h ahead: none comes due in the 10 simulated minutes.
  await benchQuery(
    `INSERT INTO xtbatch.schedule (schedule_action, schedule_cron, schedule_timezone, schedule_start, schedule_next)
     SELECT 'Noop', format('%s %s * * *', m % 60, (m / 60) % 24), 'UTC', $1::timestamptz,
            $1::timestamptz + interval '2 hours' + make_interval(mins => m % 1320)
       FROM generate_series(1, $2) AS m`,
    [t0, notDue],
  );
  await benchQuery(
    `INSERT INTO xtbatch.schedule (schedule_action, schedule_every_n, schedule_every_unit, schedule_timezone, schedule_start, schedule_next)
     SELECT 'Noop', 1, 'minutes', 'UTC', $1::timestamptz, $1::timestamptz FROM generate_series(1, $2)`,
    [t0, DUE_SERIES],
  );
  await benchQuery('ANALYZE xtbatch.schedule');
}

interface Row {
  series: number;
  queriesPerMin: number;
  msPerMin: number;
  maxPassMs: number;
  inserted: number;
}

async function measure(notDue: number): Promise<Row> {
  await recreateBenchDb();
  await migrateXt();
  const t0 = new Date('2027-01-04T00:00:00Z');
  await seed(notDue, t0);
  const pool = benchPool(APP, 2);
  const log = silentLogger();
  let inserted = 0;
  let totalMs = 0;
  let maxPassMs = 0;
  try {
    // One warm-up pass outside the measurement (plans, caches), as a running daemon would have had.
    inserted += (await scheduleOnce(pool, log, { now: t0, horizonMs: 2 * PASS_MS, graceMs: 60_000 })).inserted;
    const before = clientQueryCounts();
    const passes = (MINUTES * 60_000) / PASS_MS;
    for (let i = 1; i <= passes; i++) {
      const start = performance.now();
      const r = await scheduleOnce(pool, log, { now: new Date(t0.getTime() + i * PASS_MS), horizonMs: 2 * PASS_MS, graceMs: 60_000 });
      const ms = performance.now() - start;
      totalMs += ms;
      maxPassMs = Math.max(maxPassMs, ms);
      inserted += r.inserted;
    }
    const q = countsDelta(before, clientQueryCounts(), (app) => app === APP).total;
    return { series: notDue + DUE_SERIES, queriesPerMin: q / MINUTES, msPerMin: totalMs / MINUTES, maxPassMs, inserted };
  } finally {
    await pool.end();
  }
}

export async function runScheduler(): Promise<Row[]> {
  countClientQueries();
  heading(`scheduler cost per minute: ${DUE_SERIES} minutely series due, the rest not due (pass every ${PASS_MS / 1000} s, ${MINUTES} simulated minutes)`);
  const rows: Row[] = [];
  for (const n of [1_000, 10_000, 50_000]) rows.push(await measure(n));
  await dropBenchDb();
  console.log(table(['active series', 'statements/min', 'ms/min', 'slowest pass ms', 'occurrences inserted'],
    rows.map((r) => [fmt(r.series), fmt(r.queriesPerMin, 1), fmt(r.msPerMin, 1), fmt(r.maxPassMs, 1), fmt(r.inserted)])));
  const base = rows[0]!;
  const big = rows[1]!;
  console.log(`10,000 vs 1,000 series: ${fmt(big.queriesPerMin / base.queriesPerMin, 2)}x statements, ${fmt(big.msPerMin / base.msPerMin, 2)}x time ` +
    `(flat means ~1x: only the ${DUE_SERIES} due series are read, through schedule_due_idx)`);
  return rows;
}

if (require.main === module) {
  runScheduler().catch((err) => {
    console.error(err);
    process.exitCode = 1;
  });
}
