/**
 * The statements for answers a broken connection lost (src/db/queries/lostAnswers.ts) on xTuple's real 4.4 schema
 * with its quickstart data, from the daemon's pool and from an ERP session (its search_path): a claim put back
 * waits again ("scheduled", not "retrying": its attempt is not counted), and only for the token it was claimed
 * with; a finished row is found, with its exit status, for its owner, attempt and token only.
 * test/chaos/lost-answers.test.ts cuts real connections.
 */
import pg from 'pg';
import { claimDue, finishMany, nextLeaseToken, type Finish } from '../../src/db/queries/batch';
import { finishedUnder, putBackLostClaims } from '../../src/db/queries/lostAnswers';
import type { TestDatabase } from '../support/db';
import { createXtupleDatabase, erpSession } from '../support/xtupleDb';

let db: TestDatabase;
let erp: pg.Client;
beforeAll(async () => {
  db = await createXtupleDatabase({ data: true, migrated: true });
  await db.pool.query(`SELECT xtbatch.setsetting('EnableBatchManager', 't')`);
  erp = await erpSession(db.url);
}, 180_000);
afterAll(async () => {
  await erp?.end();
  await db?.drop();
});

async function row(id: number) {
  const { rows } = await db.pool.query<{ started: Date | null; attempts: number; locked_by: string | null; state: string }>(
    `SELECT b.batch_started AS started, b.batch_attempts AS attempts, b.batch_locked_by AS locked_by, j.state
       FROM xtbatch.batch b JOIN xtbatch.job j USING (batch_id) WHERE batch_id = $1`, [id]);
  return rows[0]!;
}

it.each([['the daemon pool', () => db.pool], ['an ERP session', () => erp]] as const)(
  'a lost claim is put back and a written outcome found, from %s', async (name, conn) => {
    const owner = `X-${name}`;
    const { rows: [job] } = await db.pool.query<{ id: number }>(
      `INSERT INTO xtbatch.batch (batch_action, batch_settle_until) VALUES ('MetricText', now()) RETURNING batch_id AS id`);
    const id = job!.id;
    const lost = nextLeaseToken();
    expect((await claimDue(db.pool, owner, 1, 60, [], [], lost)).map((r) => r.batch_id)).toEqual([id]);

    expect(await putBackLostClaims(conn(), owner, [nextLeaseToken()])).toEqual([]);
    expect(await putBackLostClaims(conn(), 'someone else', [lost])).toEqual([]);
    expect(await putBackLostClaims(conn(), owner, [lost])).toEqual([id]);
    expect(await row(id)).toMatchObject({ started: null, attempts: 0, locked_by: null, state: 'scheduled' });
    expect(await putBackLostClaims(conn(), owner, [lost])).toEqual([]);

    const token = nextLeaseToken();
    const [claimed] = await claimDue(db.pool, owner, 1, 60, [], [], token);
    expect(claimed!.batch_attempts).toBe(1);
    const done: Finish = { batchId: id, attempt: 1, kind: 'done', message: null, delaySeconds: 0, result: null, token };
    expect([...(await finishMany(db.pool, owner, [done]))]).toEqual([id]);
    // The try again after a lost answer: the guard no longer matches, the row carries the outcome.
    expect([...(await finishMany(db.pool, owner, [done]))]).toEqual([]);
    expect(await finishedUnder(conn(), owner, [done])).toEqual(new Map([[id, '']]));
    // An ERP action's "retry" after its COMMIT's answer was lost: the row shows the "done" that committed.
    expect(await finishedUnder(conn(), owner, [{ ...done, kind: 'retry', message: 'the connection broke', delaySeconds: 30 }])).toEqual(new Map([[id, '']]));
    expect(await finishedUnder(conn(), owner, [{ ...done, token: nextLeaseToken() }])).toEqual(new Map());
    expect(await finishedUnder(conn(), owner, [{ ...done, attempt: 2 }])).toEqual(new Map());
    expect(await finishedUnder(conn(), 'someone else', [done])).toEqual(new Map());
    expect(await row(id)).toMatchObject({ attempts: 1, state: 'done' });
  }, 60_000);
