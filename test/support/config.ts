import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, type Config } from '../../src/config';
import { tempDir } from './tempDirs';

type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? (T[K] extends unknown[] ? T[K] : DeepPartial<T[K]>) : T[K] };

/**
 * A Config for in-process daemons: the defaults from loadConfig with no file and no environment, pointed at `url`,
 * with short intervals so tests finish quickly, then `over` applied section by section.
 */
export function testConfig(url: string, over: DeepPartial<Config> = {}): Config {
  const dataDir = tempDir('xtconnect-test-');
  const base = loadConfig({ config: undefined }, { HOME: os.homedir(), XTCONNECT_CONFIG: undefined } as NodeJS.ProcessEnv);
  const cfg: Config = {
    ...base,
    source: 'test',
    dataDir,
    outboxDir: path.join(dataDir, 'outbox'),
    spoolDir: path.join(dataDir, 'spool'),
    inboxDir: path.join(dataDir, 'inbox'),
    // Tests keep their files in temporary folders; one test narrows this to prove the restriction.
    fileRoots: [path.join(dataDir, 'spool'), path.join(dataDir, 'inbox'), os.tmpdir()],
    database: { ...base.database, url, embedded: false, poolSize: 10 },
    daemon: { ...base.daemon, pollIntervalMs: 200, leaseSeconds: 5, backoffBaseSeconds: 0, backoffMaxSeconds: 0, drainTimeoutSeconds: 5, maintenanceIntervalSeconds: 1 },
  };
  for (const [k, v] of Object.entries(over)) {
    const cur = (cfg as unknown as Record<string, unknown>)[k];
    (cfg as unknown as Record<string, unknown>)[k] = v && typeof v === 'object' && !Array.isArray(v) && cur && typeof cur === 'object' ? { ...cur, ...v } : v;
  }
  return cfg;
}

/** Writes a YAML config file for a daemon started as a separate process. */
export function writeConfigFile(dir: string, yaml: string): string {
  const file = path.join(dir, 'xtconnect.yaml');
  fs.writeFileSync(file, yaml);
  return file;
}
