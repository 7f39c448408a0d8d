import { rescueOnce } from '../../src/daemon/rescuer';
import { purgeOnce } from '../../src/purge/finishedJobs';
import { silentLogger } from '../../src/log';
import type { TestDatabase } from '../support/db';
import { databaseSuite } from '../support/suite';
import { testConfig } from '../support/config';
import { startDaemon } from '../support/daemon';
import { waitFor } from '../support/wait';
import { PermanentError } from '../../src/errors';

const log = silentLogger();
const suite = databaseSuite(`TRUNCATE xtbatch.batch, xtbatch.batchparam, xtbatch.daemon CASCADE; SELECT xtbatch.setsetting('EnableBatchManager', 't')`);
const daemons = suite.daemons;
let db: TestDatabase;
beforeAll(() => {
  db = suite.db;
});

async function insert(action: string, extra = ''): Promise<number> {
  const { rows } = await db.pool.query(`INSERT INTO xtbatch.batch (batch_action${extra ? ', ' + extra.split('=')[0] : ''})
    VALUES ('${action}'${extra ? ', ' + extra.split('=')[1] : ''}) RETURNING batch_id`);
  return rows[0].batch_id;
}

async function row(id: number) {
  return (await db.pool.query(`SELECT * FROM xtbatch.job WHERE batch_id = $1`, [id])).rows[0];
}

