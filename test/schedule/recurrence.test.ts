import type { TestDatabase } from '../support/db';
import { databaseSuite } from '../support/suite';
import { testConfig } from '../support/config';
import { startDaemon } from '../support/daemon';
import { waitFor } from '../support/wait';
import { PermanentError } from '../../src/errors';

const suite = databaseSuite(`TRUNCATE xtbatch.batch, xtbatch.batchparam CASCADE`);
const daemons = suite.daemons;
let db: TestDatabase;
beforeAll(() => {
  db = suite.db;
});

async function next(anchor: string, unit: string, after: string): Promise<string> {
  const { rows } = await db.pool.query(`SELECT xtbatch.next_recurrence($1::timestamp, $2, $3::timestamp)::text AS t`, [anchor, unit, after]);
  return rows[0].t;
}

describe('xtbatch.next_recurrence (xTuple\'s D, W, M)', () => {
  it('advances by a day and a week from the anchor', async () => {
    expect(await next('2026-03-07 02:30', 'D', '2026-03-07 02:30')).toBe('2026-03-08 02:30:00');
    expect(await next('2026-03-07 02:30', 'D', '2026-03-20 09:00')).toBe('2026-03-21 02:30:00');
    expect(await next('2026-03-07 02:30', 'W', '2026-03-07 02:30')).toBe('2026-03-14 02:30:00');
    expect(await next('2026-03-07 02:30', 'W', '2026-03-15 00:00')).toBe('2026-03-21 02:30:00');
  });

  it('puts a series on the 31st on the last day of shorter months, and back on the 31st after them', async () => {
    const anchor = '2026-01-31 08:00';
    const got: string[] = [];
    let after = anchor;
    for (let i = 0; i < 6; i++) got.push((after = await next(anchor, 'M', after)));
    expect(got).toEqual(['2026-02-28 08:00:00', '2026-03-31 08:00:00', '2026-04-30 08:00:00', '2026-05-31 08:00:00', '2026-06-30 08:00:00', '2026-07-31 08:00:00']);
  });

  it('knows leap years', async () => {
    expect(await next('2028-01-31 08:00', 'M', '2028-01-31 08:00')).toBe('2028-02-29 08:00:00');
    expect(await next('2028-02-29 08:00', 'M', '2028-02-29 08:00')).toBe('2028-03-29 08:00:00');
    expect(await next('2027-12-29 08:00', 'M', '2028-01-30 00:00')).toBe('2028-02-29 08:00:00');
  });

  it('returns nothing for N and the anchor when it is still ahead', async () => {
    expect(await next('2026-01-01', 'N', '2026-01-02')).toBeNull();
    expect(await next('2026-05-01 00:00', 'D', '2026-01-01 00:00')).toBe('2026-05-01 00:00:00');
  });
});

async function insertRecurring(unit: string, scheduled: string, action = 'Tick'): Promise<number> {
  const { rows } = await db.pool.query(
    `INSERT INTO xtbatch.batch (batch_action, batch_scheduled, batch_reschedinterval, batch_email) VALUES ($1, $2::timestamp, $3, 'ops@example.com') RETURNING batch_id`,
    [action, scheduled, unit]);
  await db.pool.query(`INSERT INTO xtbatch.batchparam (batchparam_batch_id, batchparam_order, batchparam_name, batchparam_value, batchparam_type) VALUES ($1, 1, 'warehouse', 'WH1', 'QString')`, [rows[0].batch_id]);
  return rows[0].batch_id;
}

async function series(first: number) {
  return (await db.pool.query(`SELECT batch_id, batch_scheduled::text AS at, state, batch_recurring_batch_id AS rid, batch_exitstatus
      FROM xtbatch.job WHERE batch_id = $1 OR batch_recurring_batch_id = $1 ORDER BY batch_scheduled`, [first])).rows;
}

