/** Starting an in-process xtconnect Daemon for a benchmark, with its production defaults. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, type Config } from '../../src/config';
import { Daemon } from '../../src/daemon/loop';
import { createPool } from '../../src/db/pool';
import { defaultHandlers, type Handler } from '../../src/handlers';
import { createLogger, silentLogger } from '../../src/log';
import { createMailer } from '../../src/mail/transport';
import { benchUrl } from './db';
import { instrumentPool, type PoolInstrument } from './count';

export const XT_APP = 'xtconnect bench daemon';

/**
 * The config a fresh install runs with (loadConfig's defaults: poll every 3 s, LISTEN on, pool of 10, lease 60 s,
 * maintenance every 15 s), read from an empty file so that no /etc/xtconnect file or environment variable leaks in,
 * pointed at the bench database, with `concurrency` jobs at once.
 */
export function benchConfig(concurrency: number): Config {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'xtconnect-bench-'));
  const file = path.join(dataDir, 'xtconnect.yaml');
  fs.writeFileSync(file, '');
  const base = loadConfig({ config: file }, { HOME: os.homedir() } as NodeJS.ProcessEnv);
  return {
    ...base,
    source: 'bench',
    dataDir,
    outboxDir: path.join(dataDir, 'outbox'),
    spoolDir: path.join(dataDir, 'spool'),
    database: { ...base.database, url: benchUrl(), embedded: false },
    daemon: { ...base.daemon, concurrency },
  };
}

export interface XtRun {
  daemon: Daemon;
  cfg: Config;
  inst: PoolInstrument;
  stop(): Promise<void>;
}

/**
 * A daemon with a pool of its own whose query() is instrumented, and the given extra handlers. `jobPool`: the
 * handlers get a pool of their own, as `xtconnect start` gives them (src/cli/commands/start.ts).
 */
export async function startXt(concurrency: number, extra: Record<string, Handler>, opts: { jobPool?: boolean } = {}): Promise<XtRun> {
  const cfg = benchConfig(concurrency);
  // BENCH_LOG_LEVEL: the production logger (text format) at that level, its lines thrown away, instead of a
  // silent one: what the daemon's per-job lines cost at a level that drops them (warn) or keeps them (info).
  const level = process.env.BENCH_LOG_LEVEL;
  const log = level
    ? createLogger({ log: { ...cfg.log, level: level as Config['log']['level'], file: null } }, {}, { stderr: fs.createWriteStream('/dev/null') })
    : silentLogger();
  const pool = createPool({ url: cfg.database.url, max: cfg.database.poolSize, statementTimeoutMs: cfg.database.statementTimeoutMs, applicationName: XT_APP }, log);
  const jobPool = opts.jobPool
    ? createPool({ url: cfg.database.url, max: cfg.database.poolSize, statementTimeoutMs: cfg.database.statementTimeoutMs, applicationName: XT_JOBS_APP }, log)
    : undefined;
  const inst = instrumentPool(pool);
  const daemon = new Daemon({ cfg, pool, jobPool, log, handlers: defaultHandlers(extra), services: { mailer: createMailer(cfg) }, ownsPool: true });
  await daemon.start();
  return {
    daemon,
    cfg,
    inst,
    stop: async () => {
      await daemon.stop(5_000);
      fs.rmSync(cfg.dataDir, { recursive: true, force: true });
    },
  };
}

export const XT_JOBS_APP = 'xtconnect bench jobs';
