import { performance } from 'node:perf_hooks';
import type { Config } from '../../src/config';
import { Daemon } from '../../src/daemon/loop';
import { DbHealth } from '../../src/daemon/dbHealth';
import { RunLease } from '../../src/daemon/jobLease';
import { LeaseKeeper, type LeaseLoss } from '../../src/daemon/leases';
import { rescueOnce } from '../../src/daemon/rescuer';
import { createPool, endPool, type Client } from '../../src/db/pool';
import { claimDue, finishMany, nextLeaseToken, type BatchRow } from '../../src/db/queries/batch';
import { LeaseLostError } from '../../src/errors';
import { defaultHandlers, type JobContext } from '../../src/handlers';
import { erpActionHandler } from '../../src/handlers/erpAction';
import { parseParams } from '../../src/jobs/params';
import { silentLogger } from '../../src/log';
import { createMailer } from '../../src/mail/transport';
import { testConfig } from '../support/config';
import { startDaemon } from '../support/daemon';
import type { TestDatabase } from '../support/db';
import { recordingLogger } from '../support/recordingLogger';
import { databaseSuite } from '../support/suite';
import { startTcpProxy, type TcpProxy } from '../support/tcpProxy';
import { waitFor } from '../support/wait';

// Issue 13, findings 1 and 2: a job runs only while its daemon holds its lease, and nothing it writes under the
// lease commits once the lease is gone.

const log = silentLogger();
const suite = databaseSuite(`TRUNCATE xtbatch.batch, xtbatch.batchparam, xtbatch.daemon, public.ledger CASCADE; SELECT xtbatch.setsetting('EnableBatchManager', 't')`);
let db: TestDatabase;
let proxy: TcpProxy | null = null;

beforeAll(async () => {
  db = suite.db;
  await db.pool.query(`
    CREATE TABLE public.ledger (id serial PRIMARY KEY, amount integer NOT NULL);
    CREATE FUNCTION public.post_ledger(p_amount integer) RETURNS integer LANGUAGE sql AS $$
      INSERT INTO public.ledger (amount) VALUES (p_amount) RETURNING id
    $$;
    INSERT INTO xtbatch.action (action_name, action_schema, action_function, action_args)
    VALUES ('PostLedger', 'public', 'post_ledger', '[{"param": "amount", "type": "integer", "required": true}]');
    SELECT xtbatch.setsetting('EnableBatchManager', 't');`);
});
afterEach(async () => {
  await proxy?.close();
  proxy = null;
});

async function insertJob(action: string, params: Array<[string, string]> = []): Promise<number> {
  const { rows } = await db.pool.query<{ id: number }>(
    `WITH b AS (INSERT INTO xtbatch.batch (batch_action) VALUES ($1) RETURNING batch_id),
          p AS (INSERT INTO xtbatch.batchparam (batchparam_batch_id, batchparam_order, batchparam_name, batchparam_value, batchparam_type)
                SELECT b.batch_id, p.ord, p.name, p.value, 'QString' FROM b, unnest($2::text[], $3::text[]) WITH ORDINALITY AS p(name, value, ord))
     SELECT batch_id AS id FROM b`,
    [action, params.map((p) => p[0]), params.map((p) => p[1])],
  );
  return rows[0]!.id;
}

async function ledger(): Promise<number[]> {
  return (await db.pool.query<{ amount: number }>(`SELECT amount FROM public.ledger ORDER BY id`)).rows.map((r) => r.amount);
}

/** Claims the one due job as `owner`, the way the daemon does, with a lease of `leaseSeconds`. */
async function claimAs(owner: string, leaseSeconds = 60): Promise<BatchRow> {
  const rows = await claimDue(db.pool, owner, 1, leaseSeconds, [], [], nextLeaseToken());
  expect(rows).toHaveLength(1);
  return rows[0]!;
}

/** Waits until job `id` is done or failed; its state, attempts and last error. */
async function settled(id: number): Promise<{ state: string; batch_attempts: number; batch_last_error: string | null }> {
  return waitFor(`job ${id} to finish`, async () => {
    const r = (await db.pool.query(`SELECT state, batch_attempts, batch_last_error FROM xtbatch.job WHERE batch_id = $1`, [id])).rows[0];
    return ['done', 'failed'].includes(r.state) ? r : null;
  }, 15_000);
}

/**
 * A daemon's own statements (claims, renewals, outcomes) through a TCP proxy the test can blackhole: its config
 * (polling only, a 3 s lease unless `daemon` says otherwise), its pool, and a logger whose lines the test reads.
 */
