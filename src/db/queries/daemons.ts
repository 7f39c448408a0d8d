import type { Pool } from '../pool';

export interface DaemonInfo {
  id: string;
  host: string;
  pid: number;
  version: string;
}

/** Registers the daemon or refreshes its heartbeat; one statement, also the daemon's liveness signal. */
export async function heartbeatDaemon(pool: Pool, d: DaemonInfo, running: number, claiming: boolean): Promise<void> {
  await pool.query(
    `INSERT INTO xtbatch.daemon (daemon_id, daemon_host, daemon_pid, daemon_version, daemon_running, daemon_claiming)
     VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (daemon_id) DO UPDATE
       SET daemon_heartbeat = now(), daemon_running = EXCLUDED.daemon_running, daemon_claiming = EXCLUDED.daemon_claiming`,
    [d.id, d.host, d.pid, d.version, running, claiming],
  );
}

export async function removeDaemon(pool: Pool, id: string): Promise<void> {
  await pool.query(`DELETE FROM xtbatch.daemon WHERE daemon_id = $1`, [id]);
}

/** Rows of daemons that stopped without saying so are kept a day for status, then dropped. */
export async function forgetDeadDaemons(pool: Pool): Promise<number> {
  const { rowCount } = await pool.query(`DELETE FROM xtbatch.daemon WHERE daemon_heartbeat < now() - interval '1 day'`);
  return rowCount ?? 0;
}