describe('xTuple recurrence through the daemon', () => {
  it('inserts the next occurrence when one completes, linked to the first, with its parameters', async () => {
    daemons.push(await startDaemon(testConfig(db.url), { Tick: async () => undefined }));
    const { rows: [{ t }] } = await db.pool.query(`SELECT (date_trunc('minute', localtimestamp) - interval '1 minute')::text AS t`);
    const first = await insertRecurring('D', t);
    await waitFor('next occurrence', async () => (await series(first)).length === 2);
    const rows = await series(first);
    expect(rows[0]).toMatchObject({ batch_id: first, state: 'done', rid: first });
    expect(rows[1]).toMatchObject({ state: 'scheduled', rid: first });
    const { rows: [{ d }] } = await db.pool.query(`SELECT ($1::timestamp + interval '1 day')::text AS d`, [t]);
    expect(rows[1].at).toBe(d);
    const params = await db.pool.query(`SELECT batchparam_name, batchparam_value FROM xtbatch.batchparam WHERE batchparam_batch_id = $1`, [rows[1].batch_id]);
    expect(params.rows).toEqual([{ batchparam_name: 'warehouse', batchparam_value: 'WH1' }]);
  });

  it('keeps the series alive when an occurrence fails; the failure stays on its own row', async () => {
    daemons.push(await startDaemon(testConfig(db.url), { Boom: async () => { throw new PermanentError('the warehouse is closed'); } }));
    const first = await insertRecurring('W', '2026-01-05 06:00', 'Boom');
    await waitFor('next occurrence', async () => (await series(first)).length === 2);
    const rows = await series(first);
    expect(rows[0]).toMatchObject({ state: 'failed', batch_exitstatus: 'the warehouse is closed' });
    expect(rows[1].state).toBe('scheduled');
    // Overdue since January: the next one is the first on the weekly grid after now, not a flood of catch-ups.
    const { rows: [{ ok }] } = await db.pool.query(`SELECT $1::timestamp > localtimestamp AND $1::timestamp <= localtimestamp + interval '7 days'
      AND extract(dow FROM $1::timestamp) = 1 AND $1::timestamp::time = '06:00' AS ok`, [rows[1].at]);
    expect(ok).toBe(true);
  });

  it('spawns each occurrence once even when the completion is replayed', async () => {
    const first = await insertRecurring('M', '2026-01-31 08:00');
    const spawned = await Promise.all([1, 2, 3].map(() => db.pool.query(`SELECT xtbatch.spawn_recurrence($1, '2026-02-01') AS id`, [first])));
    expect(spawned.map((r) => r.rows[0].id).filter((id) => id !== null)).toHaveLength(1);
    expect((await series(first)).map((r) => r.at)).toEqual(['2026-01-31 08:00:00', '2026-02-28 08:00:00']);
  });

  it('rescheduling an occurrence moves only that one; the series stays on its grid', async () => {
    const first = await insertRecurring('D', '2026-01-01 09:00');
    const second = (await db.pool.query(`SELECT xtbatch.spawn_recurrence($1, '2026-01-01 09:30') AS id`, [first])).rows[0].id;
    await db.pool.query(`SELECT xtbatch.rescheduleBatchItem($1, '2026-01-02 17:45')`, [second]);
    const third = (await db.pool.query(`SELECT xtbatch.spawn_recurrence($1, '2026-01-02 18:00') AS id`, [second])).rows[0].id;
    const { rows } = await db.pool.query(`SELECT batch_scheduled::text AS at FROM xtbatch.batch WHERE batch_id = $1`, [third]);
    expect(rows[0].at).toBe('2026-01-03 09:00:00');
  });

  it('cancelling the waiting occurrence ends the series', async () => {
    daemons.push(await startDaemon(testConfig(db.url), { Tick: async () => undefined }));
    const first = await insertRecurring('D', '2026-01-01 09:00');
    await waitFor('next occurrence', async () => (await series(first)).length === 2);
    const waiting = (await series(first))[1].batch_id;
    await db.pool.query(`SELECT xtbatch.cancelBatchItem($1)`, [waiting]);
    await db.pool.query(`SELECT xtbatch.rescheduleBatchItem($1, localtimestamp)`, [first]);
    await waitFor('the first ran again', async () => (await series(first))[0].state === 'done');
    const rows = await series(first);
    expect(rows.map((r) => r.state).sort()).toEqual(['cancelled', 'done']);
  });
});
