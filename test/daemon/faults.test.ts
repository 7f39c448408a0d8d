import pg from 'pg';
import { DbHealth } from '../../src/daemon/dbHealth';
import { claimDue, extendLeases, finishMany, nextLeaseToken, renewLeases } from '../../src/db/queries/batch';
import { dbFault, isOutage, isRetryableDbError, PermanentError, TransientError } from '../../src/errors';
import { resolveType } from '../../src/handlers/erpAction';
import { dbFailure } from '../../src/db/jobConnection';
import type { TestDatabase } from '../support/db';
import { recordingLogger } from '../support/recordingLogger';
import { databaseSuite } from '../support/suite';

// Issue 13, findings 3 and 4: the daemon's own statements must not deadlock each other, a deadlock is no outage,
// and a lost connection never fails a job for good. Every fault here is a real one from a real server.

const suite = databaseSuite(`TRUNCATE xtbatch.batch, xtbatch.batchparam, xtbatch.daemon CASCADE; SELECT xtbatch.setsetting('EnableBatchManager', 't')`);
let db: TestDatabase;
beforeAll(async () => {
  db = suite.db;
  await db.pool.query(`SELECT xtbatch.setsetting('EnableBatchManager', 't')`);
});

async function claimed(owner: string, n: number): Promise<number[]> {
  await db.pool.query(`INSERT INTO xtbatch.batch (batch_action) SELECT 'Noop' FROM generate_series(1, $1)`, [n]);
  const rows = await claimDue(db.pool, owner, n, 60, [], [], nextLeaseToken());
  return rows.map((r) => r.batch_id).sort((a, b) => a - b);
}

/** A real deadlock between two sessions; returns the error the loser got. */
async function realDeadlock(): Promise<unknown> {
  const [x, y] = await claimed('setup', 2);
  const a = await db.pool.connect();
  const b = await db.pool.connect();
  try {
    await a.query('BEGIN');
    await b.query('BEGIN');
    await a.query(`UPDATE xtbatch.batch SET batch_priority = 1 WHERE batch_id = $1`, [x]);
    await b.query(`UPDATE xtbatch.batch SET batch_priority = 1 WHERE batch_id = $1`, [y]);
    const results = await Promise.allSettled([
      a.query(`UPDATE xtbatch.batch SET batch_priority = 2 WHERE batch_id = $1`, [y]),
      b.query(`UPDATE xtbatch.batch SET batch_priority = 2 WHERE batch_id = $1`, [x]),
    ]);
    const lost = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    return lost?.reason ?? null;
  } finally {
    await a.query('ROLLBACK').catch(() => undefined);
    await b.query('ROLLBACK').catch(() => undefined);
    a.release();
    b.release();
  }
}

