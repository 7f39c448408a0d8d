/**
 * CPU accounting for a run on this machine (the server is on loopback, so its backends are local processes):
 * this Node process via process.cpuUsage(), and the PostgreSQL backends serving given application_names via
 * /proc/<pid>/stat (utime + stime, in clock ticks of 10 ms).
 */
import fs from 'node:fs';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import pg from 'pg';
import { adminUrl, BENCH_DB } from './db';

const TICK_MS = 10; // USER_HZ is 100 on Linux

export function procCpuMs(pid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * TICK_MS; // utime, stime (fields 14 and 15 of the line)
  } catch {
    return 0;
  }
}

/** CPU used so far by the bench database's backends whose application_name matches, in ms. */
export async function backendCpuMs(match: (app: string) => boolean): Promise<{ ms: number; backends: number }> {
  const c = new pg.Client({ connectionString: adminUrl(), application_name: 'xtconnect bench cpu' });
  await c.connect();
  try {
    const { rows } = await c.query<{ pid: number; app: string }>(
      `SELECT pid, application_name AS app FROM pg_stat_activity WHERE datname = $1`,
      [BENCH_DB],
    );
    const mine = rows.filter((r) => match(r.app));
    return { ms: mine.reduce((s, r) => s + procCpuMs(r.pid), 0), backends: mine.length };
  } finally {
    await c.end();
  }
}

export function nodeCpuMs(since?: NodeJS.CpuUsage): number {
  const u = process.cpuUsage(since);
  return (u.user + u.system) / 1000;
}

/**
 * CPU used so far by each running process whose executable matches (another server on this machine, such as
 * Postfix, whose daemons rename themselves in their command lines), by pid, in ms. A process that exits between two
 * readings takes its CPU with it, so a delta of two readings counts only the processes alive at the second.
 */
export function processesCpuMs(match: (exe: string) => boolean): Map<number, number> {
  const out = new Map<number, number>();
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let exe: string;
    try {
      exe = fs.readlinkSync(`/proc/${name}/exe`);
    } catch {
      continue; // exited meanwhile, or not ours to read
    }
    if (match(exe)) out.set(Number(name), procCpuMs(Number(name)));
  }
  return out;
}

/**
 * How busy this process's main thread was from now until the returned function is called: the share of the time it
 * ran code (event loop utilization) and how late timers fired (event loop delay, 1 ms resolution). A thread near 1.0,
 * or with delays of milliseconds, answers every socket late, which lengthens each SMTP exchange without the machine's
 * CPU being full.
 */
export function watchMainThread(): () => string {
  const elu0 = performance.eventLoopUtilization();
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  return () => {
    h.disable();
    const elu = performance.eventLoopUtilization(elu0).utilization;
    const ms = (ns: number) => (ns / 1e6).toFixed(1);
    return `main thread busy ${(elu * 100).toFixed(0)} %, event loop delay p50 ${ms(h.percentile(50))} / p99 ${ms(h.percentile(99))} ms`;
  };
}
