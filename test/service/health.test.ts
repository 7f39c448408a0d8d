import pg from 'pg';
import type { HealthBody } from '../../src/service/http';
import { testConfig } from '../support/config';
import { databaseSuite } from '../support/suite';
import { startTcpProxy } from '../support/tcpProxy';
import { waitFor } from '../support/wait';
import { get, sample, scrape, startServedDaemon, type ServedDaemon } from './support';

// /healthz is liveness (the claim loop turns), /readyz (or /healthz?ready) readiness (the database answers and
// this daemon claims). JSON bodies with the reasons; 200 or 503.

const suite = databaseSuite(
  `TRUNCATE xtbatch.batch, xtbatch.batchparam, xtbatch.daemon CASCADE; SELECT xtbatch.setsetting('EnableBatchManager', 't')`,
);
const served: ServedDaemon[] = [];
afterEach(async () => {
  await Promise.all(served.splice(0).map((s) => s.stop()));
});

async function health(s: ServedDaemon, path: string): Promise<{ status: number; body: HealthBody }> {
  const r = await get(s.server, path);
  expect(r.headers['content-type']).toBe('application/json; charset=utf-8');
  return { status: r.status, body: JSON.parse(r.body) as HealthBody };
}

describe('/healthz and /readyz', () => {
  it('are 200 with no reasons for a daemon that claims, and say how jobs start', async () => {
    const s = await startServedDaemon(testConfig(suite.db.url), {});
    served.push(s);
    await waitFor('the first claim pass', () => s.daemon.lastPollAt > 0);
    const live = await health(s, '/healthz');
    expect(live.status).toBe(200);
    expect(live.body).toMatchObject({ status: 'ok', check: 'live', daemon: s.daemon.id, reasons: [], claiming: true, running: 0 });
    const ready = await health(s, '/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body).toMatchObject({ status: 'ok', check: 'ready', reasons: [] });
    expect((await health(s, '/healthz?ready')).body.check).toBe('ready');
    await waitFor('the LISTEN probe to answer', async () => (await health(s, '/readyz')).body.listen === 'notify');
  });

  it('fail readiness, not liveness, while EnableBatchManager is off', async () => {
    await suite.db.pool.query(`SELECT xtbatch.setsetting('EnableBatchManager', 'f')`);
    const s = await startServedDaemon(testConfig(suite.db.url), {});
    served.push(s);
    await waitFor('the first claim pass', () => s.daemon.lastPollAt > 0);
    const ready = await health(s, '/readyz');
    expect(ready.status).toBe(503);
    expect(ready.body).toMatchObject({ status: 'fail', claiming: false, reasons: ['EnableBatchManager is off: claiming no jobs'] });
    expect((await health(s, '/healthz')).status).toBe(200);

    await suite.db.pool.query(`SELECT xtbatch.setsetting('EnableBatchManager', 't')`);
    await waitFor('readiness once it is on again (NOTIFY)', async () => (await health(s, '/readyz')).status === 200);
  });

  it('fail readiness while the database is unreachable, keep liveness, and count the database errors', async () => {
    const u = new URL(suite.db.url);
    const proxy = await startTcpProxy({ host: u.hostname, port: Number(u.port) });
    suite.servers.push(proxy);
    const s = await startServedDaemon(testConfig(proxy.url(suite.db.url), { database: { listenUrl: suite.db.url } }), {}, { queueCacheMs: 0 });
    served.push(s);
    await waitFor('the first claim pass', () => s.daemon.lastPollAt > 0);
    expect((await health(s, '/readyz')).status).toBe(200);

    await proxy.cut();
    const down = await waitFor('readiness to fail', async () => {
      const r = await health(s, '/readyz');
      return r.status === 503 ? r : null;
    });
    expect(down.body.reasons.some((r) => r.startsWith('database unreachable: '))).toBe(true);
    expect((await health(s, '/healthz')).status).toBe(200);
    const m = await waitFor('a failed claim to be counted', async () => {
      const f = await scrape(s.server);
      return (sample(f, 'xtconnect_database_errors_total') ?? 0) > 0 ? f : null;
    });
    // The queue is unknown, not empty.
    expect(sample(m, 'xtconnect_queue_up')).toBe(0);
    expect(sample(m, 'xtconnect_queue_due_jobs')).toBeNaN();

    proxy.restore();
    await waitFor('readiness once the database is back', async () => (await health(s, '/readyz')).status === 200, 30_000);
  });

  it('fail liveness when the claim loop is stuck, and recover when it moves again', async () => {
    const s = await startServedDaemon(testConfig(suite.db.url), {}, { liveLimitMs: 500 });
    served.push(s);
    await waitFor('the first claim pass', () => s.daemon.lastPollAt > 0);
    // A claim that never returns: the table is locked by a transaction that does not end (statement timeouts are
    // off in tests), which is the shape of a loop hung on a promise.
    const locker = new pg.Client({ connectionString: suite.db.url });
    await locker.connect();
    try {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE xtbatch.batch IN ACCESS EXCLUSIVE MODE');
      const stuck = await waitFor('liveness to fail', async () => {
        const r = await health(s, '/healthz');
        return r.status === 503 ? r : null;
      });
      expect(stuck.body.reasons[0]).toMatch(/^the claim loop has not finished a pass for \d+ s \(limit 0\.5 s\): it is stuck$/);
      expect((await health(s, '/readyz')).status).toBe(503);
      await locker.query('ROLLBACK');
    } finally {
      await locker.end();
    }
    await waitFor('liveness once the loop moves', async () => (await health(s, '/healthz')).status === 200);
  });

  it('fail readiness while the daemon drains at shutdown, and keep liveness', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const s = await startServedDaemon(testConfig(suite.db.url), { Hold: async () => gate });
    await suite.db.pool.query(`INSERT INTO xtbatch.batch (batch_action) VALUES ('Hold')`);
    await waitFor('the job to run', () => s.daemon.runningCount === 1);
    const stopping = s.daemon.stop(10_000);
    try {
      const r = await waitFor('readiness to fail', async () => {
        const h = await health(s, '/readyz');
        return h.status === 503 ? h : null;
      });
      expect(r.body.reasons).toContain('stopping: draining running jobs');
      expect(r.body.running).toBe(1);
      expect((await health(s, '/healthz')).status).toBe(200);
    } finally {
      release();
      await stopping;
      await s.server.close();
    }
  });
});
