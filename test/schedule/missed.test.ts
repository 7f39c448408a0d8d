import { createSchedule, type ScheduleDef } from '../../src/db/queries/schedules';
import type { MissedPolicy } from '../../src/schedule/plan';
import { upcoming, type Rule } from '../../src/schedule/rule';
import { testConfig } from '../support/config';
import { startDaemon } from '../support/daemon';
import { recordingLogger } from '../support/recordingLogger';
import { databaseSuite } from '../support/suite';
import { waitFor } from '../support/wait';

// The missed-run policies with real daemons: a series runs on time under one daemon, every daemon stops (cleanly,
// so none is registered), time passes over several occurrences, one daemon starts again. What ran after the
// restart must be exactly what README and docs/schedules.md promise: once → the latest missed occurrence, all with
// --missed-max 3 → the latest three, skip → none; occurrences inserted ahead before the stop go through the same
// policy (cancelled when it does not run them), and the log's count of what was not run matches.
//
// A series every 3 seconds (a six-field cron rule) stands for the 1-minute series of the report, so that the test
// takes seconds, not minutes; the scheduler's interval of 2 s inserts up to 4 s ahead, so at the stop at least one
// occurrence is always waiting as a row.

const suite = databaseSuite(`TRUNCATE xtbatch.batch, xtbatch.batchparam, xtbatch.schedule, xtbatch.daemon CASCADE`);
const PERIOD_S = 3;
const DOWN_MS = 14_000;

function def(name: string, missed: MissedPolicy, missedMax = 10): ScheduleDef {
  const rule: Rule = { cron: `*/${PERIOD_S} * * * * *`, every: null, timezone: 'UTC', start: new Date(0), end: null };
  return { name, source: 'cli', action: 'Tick', job: {}, rule, maxCount: null, missed, missedMax };
}

interface Occ { batch_id: number; at: Date; state: string; exitstatus: string | null }

async function occurrences(sid: number): Promise<Occ[]> {
  const { rows } = await suite.db.pool.query<Occ>(
    `SELECT batch_id, batch_occurrence AS at, state, batch_exitstatus AS exitstatus FROM xtbatch.job
      WHERE batch_schedule_id = $1 ORDER BY batch_occurrence`, [sid]);
  return rows;
}

async function dbNow(): Promise<Date> {
  return (await suite.db.pool.query<{ now: Date }>('SELECT clock_timestamp() AS now')).rows[0]!.now;
}

