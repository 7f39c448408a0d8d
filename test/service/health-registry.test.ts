import os from 'node:os';
import { VERSION } from '../../src/version';
import { testConfig } from '../support/config';
import { startDaemon } from '../support/daemon';
import { databaseSuite } from '../support/suite';
import { waitFor } from '../support/wait';
import type { DaemonRow } from '../../src/db/queries/daemons';

// The daemons table: each daemon registers itself (host, pid, version, started, heartbeat, jobs running, whether
// it claims), keeps it current, and removes itself on a clean exit; rows of daemons killed without a word go
// after a day.

const suite = databaseSuite(`TRUNCATE xtbatch.batch, xtbatch.batchparam, xtbatch.daemon CASCADE`);


async function row(id: string): Promise<DaemonRow | undefined> {
  const { rows } = await suite.db.pool.query<DaemonRow>(`SELECT * FROM xtbatch.daemon WHERE daemon_id = $1`, [id]);
  return rows[0];
}

describe('xtbatch.daemon', () => {
  it('holds each live daemon with its host, pid, version, start, heartbeat and running jobs, and loses it on a clean stop', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const d = await startDaemon(testConfig(suite.db.url), { Hold: async () => gate });
    suite.daemons.push(d);
    const first = (await row(d.daemon.id))!;
    expect(first).toMatchObject({ daemon_host: os.hostname(), daemon_pid: process.pid, daemon_version: VERSION, daemon_running: 0, daemon_claiming: true });

    await suite.db.pool.query(`INSERT INTO xtbatch.batch (batch_action) SELECT 'Hold' FROM generate_series(1, 2)`);
    const busy = await waitFor('the heartbeat to count two running jobs', async () => {
      const r = await row(d.daemon.id);
      return r?.daemon_running === 2 ? r : null;
    });
    expect(busy.daemon_heartbeat.getTime()).toBeGreaterThan(first.daemon_heartbeat.getTime());
    expect(busy.daemon_started).toEqual(first.daemon_started);

    release();
    await waitFor('the heartbeat to count none', async () => (await row(d.daemon.id))?.daemon_running === 0);
    await d.stop();
    expect(await row(d.daemon.id)).toBeUndefined();
  });

  it('drops the rows of daemons that stopped without deregistering once they are a day old', async () => {
    await suite.db.pool.query(
      `INSERT INTO xtbatch.daemon (daemon_id, daemon_host, daemon_pid, daemon_version, daemon_heartbeat)
       VALUES ('killed:1:aaa', 'gone', 1, 'old', now() - interval '2 days'), ('killed:2:bbb', 'gone', 2, 'old', now() - interval '2 hours')`,
    );
    const d = await startDaemon(testConfig(suite.db.url));
    suite.daemons.push(d);
    await waitFor('the day-old row to go', async () => (await row('killed:1:aaa')) === undefined);
    // Recent enough for `status` to show as dead: kept.
    expect(await row('killed:2:bbb')).toBeDefined();
  });
});
