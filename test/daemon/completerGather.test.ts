/**
 * Under load the Completer waits a few milliseconds for more outcomes before its next statement (GATHER_MS), so that
 * one statement carries several jobs; an idle daemon's outcome never waits. Real PostgreSQL. The waits here are a
 * minute long, so that a wait that should not happen shows as a timeout, and one that should end early (enough
 * outcomes, a stop) shows by ending.
 */
import { Completer, GATHER_ENOUGH } from '../../src/daemon/completer';
import { createPool, endPool, type Pool } from '../../src/db/pool';
import { claimDue, nextLeaseToken, type Finish } from '../../src/db/queries/batch';
import { captureLogger, insertJob } from '../handlers/helpers';
import { watchNamedQueries } from '../support/daemon';
import { databaseSuite } from '../support/suite';
import { waitFor } from '../support/wait';
import { RESET_SQL } from '../sync/helpers';

const suite = databaseSuite(`${RESET_SQL} TRUNCATE xtbatch.daemon CASCADE;`);
const MINUTE = 60_000;

async function claimed(n: number): Promise<Finish[]> {
  for (let i = 0; i < n; i++) await insertJob(suite.db.pool, { batch_email: `c${i}@customer.example`, batch_subject: `job ${i}` });
  const rows = await claimDue(suite.db.pool, 'A', n, 60, [], [], nextLeaseToken());
  expect(rows).toHaveLength(n);
  return rows.map((r) => ({ batchId: r.batch_id, attempt: r.batch_attempts, token: r.lease_token!, kind: 'done', message: null, delaySeconds: 0, result: null }));
}

/** Distinct completion times of these jobs: outcomes written by one statement share its transaction's timestamp. */
async function statementsThatWrote(fs: Finish[]): Promise<number> {
  const { rows } = await suite.db.pool.query(
    `SELECT count(DISTINCT batch_completed)::int AS n, count(batch_completed)::int AS done FROM xtbatch.batch WHERE batch_id = ANY ($1)`,
    [fs.map((f) => f.batchId)]);
  expect(rows[0].done).toBe(fs.length);
  return rows[0].n;
}

describe('the Completer gathers outcomes under load', () => {
  let pool: Pool;
  let names: string[];
  beforeEach(() => {
    pool = createPool({ url: suite.db.url, max: 2, statementTimeoutMs: 0, applicationName: 'xtconnect test completer' }, captureLogger().log);
    names = [];
    watchNamedQueries(pool, (name) => names.push(name));
  });
  afterEach(() => endPool(pool));

  const completer = () => new Completer(pool, 'A', captureLogger().log, undefined, undefined, { ms: MINUTE, loadWindowMs: MINUTE });

  it('an idle daemon writes each outcome at once, one statement each', async () => {
    const c = completer();
    const [a, b] = await claimed(2);
    c.push(a!);
    expect(await c.drain(10_000)).toBe(true);
    c.push(b!);
    await waitFor('the second outcome written without a wait', async () => (await statementsThatWrote([a!])) === 1 &&
      (await suite.db.pool.query(`SELECT batch_completed IS NOT NULL AS done FROM xtbatch.batch WHERE batch_id = $1`, [b!.batchId])).rows[0].done);
    expect(names).toEqual(['xtconnect_finish', 'xtconnect_finish']);
  });

  it(`after a statement that carried several, the next waits until ${GATHER_ENOUGH} outcomes are there and writes them in one`, async () => {
    const c = completer();
    const first = await claimed(3);
    // The first goes at once; the two pushed while it is in flight go together in the second statement: load.
    for (const f of first) c.push(f);
    expect(await c.drain(10_000)).toBe(true);
    expect(names).toEqual(['xtconnect_finish', 'xtconnect_finish']);
    expect(await statementsThatWrote(first)).toBe(2);

    const next = await claimed(GATHER_ENOUGH);
    next.slice(0, -1).forEach((f) => c.push(f));
    c.push(next[GATHER_ENOUGH - 1]!);
    // Without gathering the first of these would have gone alone; with a wait that did not end at eight, this times out.
    await waitFor(`${GATHER_ENOUGH} outcomes written`, async () => (await suite.db.pool.query(
      `SELECT count(*)::int AS n FROM xtbatch.batch WHERE batch_id = ANY ($1) AND batch_completed IS NOT NULL`, [next.map((f) => f.batchId)])).rows[0].n === GATHER_ENOUGH);
    expect(await statementsThatWrote(next)).toBe(1);
    expect(names).toEqual(['xtconnect_finish', 'xtconnect_finish', 'xtconnect_finish']);
  });

  it('a stop does not wait for the gathering: drain writes what is there at once', async () => {
    const c = completer();
    const jobs = await claimed(4);
    for (const f of jobs.slice(0, 3)) c.push(f);
    expect(await c.drain(10_000)).toBe(true);
    c.push(jobs[3]!); // under load now: this one would wait a minute for company
    expect(await c.drain(10_000)).toBe(true);
    expect(await statementsThatWrote(jobs.slice(3))).toBe(1);
  });
});
