/** The SQL ceiling on its own (bench/lib/ceiling.ts): node dist-bench/bench/ceiling.js */
import os from 'node:os';
import { dropBenchDb } from './lib/db';
import { measureCeiling } from './lib/ceiling';
import { fmt } from './lib/util';

const JOBS = Number(process.env.BENCH_JOBS ?? 20_000);

if (require.main === module) {
  (async () => {
    const load = os.loadavg();
    for (const c of await measureCeiling(JOBS)) {
      console.log(`SQL ceiling (pgbench, claim ${process.env.BENCH_CEILING_BATCH ?? 50} + finish, rows kept), ${c.clients} client(s): ` +
        `${fmt(c.jobsPerSec)} jobs/s (${fmt(c.finished)} of ${fmt(JOBS)} done; load average before ${load.map((l) => fmt(l, 2)).join(' ')})`);
    }
  })()
    .catch((err) => {
      console.error(err);
      process.exitCode = 1;
    })
    .finally(() => dropBenchDb().catch(() => undefined));
}
