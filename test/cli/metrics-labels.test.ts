import { testConfig } from '../support/config';
import { databaseSuite } from '../support/suite';
import { waitFor } from '../support/wait';
import { get, sample, scrape, startServedDaemon, type ServedDaemon } from '../service/support';

// /metrics labels jobs by batch_action, which any ERP user can type. A daemon serving /metrics runs jobs with 200
// distinct action names it does not know: they are counted under action="other", and /metrics does not grow.
// Actions it knows (its handlers, and those mapped in xtbatch.action) keep their own label.

const suite = databaseSuite(
  `TRUNCATE xtbatch.batch, xtbatch.batchparam, xtbatch.daemon CASCADE; DELETE FROM xtbatch.action WHERE action_name = 'PingDb';
   SELECT xtbatch.setsetting('EnableBatchManager', 't')`,
);
const served: ServedDaemon[] = [];
afterEach(async () => {
  await Promise.all(served.splice(0).map((s) => s.stop()));
});

async function unfinished(): Promise<number> {
  return (await suite.db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM xtbatch.batch WHERE batch_completed IS NULL`)).rows[0]!.n;
}

/**
 * The lines of /metrics about jobs by action (the process metrics beside them may vary by themselves), without the
 * built-in nightly purge's (daemon.purgeSchedule, 03:17), which runs when the test does at that time (CI at e2dcf11).
 */
async function jobLines(s: ServedDaemon): Promise<string[]> {
  return (await get(s.server, '/metrics')).body.split('\n').filter((l) => /^xtconnect_job(s_total|_duration_seconds)/.test(l) && !l.includes('action="Purge"'));
}

it('counts 200 unknown batch_action values under action="other" without growing /metrics; known actions keep their names', async () => {
  await suite.db.pool.query(`CREATE OR REPLACE FUNCTION public.xtc_ping() RETURNS integer LANGUAGE sql AS 'SELECT 1'`);
  await suite.db.pool.query(`INSERT INTO xtbatch.action (action_name, action_schema, action_function) VALUES ('PingDb', 'public', 'xtc_ping')`);
  const s = await startServedDaemon(testConfig(suite.db.url, { daemon: { maxAttempts: 1 } }), { Noop: async () => null }, { queueCacheMs: 0 });
  served.push(s);

  await suite.db.pool.query(`INSERT INTO xtbatch.batch (batch_action, batch_scheduled) VALUES ('Noop', localtimestamp), ('PingDb', localtimestamp), ('Unknown-0', localtimestamp)`);
  await waitFor('the first three jobs to finish', async () => (await unfinished()) === 0, 20_000);
  const first = await waitFor('them to be counted', async () => {
    const m = await scrape(s.server);
    return sample(m, 'xtconnect_jobs_total', { action: 'other', outcome: 'failed' }) === 1 ? m : null;
  });
  expect(sample(first, 'xtconnect_jobs_total', { action: 'Noop', outcome: 'done' })).toBe(1);
  expect(sample(first, 'xtconnect_jobs_total', { action: 'PingDb', outcome: 'done' })).toBe(1);
  const before = await jobLines(s);

  await suite.db.pool.query(`INSERT INTO xtbatch.batch (batch_action, batch_scheduled) SELECT 'Unknown-' || i, localtimestamp FROM generate_series(1, 200) i`);
  await waitFor('the 200 jobs to finish', async () => (await unfinished()) === 0, 60_000, 100);
  const after = await waitFor('them to be counted', async () => {
    const m = await scrape(s.server);
    return sample(m, 'xtconnect_jobs_total', { action: 'other', outcome: 'failed' }) === 201 ? m : null;
  });
  const lines = await jobLines(s);
  // The same series as before the 200 (the values moved, not the number of lines), and no action name of theirs.
  expect(lines.length).toBe(before.length);
  expect(lines.filter((l) => l.includes('Unknown-'))).toEqual([]);
  const actions = new Set(after.get('xtconnect_jobs_total')!.metrics.map((m) => m.labels!.action));
  // The nightly purge, if it ran meanwhile, is a known action counted under its name (see jobLines).
  expect([...actions].filter((a) => a !== 'Purge').sort()).toEqual(['Noop', 'PingDb', 'other']);
  expect(lines).toContain('xtconnect_job_duration_seconds_count{action="other"} 201');
});
