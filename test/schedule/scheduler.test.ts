import { scheduleOnce } from '../../src/daemon/scheduler';
import { createPool, type Pool } from '../../src/db/pool';
import { createSchedule, pauseSchedule, removeConfigSchedulesExcept, removeSchedule, resumeSchedule, upsertConfigSchedule, type ScheduleDef } from '../../src/db/queries/schedules';
import { silentLogger } from '../../src/log';
import { upcoming, ScheduleError, type Rule } from '../../src/schedule/rule';
import type { TestDatabase } from '../support/db';
import { databaseSuite } from '../support/suite';
import { testConfig } from '../support/config';
import { startDaemon } from '../support/daemon';
import { waitFor } from '../support/wait';

const log = silentLogger();
const suite = databaseSuite(`TRUNCATE xtbatch.batch, xtbatch.batchparam, xtbatch.schedule CASCADE`);
const daemons = suite.daemons;
let db: TestDatabase;
beforeAll(() => {
  db = suite.db;
});

const MIN = 60_000;
const opts = (now: Date) => ({ now, horizonMs: 10 * MIN, graceMs: 10 * MIN });

function def(rule: Partial<Rule>, over: Partial<ScheduleDef> = {}): ScheduleDef {
  return {
    name: null, source: 'cli', action: 'Tick', job: { email: 'ops@example.com', params: [{ name: 'site', value: 'WH1', type: 'QString' }] },
    rule: { cron: null, every: null, timezone: 'UTC', start: new Date('2026-01-01T00:00:00Z'), end: null, ...rule },
    maxCount: null, missed: 'once', missedMax: 10, ...over,
  };
}

async function occurrences(scheduleId: number): Promise<string[]> {
  const { rows } = await db.pool.query(`SELECT batch_occurrence FROM xtbatch.batch WHERE batch_schedule_id = $1 ORDER BY 1`, [scheduleId]);
  return rows.map((r) => (r.batch_occurrence as Date).toISOString());
}

