/**
 * The settle time's cost (docs/xtuple.md "Settle time", issue 17): how long after its batch_settle_until a job
 * held back for its parameters starts. 20 jobs, one every 500 ms, each inserted with batch_settle_until two
 * seconds ahead (as submitActionToBatch sets it), so several settle at once; the daemon with its production
 * defaults (poll 3 s, LISTEN). Printed: the delay from batch_settle_until to batch_started, by the server's clock.
 *
 *   node dist-bench/bench/settle.js
 */
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { benchPool, dropBenchDb, migrateXt, recreateBenchDb } from './lib/db';
import { fmt, percentile, sleep, until } from './lib/util';
import { startXt } from './lib/xt';

const JOBS = Number(process.env.BENCH_SETTLE_JOBS ?? 20);

async function main(): Promise<void> {
  await recreateBenchDb();
  await migrateXt();
  const load = os.loadavg();
  const db = benchPool('xtconnect bench settle', 1);
  const xt = await startXt(10, { Noop: async () => undefined });
  try {
    for (let i = 0; i < JOBS; i++) {
      await db.query(`INSERT INTO xtbatch.batch (batch_action, batch_settle_until) VALUES ('Noop', now() + interval '2 seconds')`);
      await sleep(500);
    }
    const ok = await until(async () => {
      const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM xtbatch.batch WHERE batch_completed IS NULL`);
      return rows[0]!.n === 0;
    }, performance.now() + 60_000, 50);
    const { rows } = await db.query<{ late: number }>(
      `SELECT extract(epoch FROM batch_started::timestamptz - batch_settle_until)::float8 * 1000 AS late FROM xtbatch.batch WHERE batch_started IS NOT NULL ORDER BY 1`);
    const late = rows.map((r) => r.late);
    const early = late.filter((l) => l < 0).length;
    console.log(`settle time: ${late.length} of ${JOBS} jobs started${ok ? '' : ' (TIMED OUT)'}; start after batch_settle_until: ` +
      `p50 ${fmt(percentile(late, 50))} ms, p95 ${fmt(percentile(late, 95))} ms, max ${fmt(late[late.length - 1] ?? NaN)} ms; ` +
      `${early ? `FAILURE: ${early} started before it; ` : ''}load average ${load.map((l) => fmt(l, 2)).join(' ')}`);
  } finally {
    await xt.stop();
    await db.end();
  }
}

if (require.main === module) {
  main()
    .catch((err) => {
      console.error(err);
      process.exitCode = 1;
    })
    .finally(() => dropBenchDb().catch(() => undefined));
}
