/**
 * Runs every benchmark in turn (throughput, latency, idle cost) against the local PostgreSQL, then prints a summary
 * against the targets. Figures only: nothing here fails on a missed target. The bench database is dropped at the end.
 */
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { BENCH_DB, dropBenchDb, serverInfo } from './lib/db';
import { runIdle } from './idle';
import { runLatency } from './latency';
import { runThroughput } from './throughput';
import { fmt, heading, table } from './lib/util';

/** Whole-run guard: the benchmarks bound themselves; this stops a wedged run. */
const TOTAL_LIMIT_MS = Number(process.env.BENCH_TOTAL_LIMIT_MS ?? 15 * 60_000);

async function main(): Promise<void> {
  const t0 = performance.now();
  const info = await serverInfo();
  heading('xtconnect benchmarks');
  console.log(`server: ${info.version}; fsync=${info.fsync} synchronous_commit=${info.syncCommit} max_connections=${info.maxConnections} shared_preload_libraries='${info.preload}'`);
  console.log(`node ${process.version}, ${os.cpus().length} CPU(s), load average ${os.loadavg().map((l) => fmt(l, 2)).join(' ')}; database ${BENCH_DB} (created and dropped for every run)`);

  const tp = await runThroughput();
  const lat = await runLatency();
  const idle = await runIdle();

  heading('SUMMARY against targets');
  const rows: string[][] = [];
  for (const c of [...new Set(tp.map((r) => r.concurrency))]) {
    const x = tp.find((r) => r.system === 'xtconnect' && r.concurrency === c);
    const g = tp.find((r) => r.system === 'graphile-worker' && r.concurrency === c);
    if (!x || !g) continue;
    const note = `${fmt(x.jobsPerSec / g.jobsPerSec, 2)}x GW${x.timedOut ? ' (xtconnect TIMED OUT)' : ''}`;
    // Issue 17's target: at least 1.5x graphile-worker in its fastest documented setting, finished rows kept.
    rows.push([`throughput, concurrency ${c} (jobs/s)`, `>= 1.5x GW fast (${fmt(1.5 * g.jobsPerSec)})`, fmt(x.jobsPerSec), note, !x.timedOut && x.jobsPerSec >= 1.5 * g.jobsPerSec ? 'MET' : 'MISSED']);
  }
  const floor = lat[0]!;
  const xl = lat[1]!;
  rows.push(['insert-to-start p50 (ms)', '< 2', fmt(xl.p50, 2), `p95 ${fmt(xl.p95, 2)}, p99 ${fmt(xl.p99, 2)}; floor p50 ${fmt(floor.p50, 2)}; GW default ${fmt(lat[2]!.p50, 2)}, GW fast ${fmt(lat[3]!.p50, 2)}`, xl.p50 < 2 ? 'MET' : 'MISSED']);
  const xi = idle[0]!;
  rows.push(['idle statements/s (client count)', '<= 0.5', fmt(xi.perSecond.client, 3), `server xact/s ${fmt(xi.perSecond.server, 3)}; GW default ${fmt(idle[1]!.perSecond.client, 3)}, GW fast ${fmt(idle[2]!.perSecond.client, 3)}`, xi.perSecond.client <= 0.5 ? 'MET' : 'MISSED']);
  console.log(table(['measure (xtconnect)', 'target', 'measured', 'context', 'result'], rows));
  console.log('\nxtconnect keeps every finished job row (xTuple needs them); graphile-worker deletes its finished jobs.');
  console.log(`load average at the end ${os.loadavg().map((l) => fmt(l, 2)).join(' ')} (figures are only comparable between runs on an otherwise idle machine)`);
  console.log(`total bench time ${fmt((performance.now() - t0) / 1000, 1)} s`);
}

const guard = setTimeout(() => {
  console.error(`bench: exceeded ${TOTAL_LIMIT_MS / 1000} s, stopping`);
  void dropBenchDb().finally(() => process.exit(2));
}, TOTAL_LIMIT_MS);

main()
  .catch((err) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(async () => {
    await dropBenchDb().catch(() => undefined);
    clearTimeout(guard);
  });