describe('lease renewal and outcome writes (finding 3)', () => {
  it('renewal does not wait for a row an outcome write holds, so the two cannot deadlock', async () => {
    const [first, second] = await claimed('me', 2);
    const writer = await db.pool.connect();
    try {
      // An outcome write of ours has locked the second row and is about to lock the first.
      await writer.query('BEGIN');
      await writer.query(`UPDATE xtbatch.batch SET batch_last_error = 'writing' WHERE batch_id = $1`, [second]);
      // The old renewal locked the first row and waited for the second: the writer's next step deadlocked.
      const renewal = extendLeases(db.pool, 'me', [first!, second!], 60);
      let t: NodeJS.Timeout | undefined;
      const outcome = await Promise.race([renewal.then(() => 'renewed'), new Promise((r) => { t = setTimeout(() => r('still waiting after 3 s'), 3000); })]);
      clearTimeout(t);
      await writer.query(`UPDATE xtbatch.batch SET batch_last_error = 'writing' WHERE batch_id = $1`, [first]);
      await writer.query('COMMIT');
      expect(outcome).toBe('renewed');
      expect([...(await renewal)]).toEqual([first]);
    } finally {
      await writer.query('ROLLBACK').catch(() => undefined);
      writer.release();
    }
  });

  it('a row locked by our own write counts as still held (busy), not as lost', async () => {
    const [id] = await claimed('me', 1);
    const { rows } = await db.pool.query<{ token: string }>(`SELECT batch_lease_token::text AS token FROM xtbatch.batch WHERE batch_id = $1`, [id]);
    const writer = await db.pool.connect();
    try {
      await writer.query('BEGIN');
      await writer.query(`SELECT 1 FROM xtbatch.batch WHERE batch_id = $1 FOR UPDATE`, [id]);
      const r = await renewLeases(db.pool, 'me', [{ batchId: id!, token: rows[0]!.token }], 60);
      expect(r.renewed.size).toBe(0);
      expect(r.busy.get(id!)).toBe(rows[0]!.token);
    } finally {
      await writer.query('ROLLBACK');
      writer.release();
    }
  });

  it('renewals and outcome writes running together in opposite orders finish without a deadlock', async () => {
    const ids = await claimed('me', 400);
    const tokens = new Map((await db.pool.query<{ batch_id: number; t: string }>(
      `SELECT batch_id, batch_lease_token::text AS t FROM xtbatch.batch WHERE batch_id = ANY ($1)`, [ids])).rows.map((r) => [r.batch_id, r.t]));
    const renewals = (async () => {
      for (let i = 0; i < 20; i++) await extendLeases(db.pool, 'me', [...ids].reverse(), 60);
    })();
    // Outcomes in small batches, highest id first (the order jobs happen to finish in).
    const writes = (async () => {
      const rev = [...ids].reverse();
      for (let i = 0; i < rev.length; i += 20) {
        const batch = rev.slice(i, i + 20).map((batchId) => ({ batchId, attempt: 1, token: tokens.get(batchId)!, kind: 'done' as const, message: null, delaySeconds: 0, result: null }));
        await finishMany(db.pool, 'me', batch);
      }
    })();
    await Promise.all([renewals, writes]);
    const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM xtbatch.job WHERE state = 'done'`);
    expect(rows[0].n).toBe(400);
  });

  it('a deadlock is retried at once and is never reported as the database being unreachable', async () => {
    const err = await realDeadlock();
    expect((err as { code?: string }).code).toBe('40P01');
    expect(dbFault(err)).toBe('conflict');
    expect(isOutage(err)).toBe(false);
    const rec = recordingLogger();
    const health = new DbHealth(rec.log, 5000);
    expect(health.failed(err, 'renewing leases')).toBe(0);
    expect(health.failures).toBe(0);
    expect(rec.lines.join('\n')).not.toMatch(/unreachable/);
  });
});

describe('one classification of errors (finding 4)', () => {
  it('a connection lost during the ERP action\'s type lookup is retried, not "which is not a type"', async () => {
    const client = await db.pool.connect();
    const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    await db.pool.query('SELECT pg_terminate_backend($1)', [pid]);
    const err = await resolveType(client, 'UpdateReorderLevel', { param: 'job', type: 'integer', required: true, default: null }, 0).catch((e: unknown) => e);
    client.release(true);
    expect(err).toBeInstanceOf(TransientError);
    expect(err).not.toBeInstanceOf(PermanentError);
    expect((err as Error).message).not.toMatch(/which is not a type/);
  });

  it('a name that is not a type is still a permanent failure naming the argument', async () => {
    const client = await db.pool.connect();
    try {
      const err = await resolveType(client, 'X', { param: 'job', type: 'no_such_type', required: true, default: null }, 0).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PermanentError);
      expect((err as Error).message).toMatch(/argument 1 \("job"\) has type "no_such_type", which is not a type/);
    } finally {
      client.release();
    }
  });

  it('classifies real faults: a terminated session, a statement timeout, a lock timeout, a refused connection', async () => {
    const client = await db.pool.connect();
    const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    await db.pool.query('SELECT pg_terminate_backend($1)', [pid]);
    const terminated = await client.query('SELECT 1').catch((e: unknown) => e);
    client.release(true);
    expect(isRetryableDbError(terminated)).toBe(true);

    const timedOut = await db.pool.query(`SET statement_timeout = 50; SELECT pg_sleep(1)`).catch((e: unknown) => e);
    await db.pool.query('RESET statement_timeout');
    expect(dbFault(timedOut)).toBe('timeout');

    const [id] = await claimed('me', 1);
    const holder = await db.pool.connect();
    const waiter = await db.pool.connect();
    try {
      await holder.query('BEGIN');
      await holder.query(`SELECT 1 FROM xtbatch.batch WHERE batch_id = $1 FOR UPDATE`, [id]);
      await waiter.query('BEGIN');
      await waiter.query(`SET LOCAL lock_timeout = 50`);
      const lockTimeout = await waiter.query(`SELECT 1 FROM xtbatch.batch WHERE batch_id = $1 FOR UPDATE`, [id]).catch((e: unknown) => e);
      expect((lockTimeout as { code?: string }).code).toBe('55P03');
      expect(dbFailure('x', lockTimeout)).toBeInstanceOf(TransientError);
    } finally {
      await waiter.query('ROLLBACK').catch(() => undefined);
      await holder.query('ROLLBACK').catch(() => undefined);
      waiter.release();
      holder.release();
    }

    const refused = await new pg.Client({ host: '127.0.0.1', port: 1, connectionTimeoutMillis: 2000 }).connect().catch((e: unknown) => e);
    expect(isOutage(refused)).toBe(true);
    expect(dbFailure('x', refused)).toBeInstanceOf(TransientError);
    // A function that raised is the job's fault: permanent.
    const raised = await db.pool.query(`DO $$ BEGIN RAISE EXCEPTION 'no periods'; END $$`).catch((e: unknown) => e);
    expect(dbFailure('x', raised)).toBeInstanceOf(PermanentError);
  });
});