/** A handler that blocks until released, and says when it started. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  const started: number[] = [];
  const signals: AbortSignal[] = [];
  return {
    started,
    signals,
    open,
    handler: async (ctx: { job: { batch_id: number }; signal: AbortSignal }) => {
      started.push(ctx.job.batch_id);
      signals.push(ctx.signal);
      await opened;
    },
  };
}

describe('retries and failures', () => {
  it('retries a failing job until its attempts run out, then fails it with the last error', async () => {
    let calls = 0;
    daemons.push(await startDaemon(testConfig(db.url, { daemon: { maxAttempts: 3 } }), {
      Flaky: async () => {
        calls++;
        throw new Error(`connection reset (call ${calls})`);
      },
    }));
    const id = await insert('Flaky');
    const r = await waitFor('failed', async () => ((await row(id)).state === 'failed' ? row(id) : null));
    expect(calls).toBe(3);
    expect(r.batch_attempts).toBe(3);
    // The final status carries the history of the series, oldest first (issue 13).
    expect(r.batch_exitstatus).toMatch(/^gave up after 3 attempts; last error: connection reset \(call 3\); earlier: \[[^\]]+\] attempt 1 of 3 failed: connection reset \(call 1\); \[[^\]]+\] attempt 2 of 3 failed: connection reset \(call 2\)$/);
  });

  it('spaces retries by the backoff', async () => {
    daemons.push(await startDaemon(testConfig(db.url, { daemon: { backoffBaseSeconds: 60, backoffMaxSeconds: 120 } }), {
      Flaky: async () => {
        throw new Error('try later');
      },
    }));
    const id = await insert('Flaky');
    const r = await waitFor('retrying', async () => ((await row(id)).state === 'retrying' ? row(id) : null));
    const { rows } = await db.pool.query(`SELECT extract(epoch FROM batch_scheduled - localtimestamp)::float AS wait FROM xtbatch.batch WHERE batch_id = $1`, [id]);
    expect(rows[0].wait).toBeGreaterThan(40);
    expect(rows[0].wait).toBeLessThan(80);
    expect(r.batch_last_error).toBe('attempt 1 of 5 failed: try later');
    expect(r.batch_exitstatus).toBeNull();
  });

  it('fails a permanent error at once', async () => {
    daemons.push(await startDaemon(testConfig(db.url), { Bad: async () => { throw new PermanentError('the report "X" does not exist'); } }));
    const id = await insert('Bad');
    const r = await waitFor('failed', async () => ((await row(id)).state === 'failed' ? row(id) : null));
    expect(r.batch_attempts).toBe(1);
    expect(r.batch_exitstatus).toBe('the report "X" does not exist');
  });

  it('fails a job that runs past its timeout and frees its slot', async () => {
    let aborted = false;
    daemons.push(await startDaemon(testConfig(db.url, { daemon: { concurrency: 1 } }), {
      Hang: (ctx) => new Promise((_, reject) => ctx.signal.addEventListener('abort', () => { aborted = true; reject(ctx.signal.reason); })),
      Quick: async () => undefined,
    }));
    const hang = await insert('Hang', 'batch_timeout_seconds=1');
    const quick = await insert('Quick');
    await waitFor('quick done after the hung one timed out', async () => (await row(quick)).state === 'done');
    const r = await row(hang);
    expect(r.state).toBe('failed');
    expect(r.batch_exitstatus).toMatch(/^did not finish within its timeout of 1 s/);
    expect(aborted).toBe(true);
  });

  it('fails a job whose own timeout is out of range before its handler starts, naming batch_timeout_seconds', async () => {
    let ran = 0;
    daemons.push(await startDaemon(testConfig(db.url), { Work: async () => void ran++ }));
    // 30 days is past the longest timer Node keeps: it would fire at once while the handler went on.
    const ids = [await insert('Work', 'batch_timeout_seconds=2592000'), await insert('Work', 'batch_timeout_seconds=0'), await insert('Work', 'batch_timeout_seconds=-5')];
    const ok = await insert('Work', 'batch_timeout_seconds=2147483');
    await waitFor('all finished', async () => {
      for (const id of [...ids, ok]) if (!['failed', 'done'].includes((await row(id)).state)) return false;
      return true;
    });
    for (const [id, v] of ids.map((id, i) => [id, ['2592000', '0', '-5'][i]] as const)) {
      expect(await row(id)).toMatchObject({ state: 'failed', batch_exitstatus:
        `job ${id}: batch_timeout_seconds is ${v}: give a whole number of seconds from 1 to 2147483 (about 24 days), or leave it empty for the default` });
    }
    expect((await row(ok)).state).toBe('done');
    expect(ran).toBe(1);
  });

  it('runs a job inserted with batch_scheduled NULL at once, which before sql/0037 was never due', async () => {
    daemons.push(await startDaemon(testConfig(db.url), { Work: async () => undefined }));
    const id = await insert('Work', 'batch_scheduled=NULL');
    await waitFor('done', async () => (await row(id)).state === 'done');
    expect((await row(id)).batch_scheduled).not.toBeNull();
  });

  it('fails an unknown action with a message naming it, and keeps running others', async () => {
    daemons.push(await startDaemon(testConfig(db.url), { Good: async () => undefined }));
    const bad = await insert('RunMRPX');
    const good = await insert('Good');
    await waitFor('both finished', async () => (await row(bad)).state === 'failed' && (await row(good)).state === 'done');
    expect((await row(bad)).batch_exitstatus).toMatch(/^no handler for action "RunMRPX"/);
  });
});

describe('leases', () => {
  it('a heartbeat keeps a long job (three leases long) from being taken back', async () => {
    const g = gate();
    daemons.push(await startDaemon(testConfig(db.url, { daemon: { leaseSeconds: 1 } }), { Long: g.handler }));
    const id = await insert('Long');
    await waitFor('started', () => g.started.length === 1);
    const t0 = Date.now();
    await waitFor('three lease periods', async () => Date.now() - t0 > 3000 && (await rescueOnce(db.pool, 5, log)) === 0, 10_000, 200);
    expect((await row(id)).state).toBe('running');
    g.open();
    await waitFor('done', async () => (await row(id)).state === 'done');
    expect((await row(id)).batch_attempts).toBe(1);
  });

  it('handlers holding every job connection cannot starve the lease renewals (no job taken back)', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let holding = 0;
    const d = await startDaemon(testConfig(db.url, { database: { poolSize: 2 }, daemon: { concurrency: 2, leaseSeconds: 1 } }), {
      Hog: async (ctx) => {
        const c = await ctx.pool.connect();
        holding++;
        try {
          await gate;
        } finally {
          c.release();
        }
      },
    });
    daemons.push(d);
    const ids = [await insert('Hog'), await insert('Hog')];
    await waitFor('both hold a connection', () => holding === 2);
    const t0 = Date.now();
    await waitFor('three lease periods with the job pool exhausted', async () => Date.now() - t0 > 3000 && (await rescueOnce(db.pool, 5, log)) === 0, 10_000, 200);
    release();
    await waitFor('both done', async () => (await Promise.all(ids.map(row))).every((r) => r.state === 'done'));
    expect((await Promise.all(ids.map(row))).map((r) => r.batch_attempts)).toEqual([1, 1]);
  });

  it('takes back a job whose lease expired and runs it again; fails it when no attempts are left', async () => {
    const a = await insert('Email');
    const b = await insert('Email', 'batch_max_attempts=1');
    await db.pool.query(`UPDATE xtbatch.batch SET batch_started = localtimestamp, batch_attempts = 1, batch_locked_by = 'dead:1',
                         batch_lease_expires = now() - interval '1 second'`);
    expect(await rescueOnce(db.pool, 5, log)).toBe(2);
    const ra = await row(a);
    expect(ra.state).toBe('retrying');
    expect(ra.batch_last_error).toMatch(/daemon running it \(dead:1\) stopped responding/);
    const rb = await row(b);
    expect(rb.state).toBe('failed');
    expect(rb.batch_exitstatus).toMatch(/stopped responding on attempt 1 of 1, and no attempts are left/);
    expect(await rescueOnce(db.pool, 5, log)).toBe(0);
  });

  it('leaves alone a job started by xTuple\'s own batch manager (no lease)', async () => {
    const id = await insert('Email');
    await db.pool.query(`UPDATE xtbatch.batch SET batch_started = localtimestamp - interval '2 days' WHERE batch_id = $1`, [id]);
    expect(await rescueOnce(db.pool, 5, log)).toBe(0);
  });

  it('a late finisher cannot overwrite a job that was taken back', async () => {
    const g = gate();
    const d = await startDaemon(testConfig(db.url, { daemon: { leaseSeconds: 1 } }), { Long: g.handler });
    daemons.push(d);
    const id = await insert('Long');
    await waitFor('started', () => g.started.length === 1);
    // Another daemon rescued it and runs it now as attempt 2.
    await db.pool.query(`UPDATE xtbatch.batch SET batch_locked_by = 'other', batch_attempts = 2 WHERE batch_id = $1`, [id]);
    await waitFor('the first daemon noticed it lost the job', () => g.signals[0]?.aborted);
    expect((await row(id)).batch_locked_by).toBe('other');
    expect((await row(id)).state).toBe('running');
  });
});

describe('cancel and reschedule', () => {
  it('cancelling a running job aborts its handler and keeps the row with who cancelled it', async () => {
    const g = gate();
    daemons.push(await startDaemon(testConfig(db.url, { daemon: { leaseSeconds: 1 } }), { Long: g.handler }));
    const id = await insert('Long');
    await waitFor('started', () => g.started.length === 1);
    expect((await db.pool.query(`SELECT xtbatch.cancelBatchItem($1) AS r`, [id])).rows[0].r).toBe(1);
    await waitFor('handler aborted', () => g.signals[0]?.aborted);
    const r = await row(id);
    expect(r.state).toBe('cancelled');
    expect(r.batch_exitstatus).toMatch(/^Cancelled by postgres at \d{4}-/);
    expect((await db.pool.query(`SELECT xtbatch.cancelBatchItem($1) AS r`, [id])).rows[0].r).toBe(0);
    expect((await db.pool.query(`SELECT xtbatch.cancelBatchItem(987654) AS r`)).rows[0].r).toBe(-1);
  });

  it('rescheduleBatchItem runs a failed job again with a fresh attempt count; refuses a running one', async () => {
    let fail = true;
    const g = gate();
    daemons.push(await startDaemon(testConfig(db.url), {
      Once: async () => { if (fail) throw new PermanentError('first time fails'); },
      Long: g.handler,
    }));
    const id = await insert('Once');
    await waitFor('failed', async () => (await row(id)).state === 'failed');
    fail = false;
    await db.pool.query(`SELECT xtbatch.rescheduleBatchItem($1, localtimestamp)`, [id]);
    await waitFor('done', async () => (await row(id)).state === 'done');
    expect((await row(id)).batch_attempts).toBe(1);
    const long = await insert('Long');
    await waitFor('long started', () => g.started.length === 1);
    await expect(db.pool.query(`SELECT xtbatch.rescheduleBatchItem($1, localtimestamp)`, [long])).rejects.toThrow(/is running on/);
    g.open();
  });
});

describe('shutdown', () => {
  it('puts back a job that did not finish within the drain timeout, without counting the attempt', async () => {
    const g = gate();
    const d = await startDaemon(testConfig(db.url), { Long: g.handler });
    const id = await insert('Long');
    await waitFor('started', () => g.started.length === 1);
    await d.stop(100);
    const r = await row(id);
    expect(r.state).toBe('scheduled');
    expect(r.batch_attempts).toBe(0);
    expect(r.batch_locked_by).toBeNull();
    expect(g.signals[0]!.aborted).toBe(true);
    expect((await db.pool.query(`SELECT count(*)::int AS n FROM xtbatch.daemon`)).rows[0].n).toBe(0);
  });

  it('lets a running job finish when it does so within the drain timeout', async () => {
    const g = gate();
    const d = await startDaemon(testConfig(db.url), { Long: g.handler });
    const id = await insert('Long');
    await waitFor('started', () => g.started.length === 1);
    const stopping = d.stop(10_000);
    g.open();
    await stopping;
    expect((await row(id)).state).toBe('done');
  });
});

describe('settings seen live', () => {
  it('claims nothing while EnableBatchManager is off and resumes when it is back on', async () => {
    const seen: number[] = [];
    const d = await startDaemon(testConfig(db.url, { daemon: { pollIntervalMs: 100 } }), { Noop: async (ctx) => void seen.push(ctx.job.batch_id) });
    daemons.push(d);
    await db.pool.query(`SELECT xtbatch.setsetting('EnableBatchManager', 'f')`);
    await waitFor('daemon saw the setting', () => d.daemon.currentSettings.enabled === false);
    const id = await insert('Noop');
    const claimsBefore = d.daemon.stats.claimQueries;
    const pollsBefore = d.daemon.stats.polls;
    await waitFor('three polls while disabled', () => d.daemon.stats.polls >= pollsBefore + 3);
    expect(d.daemon.stats.claimQueries).toBe(claimsBefore);
    await waitFor('the daemon registry says it is not claiming', async () =>
      (await db.pool.query(`SELECT daemon_claiming FROM xtbatch.daemon`)).rows[0]?.daemon_claiming === false);
    expect((await row(id)).state).toBe('scheduled');
    expect(seen).toEqual([]);
    await db.pool.query(`SELECT xtbatch.setsetting('EnableBatchManager', 't')`);
    await waitFor('done once re-enabled', async () => (await row(id)).state === 'done');
  });

  it('sees a new DefaultBatchFromEmailAddress within moments, through NOTIFY', async () => {
    const d = await startDaemon(testConfig(db.url, { daemon: { pollIntervalMs: 60_000 } }));
    daemons.push(d);
    const t0 = Date.now();
    await db.pool.query(`SELECT xtbatch.setsetting('DefaultBatchFromEmailAddress', 'new@example.com')`);
    await waitFor('setting seen', () => d.daemon.currentSettings.defaultFrom === 'new@example.com', 5000, 5);
    expect(Date.now() - t0).toBeLessThan(2000);
  });
});

describe('purge', () => {
  it('deletes finished jobs older than BatchManagerPurgeDays with their parameters, keeping series heads and recent jobs', async () => {
    await db.pool.query(`SELECT xtbatch.setsetting('BatchManagerPurgeDays', '10')`);
    await db.pool.query(`
      INSERT INTO xtbatch.batch (batch_id, batch_action, batch_started, batch_completed, batch_exitstatus) VALUES
        (1, 'Email', localtimestamp - interval '20 days', localtimestamp - interval '20 days', ''),
        (2, 'Email', localtimestamp - interval '20 days', localtimestamp - interval '20 days', 'SMTP said no'),
        (3, 'Email', localtimestamp - interval '5 days',  localtimestamp - interval '5 days', ''),
        (4, 'Email', NULL, NULL, NULL),
        (5, 'Email', localtimestamp - interval '30 days', localtimestamp - interval '30 days', '');
      UPDATE xtbatch.batch SET batch_recurring_batch_id = 5, batch_scheduled = batch_completed WHERE batch_id IN (3, 5);
      INSERT INTO xtbatch.batchparam (batchparam_batch_id, batchparam_order, batchparam_name, batchparam_value) VALUES (1, 1, 'a', 'b');`);
    expect(await purgeOnce(db.pool, log)).toBe(2);
    const left = await db.pool.query(`SELECT batch_id FROM xtbatch.batch ORDER BY 1`);
    expect(left.rows.map((r) => r.batch_id)).toEqual([3, 4, 5]);
    expect((await db.pool.query(`SELECT count(*)::int AS n FROM xtbatch.batchparam`)).rows[0].n).toBe(0);
    await db.pool.query(`SELECT xtbatch.setsetting('BatchManagerPurgeDays', '0')`);
    await db.pool.query(`UPDATE xtbatch.batch SET batch_completed = localtimestamp - interval '900 days' WHERE batch_id = 3`);
    expect(await purgeOnce(db.pool, log)).toBe(0);
  });
});
