import type { Pool } from '../pool';

export interface DaemonInfo {
  id: string;
  host: string;
  pid: number;
  version: string;
}

/**
 * Registers the daemon or refreshes its heartbeat (and its count of running jobs, and whether it claims), and
 * returns the schema version in the same round trip: the daemon's liveness signal and its check that no newer
 * xtconnect migrated the database past it.
 */
export async function heartbeatDaemon(pool: Pool, d: DaemonInfo, running: number, claiming: boolean,
  loop: { lastPollAgoMs: number | null; listenMode: string | null } = { lastPollAgoMs: null, listenMode: null }): Promise<{ schemaVersion: number }> {
  const { rows } = await pool.query<{ schema_version: number | null }>(
    `WITH beat AS (
       INSERT INTO xtbatch.daemon (daemon_id, daemon_host, daemon_pid, daemon_version, daemon_running, daemon_claiming,
                                   daemon_last_poll, daemon_listen_mode)
       VALUES ($1, $2, $3, $4, $5, $6, now() - make_interval(secs => $7::float8 / 1000), $8)
       ON CONFLICT (daemon_id) DO UPDATE
         SET daemon_heartbeat = now(), daemon_running = EXCLUDED.daemon_running, daemon_claiming = EXCLUDED.daemon_claiming,
             daemon_last_poll = EXCLUDED.daemon_last_poll, daemon_listen_mode = EXCLUDED.daemon_listen_mode
       RETURNING 1
     )
     SELECT (SELECT max(migration_version) FROM xtbatch.xtconnect_migration) AS schema_version`,
    // How long ago by this side's clock, placed on the server's: the two clocks are never compared.
    [d.id, d.host, d.pid, d.version, running, claiming, loop.lastPollAgoMs, loop.listenMode],
  );
  return { schemaVersion: rows[0]?.schema_version ?? 0 };
}

export async function removeDaemon(pool: Pool, id: string): Promise<void> {
  await pool.query(`DELETE FROM xtbatch.daemon WHERE daemon_id = $1`, [id]);
}

/** Rows of daemons that stopped without saying so are kept a day for status, then dropped. */
export async function forgetDeadDaemons(pool: Pool): Promise<number> {
  const { rowCount } = await pool.query(`DELETE FROM xtbatch.daemon WHERE daemon_heartbeat < now() - interval '1 day'`);
  return rowCount ?? 0;
}

export interface DaemonRow {
  daemon_id: string;
  daemon_host: string;
  daemon_pid: number;
  daemon_version: string;
  daemon_started: Date;
  daemon_heartbeat: Date;
  daemon_running: number;
  daemon_claiming: boolean;
}

export async function listDaemons(pool: Pool): Promise<DaemonRow[]> {
  const { rows } = await pool.query<DaemonRow>(`SELECT * FROM xtbatch.daemon ORDER BY daemon_started, daemon_id`);
  return rows;
}