async function behindProxy(applicationName: string, daemon: Partial<Config['daemon']> = {}) {
  const url = new URL(db.url);
  const p = await startTcpProxy({ host: url.hostname, port: Number(url.port || 5432) });
  proxy = p;
  const cfg = testConfig(p.url(db.url), { daemon: { leaseSeconds: 3, ...daemon }, database: { listen: false } as Config['database'] });
  const pool = createPool({ url: p.url(db.url), max: 4, statementTimeoutMs: 0, applicationName }, log);
  return { proxy: p, cfg, pool, leaseSeconds: cfg.daemon.leaseSeconds, rec: recordingLogger() };
}

/** The ERP handler's context for `job` as daemon `owner` would give it, with a lease this side still believes in. */
function erpContext(owner: string, job: BatchRow, cfg: Config): { ctx: JobContext; lease: RunLease; close: () => void } {
  const keeper = new LeaseKeeper(db.pool, owner, 60, new DbHealth(log, 1000), log);
  keeper.hold(job.batch_id, job.lease_token!, performance.now(), () => undefined);
  const lease = new RunLease(owner, job, keeper);
  const mailer = createMailer(cfg);
  const ctx: JobContext = {
    job, params: parseParams(job.batch_id, job.params), log, signal: new AbortController().signal, pool: db.pool, cfg,
    settings: { enabled: true, defaultFrom: null, purgeDays: null, createContacts: false, exclusions: [] },
    services: { mailer }, lease,
  };
  return { ctx, lease, close: () => mailer.close() };
}

describe('an ERP action commits only under its lease (finding 2)', () => {
  it('commits its work and "done" in one transaction while the lease holds', async () => {
    const id = await insertJob('PostLedger', [['amount', '7']]);
    const job = await claimAs('A');
    const { ctx, lease, close } = erpContext('A', job, testConfig(db.url));
    try {
      const out = await erpActionHandler(ctx);
      expect(out).toMatchObject({ function: 'public.post_ledger' });
      expect(lease.recorded).toBe(true);
    } finally {
      close();
    }
    expect(await ledger()).toEqual([7]);
    const { rows } = await db.pool.query(`SELECT state, batch_exitstatus, batch_result FROM xtbatch.job WHERE batch_id = $1`, [id]);
    expect(rows[0]).toMatchObject({ state: 'done', batch_exitstatus: '' });
    expect(rows[0].batch_result.function).toBe('public.post_ledger');
  });

  it('a daemon whose job was taken back and claimed again (paused past its lease) rolls its call back', async () => {
    const id = await insertJob('PostLedger', [['amount', '5']]);
    const jobA = await claimAs('A');
    // A is frozen past its lease: the rescuer takes the job back and B claims it (a new fencing token).
    await db.pool.query(`UPDATE xtbatch.batch SET batch_lease_expires = now() - interval '1 second' WHERE batch_id = $1`, [id]);
    expect(await rescueOnce(db.pool, 5, log)).toBe(1);
    const jobB = await claimAs('B');
    expect(jobB.lease_token).not.toBe(jobA.lease_token);

    // A wakes up and carries on with its call, believing in its lease (its own clock has not caught up yet).
    const { ctx, close } = erpContext('A', jobA, testConfig(db.url));
    const err = await erpActionHandler(ctx).catch((e: unknown) => e).finally(close);
    expect(err).toBeInstanceOf(LeaseLostError);
    expect(await ledger()).toEqual([]);
    const { rows } = await db.pool.query(`SELECT state, batch_locked_by FROM xtbatch.job WHERE batch_id = $1`, [id]);
    expect(rows[0]).toEqual({ state: 'running', batch_locked_by: 'B' });
  });

  it('a lease that ran out, even with no one else holding the job yet, commits nothing', async () => {
    const id = await insertJob('PostLedger', [['amount', '3']]);
    const job = await claimAs('A');
    await db.pool.query(`UPDATE xtbatch.batch SET batch_lease_expires = now() - interval '1 second' WHERE batch_id = $1`, [id]);
    const { ctx, close } = erpContext('A', job, testConfig(db.url));
    const err = await erpActionHandler(ctx).catch((e: unknown) => e).finally(close);
    expect(err).toBeInstanceOf(LeaseLostError);
    expect(await ledger()).toEqual([]);
  });

  it('an outcome written for an older claim of the same row is ignored (the fencing token)', async () => {
    const id = await insertJob('Noop');
    const first = await claimAs('A');
    // Put back (a shutdown) and claimed again by the same daemon: same owner, same attempt number, new token.
    await finishMany(db.pool, 'A', [{ batchId: id, attempt: first.batch_attempts, token: first.lease_token!, kind: 'release', message: null, delaySeconds: 0, result: null }]);
    const second = await claimAs('A');
    expect(second.batch_attempts).toBe(first.batch_attempts);
    const stale = await finishMany(db.pool, 'A', [{ batchId: id, attempt: first.batch_attempts, token: first.lease_token, kind: 'done', message: null, delaySeconds: 0, result: null }]);
    expect(stale.has(id)).toBe(false);
    const current = await finishMany(db.pool, 'A', [{ batchId: id, attempt: second.batch_attempts, token: second.lease_token, kind: 'done', message: null, delaySeconds: 0, result: null }]);
    expect(current.has(id)).toBe(true);
  });
});

