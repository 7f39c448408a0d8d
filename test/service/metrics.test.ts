import { PermanentError } from '../../src/errors';
import type { JobContext } from '../../src/handlers';
import { DURATION_BUCKETS } from '../../src/daemon/jobStats';
import { testConfig } from '../support/config';
import { databaseSuite } from '../support/suite';
import { waitFor } from '../support/wait';
import { get, histogramSeries, sample, scrape, startServedDaemon, type ServedDaemon } from './support';

// /metrics in the Prometheus text format, parsed by a Prometheus text-format parser, after known jobs ran.

const suite = databaseSuite(
  `TRUNCATE xtbatch.batch, xtbatch.batchparam, xtbatch.daemon CASCADE; SELECT xtbatch.setsetting('EnableBatchManager', 't')`,
);
const served: ServedDaemon[] = [];
afterEach(async () => {
  await Promise.all(served.splice(0).map((s) => s.stop()));
});

async function insert(action: string, n: number, scheduled = 'localtimestamp'): Promise<void> {
  await suite.db.pool.query(`INSERT INTO xtbatch.batch (batch_action, batch_scheduled) SELECT $1, ${scheduled} FROM generate_series(1, $2)`, [action, n]);
}

async function allFinished(): Promise<boolean> {
  const { rows } = await suite.db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM xtbatch.batch WHERE batch_completed IS NULL`);
  return rows[0]!.n === 0;
}

const handlers = {
  Noop: async () => ({ ok: true }),
  Boom: async () => {
    throw new PermanentError('the test says no');
  },
  Flaky: async () => {
    throw new Error('a fault a retry might cure');
  },
  Slow: async () => {
    await new Promise((r) => setTimeout(r, 60));
    return null;
  },
};

describe('/metrics', () => {
  it('counts jobs by action and outcome and times them by action, in families Prometheus can read', async () => {
    const s = await startServedDaemon(testConfig(suite.db.url, { daemon: { maxAttempts: 2 } }), handlers);
    served.push(s);
    await insert('Noop', 5);
    await insert('Boom', 2);
    await insert('Flaky', 1);
    await insert('Slow', 2);
    await waitFor('every job to finish', allFinished);

    const f = await waitFor('the outcomes to be counted', async () => {
      const m = await scrape(s.server);
      return sample(m, 'xtconnect_jobs_total', { action: 'Flaky', outcome: 'failed' }) === 1 ? m : null;
    });
    expect(f.get('xtconnect_jobs_total')!.type).toBe('COUNTER');
    expect(sample(f, 'xtconnect_jobs_total', { action: 'Noop', outcome: 'done' })).toBe(5);
    expect(sample(f, 'xtconnect_jobs_total', { action: 'Noop', outcome: 'failed' })).toBe(0);
    expect(sample(f, 'xtconnect_jobs_total', { action: 'Boom', outcome: 'failed' })).toBe(2);
    expect(sample(f, 'xtconnect_jobs_total', { action: 'Boom', outcome: 'retry' })).toBe(0);
    // maxAttempts 2: one retry, then it gives up.
    expect(sample(f, 'xtconnect_jobs_total', { action: 'Flaky', outcome: 'retry' })).toBe(1);
    expect(sample(f, 'xtconnect_jobs_total', { action: 'Slow', outcome: 'done' })).toBe(2);
    expect(sample(f, 'xtconnect_jobs_claimed_total')).toBe(11);

    expect(f.get('xtconnect_job_duration_seconds')!.type).toBe('HISTOGRAM');
    const noop = (await histogramSeries(s.server, 'xtconnect_job_duration_seconds', 'action', 'Noop'))!;
    expect(Number(noop.count)).toBe(5);
    expect(Object.keys(noop.buckets!).sort()).toEqual([...DURATION_BUCKETS.map(String), '+Inf'].sort());
    expect(Number(noop.buckets!['+Inf'])).toBe(5);
    const slow = (await histogramSeries(s.server, 'xtconnect_job_duration_seconds', 'action', 'Slow'))!;
    // Each waited a 60 ms timer: none in the buckets up to 0.05 s, both by 5 s, and the sum says so too (a timer may
    // fire a millisecond early by Date.now()'s whole-millisecond clock, hence 2 x 59 ms).
    expect(Number(slow.buckets!['0.05'])).toBe(0);
    expect(Number(slow.buckets!['5'])).toBe(2);
    expect(Number(slow.sum)).toBeGreaterThanOrEqual(0.118);
    expect(Number(slow.count)).toBe(2);

    expect(sample(f, 'xtconnect_jobs_running')).toBe(0);
    expect(sample(f, 'xtconnect_daemon_claiming')).toBe(1);
    expect(sample(f, 'xtconnect_info', { daemon: s.daemon.id })).toBe(1);
    // Process metrics, from prom-client's default collectors on the daemon's own registry.
    expect(sample(f, 'process_cpu_seconds_total')).toBeGreaterThan(0);
    expect(sample(f, 'nodejs_heap_size_used_bytes')).toBeGreaterThan(0);
  });

  it('counts the running jobs that wait without a slot for their group apart, so running above the concurrency is explained', async () => {
    let open!: () => void;
    const shared = new Promise<void>((r) => (open = r));
    const s = await startServedDaemon(testConfig(suite.db.url, { daemon: { concurrency: 1 } }), {
      ...handlers,
      // As an ERP action queued for its group does (src/handlers/erpAction/group.ts): it gives up its slot and waits.
      Share: async (ctx: JobContext) => {
        ctx.lease!.sharing(true);
        await shared;
      },
    });
    served.push(s);
    await insert('Share', 3);
    const waiting = await waitFor('three jobs to wait for their group', async () => {
      const m = await scrape(s.server);
      return sample(m, 'xtconnect_jobs_waiting_for_group') === 3 ? m : null;
    });
    expect(waiting.get('xtconnect_jobs_waiting_for_group')!.type).toBe('GAUGE');
    // Three running with concurrency 1: all of them waiting without a slot.
    expect(sample(waiting, 'xtconnect_jobs_running')).toBe(3);
    open();
    await waitFor('every job to finish', allFinished);
    const after = await waitFor('the gauges to go back to 0', async () => {
      const m = await scrape(s.server);
      return sample(m, 'xtconnect_jobs_running') === 0 ? m : null;
    });
    expect(sample(after, 'xtconnect_jobs_waiting_for_group')).toBe(0);
  });

  it('shows the queue as the database sees it, cached so that scrapes cannot load the database', async () => {
    await suite.db.pool.query(`SELECT xtbatch.setsetting('EnableBatchManager', 'f')`);
    const s = await startServedDaemon(testConfig(suite.db.url), handlers, { queueCacheMs: 60_000 });
    served.push(s);
    await insert('Noop', 3, `localtimestamp - interval '1 hour'`);
    await insert('Noop', 4, `localtimestamp + interval '1 day'`);

    const first = await scrape(s.server);
    expect(sample(first, 'xtconnect_queue_due_jobs')).toBe(3);
    expect(sample(first, 'xtconnect_queue_running_jobs')).toBe(0);
    expect(sample(first, 'xtconnect_queue_oldest_due_seconds')).toBeGreaterThanOrEqual(3600);
    expect(sample(first, 'xtconnect_queue_oldest_due_seconds')).toBeLessThan(3700);
    expect(sample(first, 'xtconnect_queue_up')).toBe(1);
    expect(sample(first, 'xtconnect_daemon_claiming')).toBe(0);

    // Within the cache window a new job is not seen: the scrape did not query again.
    await insert('Noop', 1, `localtimestamp - interval '1 minute'`);
    const cached = await scrape(s.server);
    expect(sample(cached, 'xtconnect_queue_due_jobs')).toBe(3);

    const fresh = await startServedDaemon(testConfig(suite.db.url), handlers, { queueCacheMs: 0 });
    served.push(fresh);
    expect(sample(await scrape(fresh.server), 'xtconnect_queue_due_jobs')).toBe(4);
  });

  it('counts the jobs this daemon took back from a daemon that stopped renewing its lease', async () => {
    const s = await startServedDaemon(testConfig(suite.db.url), handlers);
    served.push(s);
    await suite.db.pool.query(
      `INSERT INTO xtbatch.batch (batch_action, batch_started, batch_attempts, batch_locked_by, batch_lease_expires)
       VALUES ('Noop', localtimestamp - interval '1 minute', 1, 'dead-host:1:abc', now() - interval '10 seconds')`,
    );
    const f = await waitFor('the rescue to be counted and the job to run', async () => {
      const m = await scrape(s.server);
      return sample(m, 'xtconnect_lease_rescues_total') === 1 && sample(m, 'xtconnect_jobs_total', { action: 'Noop', outcome: 'done' }) === 1 ? m : null;
    });
    expect(f.get('xtconnect_lease_rescues_total')!.type).toBe('COUNTER');
    expect(sample(f, 'xtconnect_database_errors_total')).toBe(0);
  });

  it('answers 404 elsewhere, 405 to writes, and serves HEAD without a body', async () => {
    const s = await startServedDaemon(testConfig(suite.db.url), handlers);
    served.push(s);
    expect((await get(s.server, '/nothing')).status).toBe(404);
    const post = await get(s.server, '/metrics', 'POST');
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe('GET, HEAD');
    const head = await get(s.server, '/metrics', 'HEAD');
    expect(head.status).toBe(200);
    expect(head.body).toBe('');
    expect(head.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(s.server.address.host).toBe('127.0.0.1');
  });
});
