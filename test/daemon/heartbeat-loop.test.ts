import { testConfig } from '../support/config';
import { startDaemon } from '../support/daemon';
import { databaseSuite } from '../support/suite';
import { waitFor } from '../support/wait';

// The console's Daemons page shows, besides each daemon's heartbeat, when its claim loop last made a pass and
// whether it starts jobs on NOTIFY or by polling; the heartbeat writes both into xtbatch.daemon.
const suite = databaseSuite(`TRUNCATE xtbatch.batch, xtbatch.batchparam, xtbatch.daemon CASCADE`);

it('the heartbeat records the claim loop\'s last pass and the LISTEN mode', async () => {
  const d = await startDaemon(testConfig(suite.db.url));
  suite.daemons.push(d);
  const row = await waitFor('the daemon row with its last pass and mode', async () => {
    const { rows } = await suite.db.pool.query<{ last_poll: Date | null; mode: string | null; heartbeat: Date }>(
      `SELECT daemon_last_poll AS last_poll, daemon_listen_mode AS mode, daemon_heartbeat AS heartbeat FROM xtbatch.daemon`);
    const r = rows[0];
    return r && r.last_poll && r.mode === 'notify' ? r : null;
  }, 15_000);
  // A pass within the last few poll intervals, stamped on the server's clock, never after the heartbeat.
  expect(row.last_poll!.getTime()).toBeLessThanOrEqual(row.heartbeat.getTime());
  expect(row.heartbeat.getTime() - row.last_poll!.getTime()).toBeLessThan(5_000);
});