describe('the scheduler', () => {
  it('inserts each occurrence as a job with the series\' parameters, ahead of time by the horizon', async () => {
    const s = await createSchedule(db.pool, def({ every: { n: 15, unit: 'minutes' } }), new Date('2026-01-01T00:00:00Z'));
    const r = await scheduleOnce(db.pool, log, opts(new Date('2026-01-01T00:14:00Z')));
    expect(r.inserted).toBe(1);
    expect(await occurrences(s.schedule_id)).toEqual(['2026-01-01T00:15:00.000Z']);
    const job = (await db.pool.query(`SELECT * FROM xtbatch.batch WHERE batch_schedule_id = $1`, [s.schedule_id])).rows[0];
    expect(job).toMatchObject({ batch_action: 'Tick', batch_email: 'ops@example.com' });
    const params = await db.pool.query(`SELECT batchparam_name, batchparam_value, batchparam_type FROM xtbatch.batchparam WHERE batchparam_batch_id = $1`, [job.batch_id]);
    expect(params.rows).toEqual([{ batchparam_name: 'site', batchparam_value: 'WH1', batchparam_type: 'QString' }]);
    expect((await scheduleOnce(db.pool, log, opts(new Date('2026-01-01T00:14:30Z')))).inserted).toBe(0);
  });

  it('three daemons racing on 200 series for two simulated days produce exactly one row per occurrence', async () => {
    const start = new Date('2026-03-07T00:00:00Z');
    const rules: Partial<Rule>[] = [
      { every: { n: 7, unit: 'minutes' } }, { every: { n: 1, unit: 'hours' } }, { cron: '*/20 * * * *' },
      { cron: '30 2 * * *', timezone: 'America/New_York' }, { cron: '0 9 * * 1-5', timezone: 'Europe/Berlin' },
    ];
    const ids: { id: number; rule: Rule }[] = [];
    for (let i = 0; i < 200; i++) {
      const d = def({ ...rules[i % rules.length], start });
      ids.push({ id: (await createSchedule(db.pool, d, start)).schedule_id, rule: d.rule });
    }
    const pools: Pool[] = [0, 1, 2].map(() => createPool({ url: db.url, max: 3, statementTimeoutMs: 0, applicationName: 'racer' }, log));
    const end = new Date(start.getTime() + 2 * 24 * 60 * MIN);
    try {
      for (let t = start.getTime(); t <= end.getTime(); t += 15 * MIN) {
        // The daemons' claim loops run each occurrence at its time (none is left waiting past it to be judged missed).
        await db.pool.query(`UPDATE xtbatch.batch SET batch_started = localtimestamp, batch_completed = localtimestamp
                              WHERE batch_completed IS NULL AND batch_occurrence <= $1`, [new Date(t + 20_000)]);
        // Each simulated daemon sees a slightly different clock, as real ones do.
        await Promise.all(pools.map((p, i) => scheduleOnce(p, log, { now: new Date(t + i * 7_000), horizonMs: 20 * MIN, graceMs: 30 * MIN, batchSize: 50 })));
      }
    } finally {
      await Promise.all(pools.map((p) => p.end()));
    }
    const horizonEnd = new Date(end.getTime() + 2 * 7_000 + 20 * MIN);
    const { rows } = await db.pool.query(`SELECT batch_schedule_id AS id, array_agg(batch_occurrence ORDER BY batch_occurrence) AS at
      FROM xtbatch.batch GROUP BY 1`);
    const got = new Map(rows.map((r) => [r.id as number, (r.at as Date[]).map((d) => d.toISOString())]));
    let total = 0;
    for (const { id, rule } of ids) {
      const expected = upcoming(rule, new Date(start.getTime()), 2000).filter((d) => d <= horizonEnd).map((d) => d.toISOString());
      expect(got.get(id) ?? []).toEqual(expected);
      total += expected.length;
    }
    expect(total).toBeGreaterThan(10_000);
  }, 120_000);

  it('after downtime runs the latest missed occurrence once by default', async () => {
    const s = await createSchedule(db.pool, def({ cron: '0 * * * *' }), new Date('2026-01-01T00:00:00Z'));
    await scheduleOnce(db.pool, log, opts(new Date('2026-01-01T10:30:00Z')));
    expect(await occurrences(s.schedule_id)).toEqual(['2026-01-01T10:00:00.000Z']);
  });

  it('after downtime runs every missed occurrence up to the bound with "all"', async () => {
    const s = await createSchedule(db.pool, def({ cron: '0 * * * *' }, { missed: 'all', missedMax: 3 }), new Date('2026-01-01T00:00:00Z'));
    await scheduleOnce(db.pool, log, opts(new Date('2026-01-01T10:30:00Z')));
    expect(await occurrences(s.schedule_id)).toEqual(['2026-01-01T08:00:00.000Z', '2026-01-01T09:00:00.000Z', '2026-01-01T10:00:00.000Z']);
  });

  it('after downtime skips to the next with "skip"', async () => {
    const s = await createSchedule(db.pool, def({ cron: '0 * * * *' }, { missed: 'skip' }), new Date('2026-01-01T00:00:00Z'));
    await scheduleOnce(db.pool, log, opts(new Date('2026-01-01T10:55:00Z')));
    expect(await occurrences(s.schedule_id)).toEqual(['2026-01-01T11:00:00.000Z']);
  });

  it('stops at the maximum count and at the end date', async () => {
    const a = await createSchedule(db.pool, def({ every: { n: 1, unit: 'minutes' } }, { maxCount: 3 }), new Date('2026-01-01T00:00:00Z'));
    const b = await createSchedule(db.pool, def({ every: { n: 2, unit: 'minutes' }, end: new Date('2026-01-01T00:05:00Z') }), new Date('2026-01-01T00:00:00Z'));
    for (let m = 0; m < 30; m += 5) await scheduleOnce(db.pool, log, opts(new Date(Date.parse('2026-01-01T00:00:00Z') + m * MIN)));
    expect(await occurrences(a.schedule_id)).toHaveLength(3);
    expect(await occurrences(b.schedule_id)).toEqual(['2026-01-01T00:02:00.000Z', '2026-01-01T00:04:00.000Z']);
    const ended = await db.pool.query(`SELECT schedule_next FROM xtbatch.schedule ORDER BY schedule_id`);
    expect(ended.rows.map((r) => r.schedule_next)).toEqual([null, null]);
  });

  it('refuses bad schedules before storing them', async () => {
    await expect(createSchedule(db.pool, def({ cron: '0 25 * * *' }))).rejects.toThrow(ScheduleError);
    await expect(createSchedule(db.pool, def({ cron: '0 2 * * *', timezone: 'Europe/Atlantis' }))).rejects.toThrow(/unknown time zone "Europe\/Atlantis"/);
    await expect(createSchedule(db.pool, def({ every: { n: 0, unit: 'hours' } }))).rejects.toThrow(/at least 1/);
    expect((await db.pool.query(`SELECT count(*)::int AS n FROM xtbatch.schedule`)).rows[0].n).toBe(0);
  });

  it('pause cancels waiting occurrences; resume carries on from now without making up the pause', async () => {
    const s = await createSchedule(db.pool, def({ every: { n: 1, unit: 'hours' } }), new Date('2026-01-01T00:00:00Z'));
    await scheduleOnce(db.pool, log, { ...opts(new Date('2026-01-01T00:55:00Z')), horizonMs: 10 * MIN });
    expect(await pauseSchedule(db.pool, s.schedule_id)).toBe(true);
    const states = await db.pool.query(`SELECT state FROM xtbatch.job WHERE batch_schedule_id = $1`, [s.schedule_id]);
    expect(states.rows.map((r) => r.state)).toEqual(['cancelled']);
    expect((await scheduleOnce(db.pool, log, opts(new Date('2026-01-01T05:55:00Z')))).inserted).toBe(0);
    await resumeSchedule(db.pool, s.schedule_id, new Date('2026-01-01T05:56:00Z'));
    await scheduleOnce(db.pool, log, opts(new Date('2026-01-01T05:56:00Z')));
    expect(await occurrences(s.schedule_id)).toEqual(['2026-01-01T01:00:00.000Z', '2026-01-01T06:00:00.000Z']);
  });

  it('remove stops the series for good', async () => {
    const s = await createSchedule(db.pool, def({ every: { n: 1, unit: 'hours' } }), new Date('2026-01-01T00:00:00Z'));
    await scheduleOnce(db.pool, log, opts(new Date('2026-01-01T00:55:00Z')));
    await removeSchedule(db.pool, s.schedule_id);
    expect((await scheduleOnce(db.pool, log, opts(new Date('2026-01-02T00:00:00Z')))).inserted).toBe(0);
    expect((await db.pool.query(`SELECT state FROM xtbatch.job WHERE batch_schedule_id = $1`, [s.schedule_id])).rows.map((r) => r.state)).toEqual(['cancelled']);
  });

  it('config series are upserted by name and removed when they leave the config', async () => {
    const d = def({ cron: '30 2 * * *', timezone: 'Europe/Berlin' }, { name: 'nightly', source: 'config', action: 'ServerMaintenance' });
    expect(await upsertConfigSchedule(db.pool, d)).toBe('created');
    expect(await upsertConfigSchedule(db.pool, d)).toBe('unchanged');
    expect(await upsertConfigSchedule(db.pool, { ...d, rule: { ...d.rule, cron: '45 2 * * *' } })).toBe('updated');
    expect(await removeConfigSchedulesExcept(db.pool, ['purge'])).toEqual(['nightly']);
    expect((await db.pool.query(`SELECT schedule_removed IS NOT NULL AS gone FROM xtbatch.schedule`)).rows[0].gone).toBe(true);
  });

  it('a failing occurrence leaves the series running: the next occurrence is still scheduled and runs', async () => {
    let calls = 0;
    daemons.push(await startDaemon(testConfig(db.url, { daemon: { schedulerIntervalSeconds: 1 } }), {
      Tick: async () => {
        calls++;
        if (calls === 1) throw new Error('first one fails');
      },
    }, {}));
    // Every two seconds from now on, while the daemon runs: two occurrences, both on time.
    const s = await createSchedule(db.pool, def({ cron: '*/2 * * * * *' }, { maxCount: 2 }), new Date());
    await daemons[0]!.daemon.runSchedulerNow();
    await waitFor('first occurrence retried and done, second done', async () => {
      const { rows } = await db.pool.query(`SELECT state FROM xtbatch.job WHERE batch_schedule_id = $1`, [s.schedule_id]);
      return rows.length === 2 && rows.every((r) => r.state === 'done');
    }, 20_000, 100);
    const first = (await db.pool.query(`SELECT batch_attempts, batch_last_error FROM xtbatch.batch WHERE batch_schedule_id = $1 ORDER BY batch_occurrence LIMIT 1`, [s.schedule_id])).rows[0];
    expect(first).toEqual({ batch_attempts: 2, batch_last_error: 'attempt 1 of 5 failed: first one fails' });
  }, 120_000);
});