describe('missed-run policies across a stop of every daemon and a restart', () => {
  it('once runs 1 missed occurrence, all (--missed-max 3) runs 3, skip runs 0; waiting rows follow the policy; the log says what was not run', async () => {
    const cfg = testConfig(suite.db.url, { daemon: { schedulerIntervalSeconds: 2 } });
    const ranBy = new Map<number, 'A' | 'B'>();
    let phase: 'A' | 'B' = 'A';
    const handlers = { Tick: async (ctx: { job: { batch_id: number } }) => { ranBy.set(ctx.job.batch_id, phase); } };

    const series = {
      once: await createSchedule(suite.db.pool, def('once', 'once')),
      all: await createSchedule(suite.db.pool, def('all3', 'all', 3)),
      skip: await createSchedule(suite.db.pool, def('skip', 'skip')),
    };
    const ids = Object.values(series).map((s) => s.schedule_id);
    const rule = def('x', 'once').rule;

    // Daemon A runs every series on time, twice at least.
    const a = await startDaemon(cfg, handlers);
    suite.daemons.push(a);
    await waitFor('two on-time runs of each series under the first daemon', async () => {
      for (const id of ids) if ((await occurrences(id)).filter((o) => o.state === 'done').length < 2) return false;
      return true;
    }, 30_000, 100);
    // Stop while occurrences inserted ahead wait as rows (the scheduler keeps one or two ahead of each series).
    await waitFor('a waiting occurrence row of each series', async () => {
      for (const id of ids) if (!(await occurrences(id)).some((o) => o.state === 'scheduled')) return false;
      return true;
    }, 10_000, 50);
    await a.stop();
    suite.daemons.splice(suite.daemons.indexOf(a), 1);
    phase = 'B';
    const stoppedAt = await dbNow();
    const waitingAtStop = (await suite.db.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM xtbatch.job WHERE batch_schedule_id = ANY ($1) AND state = 'scheduled'`, [ids])).rows[0]!.n;
    // The rows inserted ahead are part of what the policies must handle: there must be some.
    expect(waitingAtStop).toBeGreaterThanOrEqual(1);
    expect((await suite.db.pool.query('SELECT * FROM xtbatch.daemon')).rows).toEqual([]);

    // No daemon for several occurrences.
    await waitFor('the downtime to pass', async () => (await dbNow()).getTime() >= stoppedAt.getTime() + DOWN_MS, DOWN_MS + 10_000, 200);

    const rec = recordingLogger();
    const b = await startDaemon(cfg, handlers, { log: rec.log });
    suite.daemons.push(b);
    const restartedAt = (await suite.db.pool.query<{ started: Date }>('SELECT daemon_started AS started FROM xtbatch.daemon')).rows[0]!.started;
    // The series carry on on time after the restart.
    await waitFor('an on-time run of each series under the second daemon', async () => {
      for (const id of ids) {
        if (!(await occurrences(id)).some((o) => o.at > restartedAt && o.state === 'done' && ranBy.get(o.batch_id) === 'B')) return false;
      }
      return true;
    }, 30_000, 100);
    await b.stop();
    suite.daemons.splice(suite.daemons.indexOf(b), 1);

    const expected = { once: 1, all: 3, skip: 0 };
    for (const [policy, s] of Object.entries(series) as [keyof typeof series, (typeof series)['once']][]) {
      const occ = await occurrences(s.schedule_id);
      const lastByA = occ.filter((o) => ranBy.get(o.batch_id) === 'A').at(-1)!.at;
      // Every occurrence after the last one A ran and before B started was missed while no daemon ran.
      const missed = upcoming(rule, lastByA, 1000).filter((t) => t < restartedAt);
      expect(missed.length).toBeGreaterThanOrEqual(Math.floor(DOWN_MS / 1000 / PERIOD_S));
      const staleRows = occ.filter((o) => o.at > lastByA && o.at < restartedAt);
      const ran = staleRows.filter((o) => ranBy.has(o.batch_id));
      const what = { policy, ran: ran.length, latest: ran.map((o) => o.at.toISOString()) };
      expect(what).toEqual({ policy, ran: expected[policy], latest: missed.slice(missed.length - expected[policy]).map((t) => t.toISOString()) });
      expect(ran.every((o) => ranBy.get(o.batch_id) === 'B' && o.state === 'done')).toBe(true);
      // The rest of the rows of missed occurrences (those inserted ahead before the stop) were cancelled, not left
      // waiting and not run, and say why.
      for (const o of staleRows.filter((r) => !ranBy.has(r.batch_id))) {
        expect({ state: o.state, exitstatus: o.exitstatus }).toEqual({ state: 'cancelled', exitstatus: expect.stringMatching(new RegExp(`missed while no daemon ran; series ${s.schedule_id} policy "${s.schedule_missed}"`)) });
      }
      // The log's account matches what ran.
      const line = rec.lines.find((l) => l.includes(`series ${s.schedule_id} (${s.schedule_name}):`));
      const m = /: (\d+) occurrence\(s\) missed while no daemon ran; policy "(\w+)" (?:runs the latest (\d+)|runs none), (\d+) were not run$/.exec(line ?? '');
      expect({ line: Boolean(m), missed: Number(m?.[1]), policy: m?.[2], ran: Number(m?.[3] ?? 0), notRun: Number(m?.[4]) })
        .toEqual({ line: true, missed: missed.length, policy: s.schedule_missed, ran: expected[policy], notRun: missed.length - expected[policy] });
    }
  }, 120_000);
});
