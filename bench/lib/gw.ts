/** graphile-worker 0.17.3 in the two configurations the benchmarks compare against. */
import pg from 'pg';
import { Logger, run, runMigrations, type Runner, type RunnerOptions, type TaskList } from 'graphile-worker';
import { benchUrl } from './db';

export const GW_APP = 'graphile-worker bench';

/** Drops every log line: the benchmark prints its own figures. */
export const quietLogger = new Logger(() => () => undefined);

export type GwMode = 'fast' | 'default';

/**
 * 'fast': the configuration of https://worker.graphile.org/docs/performance ("Quick stats ... achieved with this
 * configuration"): localQueue { size: 500 }, completeJobBatchDelay: 0, failJobBatchDelay: 0, a pool a little larger
 * than the concurrency. Option names checked against node_modules/graphile-worker/dist (0.17.3):
 * preset.worker.localQueue.size, preset.worker.completeJobBatchDelay, preset.worker.failJobBatchDelay
 * (read in dist/main.js), preset.worker.concurrentJobs (= run({ concurrency })).
 *
 * 'default': no local queue, no batched completion, pollInterval 2000 ms (the defaults), LISTEN as always.
 */
export function gwPreset(mode: GwMode): RunnerOptions['preset'] {
  return mode === 'fast'
    ? { worker: { localQueue: { size: 500 }, completeJobBatchDelay: 0, failJobBatchDelay: 0 } }
    : { worker: {} };
}

/** The pool size graphile-worker's docs recommend: 10 or concurrency + 2, whichever is larger. */
export function gwPoolSize(concurrency: number): number {
  return Math.max(10, concurrency + 2);
}

/** Installs graphile-worker's schema in the bench database (so jobs can be added before the worker starts). */
export async function migrateGw(): Promise<void> {
  await runMigrations({ connectionString: benchUrl('graphile-worker bench migrate'), logger: quietLogger });
}

export interface GwRun {
  runner: Runner;
  pool: pg.Pool;
  stop(): Promise<void>;
}

export async function startGw(mode: GwMode, concurrency: number, taskList: TaskList): Promise<GwRun> {
  const pool = new pg.Pool({ connectionString: benchUrl(), application_name: GW_APP, max: gwPoolSize(concurrency) });
  // Handlers graphile-worker asks for on a pool it is given (it warns otherwise).
  pool.on('error', () => undefined);
  pool.on('connect', (client) => client.on('error', () => undefined));
  const runner = await run(
    {
      pgPool: pool,
      concurrency,
      noHandleSignals: true,
      logger: quietLogger,
      taskList,
      preset: gwPreset(mode),
    },
    undefined,
    [],
  );
  return {
    runner,
    pool,
    stop: async () => {
      await runner.stop();
      await pool.end();
    },
  };
}

export function describeGw(mode: GwMode, concurrency: number): string {
  return mode === 'fast'
    ? `graphile-worker 0.17.3 (fast: concurrency ${concurrency}, localQueue.size 500, completeJobBatchDelay 0, failJobBatchDelay 0, pool ${gwPoolSize(concurrency)})`
    : `graphile-worker 0.17.3 (defaults: concurrency ${concurrency}, no localQueue, no batched completion, pollInterval 2000 ms, pool ${gwPoolSize(concurrency)})`;
}