describe('a daemon that cannot renew its leases (finding 1)', () => {
  it('stops its jobs before their leases can expire, so another daemon never runs one at the same time', async () => {
    // A's own statements go through the proxy; its handler needs no database.
    const { proxy, cfg: cfgA, pool, leaseSeconds, rec } = await behindProxy('fencing A', { concurrency: 1 });
    const runs: Array<{ daemon: string; start: number; end: number; reason: string }> = [];
    const slow = (daemon: string) => async (ctx: JobContext) => {
      const start = Date.now();
      if (daemon === 'B') {
        runs.push({ daemon, start, end: Date.now(), reason: 'done' });
        return;
      }
      // "Sending slow mail": runs until stopped.
      await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve(), { once: true }));
      runs.push({ daemon, start, end: Date.now(), reason: String((ctx.signal.reason as Error)?.message) });
      throw ctx.signal.reason;
    };
    const a = new Daemon({ cfg: cfgA, pool, jobPool: db.pool, log: rec.log, handlers: defaultHandlers({ Slow: slow('A') }), services: { mailer: createMailer(cfgA) }, id: 'A' });
    await a.start();
    const id = await insertJob('Slow');
    await waitFor('A running the job', () => a.runningCount === 1);

    // The network between A and PostgreSQL drops everything: renewals hang rather than fail.
    proxy.blackhole();
    const aborted = await waitFor('A to stop its job', () => runs.find((r) => r.daemon === 'A'), 3 * leaseSeconds * 1000);
    const { rows } = await db.pool.query<{ expires: Date; locked_by: string }>(
      `SELECT batch_lease_expires AS expires, batch_locked_by AS locked_by FROM xtbatch.batch WHERE batch_id = $1`, [id]);
    // Stopped before the lease could expire on the server (same machine, same clock).
    expect(rows[0]!.locked_by).toBe('A');
    expect(aborted.end).toBeLessThan(rows[0]!.expires.getTime());
    expect(aborted.reason).toMatch(/lease could not be renewed/);
    expect(rec.lines.some((l) => /lost its lease: it could not be renewed in time/.test(l))).toBe(true);

    // B takes it back once the lease has expired, and runs it; never while A still ran it.
    const b = await startDaemon(testConfig(db.url, { daemon: { leaseSeconds } }), { Slow: slow('B') }, { id: 'B' });
    suite.daemons.push(b);
    await waitFor('B to run the job', async () => (await db.pool.query(`SELECT state FROM xtbatch.job WHERE batch_id = $1`, [id])).rows[0].state === 'done', 20_000);
    const byB = runs.find((r) => r.daemon === 'B')!;
    expect(byB.start).toBeGreaterThanOrEqual(aborted.end);

    proxy.restore();
    await a.stop(0);
    await endPool(pool);
    expect(runs.filter((r) => r.daemon === 'A')).toHaveLength(1);
  }, 40_000);
});

