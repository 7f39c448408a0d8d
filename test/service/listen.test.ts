import { testConfig } from '../support/config';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { databaseSuite } from '../support/suite';
import { waitFor } from '../support/wait';
import { captureLogger, messages, startServedDaemon, type ServedDaemon } from './support';

// Through PgBouncer in transaction mode LISTEN "works" but no notification ever arrives. The daemon finds out
// with a probe NOTIFY sent through its normal pool, says which mode it is in, and falls back to polling. A LISTEN
// connection to a different database behaves exactly the same way (NOTIFY is per database), so that is the test.

const suite = databaseSuite(`TRUNCATE xtbatch.batch, xtbatch.batchparam, xtbatch.daemon CASCADE`);
const served: ServedDaemon[] = [];
let other: TestDatabase;
beforeAll(async () => {
  other = await createTestDatabase();
});
afterEach(async () => {
  await Promise.all(served.splice(0).map((s) => s.stop()));
});
afterAll(async () => {
  await other.drop();
});

async function insertNoops(n: number): Promise<void> {
  await suite.db.pool.query(`INSERT INTO xtbatch.batch (batch_action) SELECT 'Noop' FROM generate_series(1, $1)`, [n]);
}

async function finished(): Promise<number> {
  const { rows } = await suite.db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM xtbatch.batch WHERE batch_completed IS NOT NULL`);
  return rows[0]!.n;
}

/** The same connection string with a password in it, which must never reach the log. */
function withPassword(url: string): string {
  const u = new URL(url);
  u.password = 'sekret-listen-pw';
  return u.toString();
}

describe('LISTEN/NOTIFY delivery', () => {
  it('logs that jobs start on NOTIFY when the probe comes back, and they start long before the next poll', async () => {
    const { log, lines } = captureLogger();
    const listenUrl = withPassword(suite.db.url);
    const s = await startServedDaemon(
      testConfig(suite.db.url, { database: { listenUrl }, daemon: { pollIntervalMs: 600_000 } }),
      { Noop: async () => null },
      { log, daemon: { listenUrl } },
    );
    served.push(s);
    const line = await waitFor('the NOTIFY line', () => messages(lines).find((m) => m.includes('jobs start on NOTIFY')));
    expect(line).toBe(`LISTEN on ${suite.db.url.replace('postgres@', 'postgres:***@')}: jobs start on NOTIFY`);
    expect(s.daemon.health().listenMode).toBe('notify');

    await insertNoops(3);
    // The poll timer is 10 minutes away: only the NOTIFY can start these within the wait.
    await waitFor('the jobs to run on NOTIFY', async () => (await finished()) === 3, 10_000);
    expect(lines.join('\n')).not.toContain('sekret-listen-pw');
  });

  it('falls back to polling when LISTEN receives nothing, says so with the connection redacted, and jobs still run', async () => {
    const { log, lines } = captureLogger();
    const listenUrl = withPassword(other.url);
    const s = await startServedDaemon(
      testConfig(suite.db.url, { database: { listenUrl }, daemon: { pollIntervalMs: 200 } }),
      { Noop: async () => null },
      { log, daemon: { listenUrl, listenProbeMs: 500 } },
    );
    served.push(s);
    const line = await waitFor('the polling line', () => messages(lines).find((m) => m.includes('receives no notifications')));
    expect(line).toBe(
      `LISTEN on ${other.url.replace('postgres@', 'postgres:***@')} receives no notifications (PgBouncer in transaction mode?): ` +
        `polling every 200 ms; set database.listenUrl to a direct connection`,
    );
    expect(lines.find((l) => l.includes('receives no notifications'))).toMatch(/"level":"warn"/);
    expect(s.daemon.health().listenMode).toBe('polling');

    await insertNoops(5);
    await waitFor('the jobs to run by polling', async () => (await finished()) === 5);
    // The heartbeat probes again while polling; the mode is logged only when it changes.
    const probesBefore = lines.length;
    await waitFor('another heartbeat or two', () => s.daemon.stats.polls > 10);
    expect(messages(lines.slice(probesBefore)).filter((m) => m.includes('receives no notifications'))).toEqual([]);
    expect(lines.join('\n')).not.toContain('sekret-listen-pw');
  });
});
