import { simpleParser } from 'mailparser';
import fs from 'node:fs';
import path from 'node:path';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { testConfig } from '../support/config';
import { startDaemon, type RunningDaemon } from '../support/daemon';
import { waitFor } from '../support/wait';
import { submit } from './helpers';

let db: TestDatabase;
let d: RunningDaemon | null = null;

beforeAll(async () => {
  db = await createTestDatabase();
  await db.pool.query(`CREATE FUNCTION public.closeperiod(p integer) RETURNS integer LANGUAGE plpgsql AS $$
    BEGIN IF p < 0 THEN RAISE EXCEPTION 'period % is not open', p; END IF; RETURN p; END $$`);
  await db.pool.query(`INSERT INTO xtbatch.action (action_name, action_function, action_args)
    VALUES ('ClosePeriod', 'closeperiod', '[{"param": "period", "type": "integer", "required": true, "default": null}]')`);
  await db.pool.query(`SELECT xtbatch.setsetting('DefaultBatchFromEmailAddress', 'erp@example.com')`);
});
afterAll(async () => {
  await d?.stop(0);
  await db.drop();
});

describe('the done/failed notice of an action job', () => {
  it('goes to batch_email once the outcome is recorded: "done" for success, "failed" with the reason', async () => {
    const cfg = testConfig(db.url);
    d = await startDaemon(cfg);
    const ok = await submit(db, 'ClosePeriod', [{ name: 'period', value: '7', type: 'int' }], { email: 'controller@example.com' });
    const bad = await submit(db, 'ClosePeriod', [{ name: 'period', value: '-1', type: 'int' }], { email: 'controller@example.com', maxAttempts: 1 });
    const quiet = await submit(db, 'ClosePeriod', [{ name: 'period', value: '8', type: 'int' }]);
    const file = (id: number) => path.join(cfg.outboxDir, `notice-${id}.eml`);
    await waitFor('both notices written', () => fs.existsSync(file(ok)) && fs.existsSync(file(bad)));
    const done = await simpleParser(fs.readFileSync(file(ok)));
    expect(done.subject).toMatch(/ClosePeriod.*job \d+.*done/);
    expect(done.to && 'text' in done.to ? done.to.text : '').toBe('controller@example.com');
    const failed = await simpleParser(fs.readFileSync(file(bad)));
    expect(failed.subject).toMatch(/ClosePeriod.*failed/);
    expect(failed.text).toContain('period -1 is not open');
    await waitFor('the job without batch_email finished', async () =>
      (await db.pool.query(`SELECT state FROM xtbatch.job WHERE batch_id = $1`, [quiet])).rows[0].state === 'done');
    expect(fs.existsSync(file(quiet))).toBe(false);
  });
});
