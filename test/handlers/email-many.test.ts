/**
 * Several daemons sharing one database and one SMTP server: every Email job is sent exactly once.
 */
import type { TestDatabase } from '../support/db';
import { databaseSuite } from '../support/suite';
import { startDaemon } from '../support/daemon';
import { startSmtp } from '../support/smtp';
import { waitFor } from '../support/wait';
import { batchIdOf, configMaker, smtpSection } from './helpers';

const { config, cleanup } = configMaker();
const suite = databaseSuite(`TRUNCATE xtbatch.batch, xtbatch.batchparam, xtbatch.daemon CASCADE`);
const daemons = suite.daemons;
const servers = suite.servers;
let db: TestDatabase;
beforeAll(() => {
  db = suite.db;
});
afterAll(() => cleanup());

it('three daemons and 300 Email jobs to one SMTP server: exactly 300 messages, each job once, each to its own recipient', async () => {
  const smtp = await startSmtp();
  servers.push(smtp);
  for (let i = 0; i < 3; i++) {
    daemons.push(await startDaemon(config(db.url, { smtp: smtpSection(smtp.port) }), {}, { id: `mail-d${i}` }));
  }
  const { rows } = await db.pool.query<{ id: number; email: string }>(
    `SELECT xtbatch.submitEmailToBatch('bulk@example.com', 'user' || g || '@example.com', '', 'Statement ' || g,
                                       'Statement body ' || g, '', NULL::timestamp, false) AS id,
            'user' || g || '@example.com' AS email
       FROM generate_series(1, 300) AS g`,
  );
  expect(rows).toHaveLength(300);
  const emailOf = new Map(rows.map((r) => [String(r.id), r.email]));

  await waitFor('all 300 jobs finished', async () =>
    (await db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM xtbatch.batch WHERE batch_completed IS NOT NULL`)).rows[0]!.n === 300,
    45_000, 50);

  const { rows: outcome } = await db.pool.query<{ ok: number; attempts: number; daemons: number }>(
    `SELECT count(*) FILTER (WHERE batch_exitstatus = '')::int AS ok, max(batch_attempts)::int AS attempts,
            count(DISTINCT batch_locked_by)::int AS daemons
       FROM xtbatch.batch`);
  expect(outcome[0]).toEqual({ ok: 300, attempts: 1, daemons: 3 });

  expect(smtp.messages).toHaveLength(300);
  const seen = new Map<string, number>();
  for (const m of smtp.messages) {
    const id = batchIdOf(m)!;
    seen.set(id, (seen.get(id) ?? 0) + 1);
    expect(m.envelope.to).toEqual([emailOf.get(id)]);
  }
  expect([...seen.keys()].sort()).toEqual([...emailOf.keys()].sort());
  expect([...seen.values()].every((n) => n === 1)).toBe(true);
});
