"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.heartbeatDaemon = heartbeatDaemon;
exports.removeDaemon = removeDaemon;
exports.forgetDeadDaemons = forgetDeadDaemons;
/** Registers the daemon or refreshes its heartbeat; one statement, also the daemon's liveness signal. */
async function heartbeatDaemon(pool, d, running, claiming) {
    await pool.query(`INSERT INTO xtbatch.daemon (daemon_id, daemon_host, daemon_pid, daemon_version, daemon_running, daemon_claiming)
     VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (daemon_id) DO UPDATE
       SET daemon_heartbeat = now(), daemon_running = EXCLUDED.daemon_running, daemon_claiming = EXCLUDED.daemon_claiming`, [d.id, d.host, d.pid, d.version, running, claiming]);
}
async function removeDaemon(pool, id) {
    await pool.query(`DELETE FROM xtbatch.daemon WHERE daemon_id = $1`, [id]);
}
/** Rows of daemons that stopped without saying so are kept a day for status, then dropped. */
async function forgetDeadDaemons(pool) {
    const { rowCount } = await pool.query(`DELETE FROM xtbatch.daemon WHERE daemon_heartbeat < now() - interval '1 day'`);
    return rowCount ?? 0;
}
//# sourceMappingURL=daemons.js.map