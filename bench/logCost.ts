/**
 * What the daemon's per-job log lines cost (issue 17): the production text logger writing to /dev/null, at the
 * level given (BENCH_LOG_LEVEL, default warn), the runner's calls for one job repeated 100,000 times after a
 * 20,000-job warm-up; CPU per job by process.cpuUsage.
 *
 *   BENCH_LOG_LEVEL=info node dist-bench/bench/logCost.js
 *
 * The "before" figure (a winston child per job, `claimed` and `done` at info) is the same loop with the calls the
 * runner made before: `log.child({...}).info('claimed ...'); child.info('done ...')`, run with the previous
 * tree's src/log.ts.
 */
import fs from 'node:fs';
import os from 'node:os';
import { createLogger, logIf } from '../src/log';

const level = (process.env.BENCH_LOG_LEVEL ?? 'warn') as 'warn' | 'info' | 'debug' | 'error';
const log = createLogger({ log: { level, format: 'text', file: null, maxSizeMb: 1, maxFiles: 1 } } as never, {}, { stderr: fs.createWriteStream('/dev/null') });
const N = 100_000;

/** As src/daemon/runner.ts logs one no-op job: `claimed` at debug, `done` at info, both only when on. */
function oneJob(i: number): void {
  const meta = { scope: 'job', batchId: i, action: 'Noop' };
  if (log.isLevelEnabled('debug')) logIf(log, 'debug', 'claimed (attempt 1)', meta);
  if (log.isLevelEnabled('info')) logIf(log, 'info', 'done in 0 ms', meta);
}

/** As the runner did before issue 17. */
function oneJobBefore(i: number): void {
  const child = log.child({ scope: 'job', batchId: i, action: 'Noop' });
  child.info('claimed (attempt 1)');
  child.info('done in 0 ms');
}

const f = process.env.BENCH_LOG_STYLE === 'before' ? oneJobBefore : oneJob;
for (let i = 0; i < 20_000; i++) f(i);
const c0 = process.cpuUsage();
for (let i = 0; i < N; i++) f(i);
const c = process.cpuUsage(c0);
console.log(`log cost per job at level ${level} (${f === oneJob ? 'now' : 'calls as before'}): ${((c.user + c.system) / N).toFixed(2)} µs CPU; ` +
  `load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
