/**
 * The SQL ceilings on their own (bench/lib/ceiling.ts): node dist-bench/bench/ceiling.js
 *
 * Beside graphile-worker's fastest setting in the same run (BENCH_CEILING_GW=0 leaves it out), the ceiling of each
 * design in BENCH_CEILING_DESIGNS (default both): the daemon's own statements ('kept', two row versions a job) and
 * one row version a job ('one-version', a design not built). Issue 17 asks for 1.5x graphile-worker's rate; a
 * ceiling has no client work at all, so a daemon of that design runs below it.
 */
import os from 'node:os';
import { dropBenchDb } from './lib/db';
import { measureCeiling, type CeilingDesign } from './lib/ceiling';
import { CONCURRENCIES, gwThroughput } from './throughput';
import { fmt, table } from './lib/util';

const JOBS = Number(process.env.BENCH_JOBS ?? 20_000);
const DESIGNS = (process.env.BENCH_CEILING_DESIGNS ?? 'kept,one-version').split(',') as CeilingDesign[];

const DESCRIBE: Record<CeilingDesign, string> = {
  kept: "the daemon's claim + finish (two row versions a job)",
  'one-version': 'lock + done in one transaction (one row version a job; not built)',
};

async function main(): Promise<void> {
  for (const d of DESIGNS) if (!(d in DESCRIBE)) throw new Error(`BENCH_CEILING_DESIGNS: unknown design "${d}" (kept, one-version)`);
  const load = os.loadavg();
  console.log(`load average before ${load.map((l) => fmt(l, 2)).join(' ')}, ${fmt(JOBS)} jobs a run`);
  let gw = 0;
  if (process.env.BENCH_CEILING_GW !== '0') {
    for (const c of CONCURRENCIES) {
      const r = await gwThroughput(c);
      console.log(`graphile-worker (fast) @ concurrency ${c}: ${fmt(r.jobsPerSec)} jobs/s`);
      gw = Math.max(gw, r.jobsPerSec);
    }
  }
  const rows: string[][] = [];
  for (const design of DESIGNS) {
    const runs = await measureCeiling(JOBS, [1, 2, 4], design);
    for (const c of runs) {
      console.log(`SQL ceiling, ${design}: ${c.clients} client(s) ${fmt(c.jobsPerSec)} jobs/s (${fmt(c.finished)} of ${fmt(JOBS)} done)`);
      if (c.finished !== JOBS) console.log(`FAILURE: ${design} at ${c.clients} client(s) finished ${c.finished} of ${JOBS} jobs`);
    }
    const best = runs.reduce((a, b) => (b.jobsPerSec > a.jobsPerSec ? b : a));
    rows.push([
      DESCRIBE[design], `${fmt(best.jobsPerSec)} (${best.clients})`,
      gw ? `${fmt(best.jobsPerSec / gw, 2)}x` : '-', gw ? `${fmt(best.jobsPerSec / (1.5 * gw), 2)}x` : '-',
    ]);
  }
  console.log('');
  console.log(table(['design', 'ceiling jobs/s (clients)', '/ GW fast (best C)', '/ 1.5x GW (issue 17)'], rows));
}

if (require.main === module) {
  main()
    .catch((err) => {
      console.error(err);
      process.exitCode = 1;
    })
    .finally(() => dropBenchDb().catch(() => undefined));
}
