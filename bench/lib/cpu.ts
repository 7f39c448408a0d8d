/**
 * CPU accounting for a run on this machine (the server is on loopback, so its backends are local processes):
 * this Node process via process.cpuUsage(), and the PostgreSQL backends serving given application_names via
 * /proc/<pid>/stat (utime + stime, in clock ticks of 10 ms).
 */
import fs from 'node:fs';
import pg from 'pg';
import { adminUrl, BENCH_DB } from './db';

const TICK_MS = 10; // USER_HZ is 100 on Linux

function procCpuMs(pid: number): number {
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