describe('a claim that comes back too late to start its job', () => {
  it('puts the job back with its attempt not counted, instead of leaving it to expire and fail as "stopped responding"', async () => {
    const leaseSeconds = 3;
    const cfg = testConfig(db.url, { daemon: { leaseSeconds }, database: { listen: false } as Config['database'] });
    const rec = recordingLogger();
    const pool = createPool({ url: db.url, max: 4, statementTimeoutMs: 0, applicationName: 'fencing late claim' }, log);
    const ran: number[] = [];
    const quick = async (ctx: JobContext) => void ran.push(ctx.job.batch_attempts);
    const d = new Daemon({ cfg, pool, jobPool: db.pool, log: rec.log, handlers: defaultHandlers({ Quick: quick }), services: { mailer: createMailer(cfg) }, id: 'late' });
    await d.start();
    // The stall: a session holds the table while it queues the job (its last attempt), so the daemon's next claim
    // waits on the lock and comes back with a lease already mostly spent (the server counts it from the claim's
    // start), past the daemon's margin for starting work under it.
    const locker = await db.pool.connect();
    try {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE xtbatch.batch IN EXCLUSIVE MODE');
      const { rows } = await locker.query<{ id: number }>(`INSERT INTO xtbatch.batch (batch_action, batch_max_attempts) VALUES ('Quick', 1) RETURNING batch_id AS id`);
      const claimWaited = `SELECT clock_timestamp() - xact_start AS waited FROM pg_stat_activity
                            WHERE application_name = 'fencing late claim' AND wait_event_type = 'Lock' AND position('SET batch_started = localtimestamp' IN query) > 0`;
      await waitFor('the claim to wait past the daemon\'s margin (two thirds of the lease)', async () =>
        (await db.pool.query(`SELECT 1 FROM (${claimWaited}) w WHERE waited > make_interval(secs => $1)`, [leaseSeconds * 0.8])).rowCount === 1, 10_000);
      await locker.query('COMMIT');
      const id = rows[0]!.id;
      const job = await settled(id);
      expect(job).toEqual({ state: 'done', batch_attempts: 1, batch_last_error: null });
      expect(ran).toEqual([1]);
      expect(rec.lines.some((l) => /too close to lapsing to start it .*not started, put back to run again; if this repeats, .* raise daemon\.leaseSeconds/.test(l))).toBe(true);
    } finally {
      await locker.query('ROLLBACK').catch(() => undefined);
      locker.release();
      await d.stop(0);
      await endPool(pool);
    }
  }, 30_000);

  it('keeps a job given up at its deadline ours while its release waits: renewed though lapsed, not taken back by our rescuer', async () => {
    const id = await insertJob('Quick');
    const job = await claimAs('K', 1);
    const keeper = new LeaseKeeper(db.pool, 'K', 1, new DbHealth(log, 1000), log);
    const lost: LeaseLoss[] = [];
    // Claimed a whole lease ago by the daemon's clock: past its deadline at once.
    keeper.hold(id, job.lease_token, performance.now() - keeper.timing.leaseMs, (why) => lost.push(why));
    expect(keeper.checkDeadlines()).toBe(1);
    expect(lost).toEqual(['expired']);
    // The runner puts it back: the release goes to the completer, and the claim is held again until it is written.
    keeper.awaitingOutcome(id, job.lease_token ?? '');
    expect(keeper.isHeld(id, job.lease_token)).toBe(false);
    await waitFor('its lease to lapse on the server', async () =>
      (await db.pool.query(`SELECT 1 FROM xtbatch.batch WHERE batch_id = $1 AND batch_lease_expires < now()`, [id])).rowCount === 1);
    // What our rescuer does: renew our own leases first, then take back the expired ones.
    expect(await keeper.runOnce()).toBe(true);
    expect(await rescueOnce(db.pool, 5, log)).toBe(0);
    const written = await finishMany(db.pool, 'K', [{ batchId: id, attempt: job.batch_attempts, token: job.lease_token, kind: 'release', message: null, delaySeconds: 0, result: null }]);
    expect([...written]).toEqual([id]);
    const { rows } = await db.pool.query(`SELECT state, batch_attempts, batch_locked_by FROM xtbatch.job WHERE batch_id = $1`, [id]);
    expect(rows[0]).toEqual({ state: 'scheduled', batch_attempts: 0, batch_locked_by: null });
  });

  it('puts back an ERP action stopped for its lease while it still waited for a connection: nothing of it was sent', async () => {
    // The daemon's own statements through the proxy; the handlers' pool direct, with one connection the test can take.
    const { proxy, cfg, pool, leaseSeconds, rec } = await behindProxy('fencing erp queued');
    const jobPool = createPool({ url: db.url, max: 1, statementTimeoutMs: 0, applicationName: 'fencing erp queued jobs' }, log);
    const d = new Daemon({ cfg, pool, jobPool, log: rec.log, handlers: defaultHandlers({ '*': erpActionHandler }), services: { mailer: createMailer(cfg) }, id: 'erpq' });
    await d.start();
    let held: Client | null = null;
    try {
      // A first job reads the mapping (a stop while reading it is another matter).
      const first = await insertJob('PostLedger', [['amount', '1']]);
      await waitFor('the first job', async () => (await db.pool.query(`SELECT state FROM xtbatch.job WHERE batch_id = $1`, [first])).rows[0].state === 'done');
      const taken = await jobPool.connect();
      held = taken;
      const { rows } = await db.pool.query<{ id: number }>(
        `WITH b AS (INSERT INTO xtbatch.batch (batch_action, batch_max_attempts) VALUES ('PostLedger', 1) RETURNING batch_id)
         INSERT INTO xtbatch.batchparam (batchparam_batch_id, batchparam_order, batchparam_name, batchparam_value, batchparam_type)
         SELECT batch_id, 1, 'amount', '2', 'QString' FROM b RETURNING batchparam_batch_id AS id`);
      const id = rows[0]!.id;
      await waitFor('the job to wait for a connection', () => d.runningCount === 1);

      // Renewals hang; at its deadline the job is stopped before any of it reached the server.
      proxy.blackhole();
      await waitFor('the job to be stopped', () => d.runningCount === 0, 3 * leaseSeconds * 1000);
      taken.release();
      held = null;
      proxy.restore();

      const job = await settled(id);
      expect(job).toEqual({ state: 'done', batch_attempts: 1, batch_last_error: null });
      expect(await ledger()).toEqual([1, 2]);
      expect(rec.lines.some((l) => /put back unfinished \(its lease could not be renewed before it started\)/.test(l))).toBe(true);
    } finally {
      held?.release();
      proxy.restore();
      await d.stop(0);
      await endPool(pool);
      await endPool(jobPool);
    }
  }, 40_000);

  it('puts back a job claimed ahead whose lease could not be renewed while it waited for a slot, once the database answers', async () => {
    // One slot: the second job waits claimed ahead (a new daemon claims one ahead of its slots).
    const { proxy, cfg, pool, leaseSeconds, rec } = await behindProxy('fencing ahead', { concurrency: 1 });
    const ran: string[] = [];
    const handlers = defaultHandlers({
      // Runs until stopped.
      Slow: async (ctx: JobContext) => {
        await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve(), { once: true }));
        throw ctx.signal.reason;
      },
      Quick: async (ctx: JobContext) => void ran.push(`attempt ${ctx.job.batch_attempts}`),
    });
    const d = new Daemon({ cfg, pool, jobPool: db.pool, log: rec.log, handlers, services: { mailer: createMailer(cfg) }, id: 'ahead' });
    await d.start();
    try {
      // Its last attempt: once stopped it is taken back as failed, and does not come back to take the slot.
      await db.pool.query(`INSERT INTO xtbatch.batch (batch_action, batch_max_attempts) VALUES ('Slow', 1)`);
      await waitFor('the slow job to run', () => d.runningCount === 1);
      const { rows } = await db.pool.query<{ id: number }>(`INSERT INTO xtbatch.batch (batch_action, batch_max_attempts) VALUES ('Quick', 1) RETURNING batch_id AS id`);
      const id = rows[0]!.id;
      await waitFor('the quick job to be claimed ahead', () => d.readyCount === 1);
      // And its lease renewed with the running job's, so that both have the same deadline: the running job is stopped
      // by the same check, and its slot cannot go to the waiting job first. Two renewals seen on the server: the
      // daemon sends the next only after it has read the answer to the one before.
      const expiry = async () => (await db.pool.query(`SELECT batch_lease_expires AS e FROM xtbatch.batch WHERE batch_id = $1`, [id])).rows[0].e as Date;
      for (const n of [1, 2, 3]) {
        const before = await expiry();
        await waitFor(`renewal ${n} of both leases`, async () => (await expiry()) > before);
      }

      // Renewals hang: past the deadline both jobs are stopped; the one that never started is put back.
      proxy.blackhole();
      await waitFor('the waiting job to be given up', () => d.readyCount === 0, 3 * leaseSeconds * 1000);
      expect(rec.lines.some((l) => new RegExp(`job ${id} lost its lease before it started; not started, put back`).test(l))).toBe(true);
      proxy.restore();

      const job = await settled(id);
      // Its one attempt was not spent by the stop: it ran once, as attempt 1.
      expect(job).toEqual({ state: 'done', batch_attempts: 1, batch_last_error: null });
      expect(ran).toEqual(['attempt 1']);
    } finally {
      proxy.restore();
      await d.stop(0);
      await endPool(pool);
    }
  }, 40_000);
});
