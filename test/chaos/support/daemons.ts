import { writeConfigFile } from '../../support/config';
import { daemonYaml, spawnXt, tempDir, type XtProcess } from '../../support/proc';

export interface ChaosDaemon {
  proc: XtProcess;
  /** The daemon id it writes into batch_locked_by. */
  id: string;
}

export interface ChaosDaemonOptions {
  url: string;
  smtpPort: number;
  leaseSeconds: number;
  concurrency?: number;
  /** More daemon.* keys (they win over the defaults here). */
  daemon?: Record<string, number | string>;
  /** Extra config text appended to the file. */
  extra?: string;
}

/**
 * `xtconnect start` (the built program) as a child process. Retries come back within 1–2 s and a stopping daemon
 * drains for at most 2 s, so a fault and its recovery fit in a test; the lease is the test's.
 */
export async function startChaosDaemon(o: ChaosDaemonOptions): Promise<ChaosDaemon> {
  const dir = tempDir('xtconnect-chaos-');
  const file = writeConfigFile(dir, daemonYaml({
    url: o.url,
    smtpPort: o.smtpPort,
    dataDir: dir,
    daemon: {
      leaseSeconds: o.leaseSeconds,
      concurrency: o.concurrency ?? 10,
      backoffBaseSeconds: 1,
      backoffMaxSeconds: 2,
      drainTimeoutSeconds: 2,
      ...o.daemon,
    },
    extra: o.extra,
  }));
  const proc = spawnXt(['start', '--config', file]);
  const line = await proc.waitForLine(/\[daemon\] daemon \S+ started/, { timeoutMs: 30_000 });
  return { proc, id: /daemon (\S+) started/.exec(line)![1]! };
}

/** SIGTERM, then SIGKILL if it has not exited within `ms`; resolves once it is gone. */
export async function stopDaemon(d: ChaosDaemon, ms = 15_000): Promise<void> {
  if (!d.proc.alive()) return;
  d.proc.signal('SIGCONT');
  d.proc.signal('SIGTERM');
  try {
    await d.proc.waitForExit(ms);
  } catch {
    d.proc.signal('SIGKILL');
    await d.proc.waitForExit(5_000).catch(() => undefined);
  }
}
