import { planOccurrences } from '../../src/schedule/plan';
import { DateTime } from 'luxon';
import { formatInZone, latestBefore, nextAfter, parseEvery, upcoming, validateRule, ScheduleError, type Rule } from '../../src/schedule/rule';

const rule = (over: Partial<Rule>): Rule => ({ cron: null, every: null, timezone: 'UTC', start: new Date('2026-01-01T00:00:00Z'), end: null, ...over });
const minute = (t: Date, tz: string) => DateTime.fromJSDate(t, { zone: tz }).toFormat('yyyy-MM-dd HH:mm ZZZZ');
const local = (r: Rule, from: string, n: number) => upcoming(r, new Date(from), n).map((t) => minute(t, r.timezone));

describe('cron in a time zone', () => {
  it('runs a daily 02:30 once on the day New York springs forward (at 03:00, the first time that exists)', () => {
    expect(local(rule({ cron: '30 2 * * *', timezone: 'America/New_York' }), '2026-03-06T12:00:00Z', 4)).toEqual([
      '2026-03-07 02:30 EST', '2026-03-08 03:00 EDT', '2026-03-09 02:30 EDT', '2026-03-10 02:30 EDT',
    ]);
  });

  it('runs a daily 01:30 once on the day New York falls back (01:30 happens twice)', () => {
    expect(local(rule({ cron: '30 1 * * *', timezone: 'America/New_York' }), '2026-10-30T12:00:00Z', 4)).toEqual([
      '2026-10-31 01:30 EDT', '2026-11-01 01:30 EDT', '2026-11-02 01:30 EST', '2026-11-03 01:30 EST',
    ]);
  });

  it('runs a daily 02:30 once on each of Berlin\'s clock changes', () => {
    const r = rule({ cron: '30 2 * * *', timezone: 'Europe/Berlin' });
    expect(local(r, '2026-03-27T12:00:00Z', 3)).toEqual(['2026-03-28 02:30 GMT+1', '2026-03-29 03:00 GMT+2', '2026-03-30 02:30 GMT+2']);
    // 02:30 happens twice on 25 October (summer time, then winter time): it runs at the first only.
    expect(local(r, '2026-10-23T12:00:00Z', 3)).toEqual(['2026-10-24 02:30 GMT+2', '2026-10-25 02:30 GMT+2', '2026-10-26 02:30 GMT+1']);
  });

  it('keeps an hourly job at one run per real hour through the fall-back hour', () => {
    const times = upcoming(rule({ cron: '0 * * * *', timezone: 'America/New_York' }), new Date('2026-11-01T03:30:00Z'), 4);
    expect(times.map((t) => t.toISOString())).toEqual(['2026-11-01T04:00:00.000Z', '2026-11-01T05:00:00.000Z', '2026-11-01T06:00:00.000Z', '2026-11-01T07:00:00.000Z']);
  });

  it('stops at the end date', () => {
    const r = rule({ cron: '0 9 * * *', end: new Date('2026-01-03T09:00:00Z') });
    expect(upcoming(r, new Date('2026-01-01T00:00:00Z'), 10).map((t) => t.toISOString())).toEqual(['2026-01-01T09:00:00.000Z', '2026-01-02T09:00:00.000Z', '2026-01-03T09:00:00.000Z']);
    expect(nextAfter(r, new Date('2026-01-03T09:00:00Z'))).toBeNull();
  });
});

describe('every-N rules', () => {
  it('keeps the local time of day for "every 1 day" across both clock changes, computed from the anchor', () => {
    const r = rule({ every: { n: 1, unit: 'days' }, timezone: 'America/New_York', start: new Date('2026-03-06T07:30:00Z') });
    // 02:30 does not exist on 8 March: it runs at 03:00, the first time that does, as the cron rule "30 2 * * *" does.
    expect(local(r, '2026-03-06T07:30:00Z', 4)).toEqual(['2026-03-07 02:30 EST', '2026-03-08 03:00 EDT', '2026-03-09 02:30 EDT', '2026-03-10 02:30 EDT']);
    expect(local(r, '2026-10-31T00:00:00Z', 3)).toEqual(['2026-10-31 02:30 EDT', '2026-11-01 02:30 EST', '2026-11-02 02:30 EST']);
  });

  it.each([
    ['Europe/Berlin', '2027-03-20T02:30:00+01:00', '2027-03-26T12:00:00Z', ['2027-03-27 02:30 GMT+1', '2027-03-28 03:00 GMT+2', '2027-03-29 02:30 GMT+2']],
    ['America/New_York', '2027-03-01T02:30:00-05:00', '2027-03-12T12:00:00Z', ['2027-03-13 02:30 EST', '2027-03-14 03:00 EDT', '2027-03-15 02:30 EDT']],
    // Lord Howe Island moves its clocks by half an hour: 02:15 does not exist on 3 October 2027 (02:00 → 02:30).
    ['Australia/Lord_Howe', '2027-09-01T02:15:00+10:30', '2027-10-01T12:00:00Z', ['2027-10-02 02:15 GMT+10:30', '2027-10-03 02:30 GMT+11', '2027-10-04 02:15 GMT+11']],
  ])('"--every 1d" from a time the clocks skip runs at the first time after the gap, as cron does (%s)', (timezone, start, from, expected) => {
    const every = rule({ every: { n: 1, unit: 'days' }, timezone, start: new Date(start) });
    const [hh, mm] = expected[0]!.slice(11, 16).split(':');
    const cron = rule({ cron: `${Number(mm)} ${Number(hh)} * * *`, timezone });
    expect(local(every, from, 3)).toEqual(expected);
    expect(local(cron, from, 3)).toEqual(expected);
    // Looking back from after the gap finds the same instants (the missed-run policies use this).
    const after = upcoming(every, new Date(from), 3);
    expect(latestBefore(every, new Date(after[2]!.getTime() + 1), 3, new Date(from))).toEqual(after);
  });

  it('shows times to the second in the series\' zone', () => {
    expect(formatInZone(new Date('2027-03-14T07:00:05Z'), 'America/New_York')).toBe('2027-03-14 03:00:05 EDT');
  });

  it('counts minutes and hours as elapsed time from the anchor', () => {
    const r = rule({ every: { n: 15, unit: 'minutes' }, start: new Date('2026-01-01T00:05:00Z') });
    expect(nextAfter(r, new Date('2026-01-01T00:00:00Z'))!.toISOString()).toBe('2026-01-01T00:05:00.000Z');
    expect(nextAfter(r, new Date('2026-01-01T00:05:00Z'))!.toISOString()).toBe('2026-01-01T00:20:00.000Z');
    expect(nextAfter(r, new Date('2026-06-30T23:59:00Z'))!.toISOString()).toBe('2026-07-01T00:05:00.000Z');
    const h = rule({ every: { n: 6, unit: 'hours' }, timezone: 'Europe/Berlin', start: new Date('2026-03-29T00:00:00Z') });
    expect(upcoming(h, new Date('2026-03-29T00:00:00Z'), 2).map((t) => t.toISOString())).toEqual(['2026-03-29T06:00:00.000Z', '2026-03-29T12:00:00.000Z']);
  });

  it('never runs before the start', () => {
    const r = rule({ cron: '* * * * *', start: new Date('2026-05-01T00:00:00Z') });
    expect(nextAfter(r, new Date('2020-01-01T00:00:00Z'))!.toISOString()).toBe('2026-05-01T00:00:00.000Z');
  });
});

describe('refusing bad schedules', () => {
  it.each([
    [() => validateRule(rule({ cron: '61 * * * *' })), /invalid cron expression "61 \* \* \* \*"/],
    [() => validateRule(rule({ cron: 'every day' })), /invalid cron expression "every day"/],
    [() => validateRule(rule({ cron: '0 0 30 2 *' })), /never matches a time/],
    [() => validateRule(rule({ cron: '0 2 * * *', timezone: 'Mars/Olympus' })), /unknown time zone "Mars\/Olympus"/],
    [() => parseEvery('0m'), /must be at least 1/],
    [() => parseEvery('often'), /is not an interval/],
    [() => validateRule(rule({ every: { n: 0, unit: 'minutes' } })), /at least 1/],
    [() => validateRule(rule({ cron: null, every: null })), /exactly one of/],
    [() => validateRule(rule({ cron: '0 * * * *', end: new Date('2025-01-01T00:00:00Z') })), /end must be after start/],
  ])('%#', (fn, message) => {
    expect(fn).toThrow(ScheduleError);
    expect(fn).toThrow(message);
  });
});

describe('planOccurrences', () => {
  const hourly = rule({ cron: '0 * * * *' });
  const at = (s: string) => new Date(s);
  const state = (over: object = {}) => ({ next: at('2026-01-01T00:00:00Z'), count: 0, maxCount: null, missed: 'once' as const, missedMax: 3, ...over });
  const iso = (d: Date[]) => d.map((t) => t.toISOString().slice(11, 16));
  const running = { covered: () => true, graceMs: 60_000 };
  const downFor = (ms: number) => ({ covered: () => false, graceMs: ms });

  it('inserts on-time occurrences up to the horizon; one a daemon was running for, ten seconds late, runs too', () => {
    const p = planOccurrences(hourly, state(), at('2026-01-01T00:00:10Z'), at('2026-01-01T02:00:00Z'), running);
    expect(iso(p.occurrences)).toEqual(['00:00', '01:00', '02:00']);
    expect(p.next!.toISOString()).toBe('2026-01-01T03:00:00.000Z');
    expect(p.count).toBe(3);
    expect({ missed: p.missed, skipped: p.skipped }).toEqual({ missed: 0, skipped: 0 });
  });

  it('runs the latest missed occurrence once after downtime (default)', () => {
    const p = planOccurrences(hourly, state(), at('2026-01-01T10:30:00Z'), at('2026-01-01T10:31:00Z'), downFor(60_000));
    expect(iso(p.occurrences)).toEqual(['10:00']);
    expect({ missed: p.missed, ran: p.ranMissed, skipped: p.skipped }).toEqual({ missed: 11, ran: 1, skipped: 10 });
    expect(p.next!.toISOString()).toBe('2026-01-01T11:00:00.000Z');
  });

  it('runs every missed occurrence up to the bound with "all"', () => {
    const p = planOccurrences(hourly, state({ missed: 'all' }), at('2026-01-01T10:30:00Z'), at('2026-01-01T10:31:00Z'), downFor(60_000));
    expect(iso(p.occurrences)).toEqual(['08:00', '09:00', '10:00']);
    expect(p.skipped).toBe(8);
  });

  it('runs none of them with "skip" and carries on', () => {
    const p = planOccurrences(hourly, state({ missed: 'skip' }), at('2026-01-01T10:30:00Z'), at('2026-01-01T11:00:00Z'), downFor(60_000));
    expect(iso(p.occurrences)).toEqual(['11:00']);
    expect(p.skipped).toBe(11);
  });

  // The grace tolerates a late scheduler pass of a running daemon, never a downtime: an occurrence due a few seconds
  // before a daemon started again, with none running at its time, was missed like the older ones.
  it.each([
    ['once', 1, ['00:04']],
    ['all', 3, ['00:02', '00:03', '00:04']],
    ['skip', 0, []],
  ] as const)('a minutely series after four minutes down, restarted 10 s after an occurrence: %s runs %i of them', (missed, n, expected) => {
    const minutely = rule({ cron: '* * * * *' });
    const p = planOccurrences(minutely, state({ missed, next: at('2026-01-01T00:01:00Z') }), at('2026-01-01T00:04:10Z'), at('2026-01-01T00:05:00Z'),
      { covered: (t) => t >= at('2026-01-01T00:04:09Z'), graceMs: 60_000 });
    expect(iso(p.occurrences)).toEqual([...expected, '00:05']);
    expect({ missed: p.missed, ran: p.ranMissed, skipped: p.skipped }).toEqual({ missed: 4, ran: n, skipped: 4 - n });
  });

  it('puts waiting rows whose time passed while no daemon ran under the same policy, and cancels the rest', () => {
    const minutely = rule({ cron: '* * * * *' });
    // Inserted ahead before the stop: 00:01 and 00:02 wait; 00:03 is the first not inserted.
    const base = { next: at('2026-01-01T00:03:00Z'), count: 2 };
    const stale = [at('2026-01-01T00:01:00Z'), at('2026-01-01T00:02:00Z')];
    const now = at('2026-01-01T00:05:30Z');
    const horizon = at('2026-01-01T00:06:00Z');
    const once = planOccurrences(minutely, state({ ...base }), now, horizon, { stale, graceMs: 60_000 });
    expect({ insert: iso(once.occurrences), cancel: iso(once.cancel), missed: once.missed, ran: once.ranMissed }).toEqual(
      { insert: ['00:05', '00:06'], cancel: ['00:01', '00:02'], missed: 5, ran: 1 });
    expect(once.count).toBe(2);
    const all = planOccurrences(minutely, state({ ...base, missed: 'all', missedMax: 4 }), now, horizon, { stale, graceMs: 60_000 });
    expect({ insert: iso(all.occurrences), cancel: iso(all.cancel), ran: all.ranMissed, skipped: all.skipped }).toEqual(
      { insert: ['00:03', '00:04', '00:05', '00:06'], cancel: ['00:01'], ran: 4, skipped: 1 });
    const skip = planOccurrences(minutely, state({ ...base, missed: 'skip' }), now, horizon, { stale, graceMs: 60_000 });
    expect({ insert: iso(skip.occurrences), cancel: iso(skip.cancel), skipped: skip.skipped }).toEqual(
      { insert: ['00:06'], cancel: ['00:01', '00:02'], skipped: 5 });
    // A short stop: only the waiting row was missed. "once" leaves it to run.
    const short = planOccurrences(minutely, state({ next: at('2026-01-01T00:02:00Z'), count: 1 }), at('2026-01-01T00:01:20Z'), at('2026-01-01T00:02:00Z'),
      { stale: [at('2026-01-01T00:01:00Z')], graceMs: 60_000 });
    expect({ insert: iso(short.occurrences), cancel: short.cancel, ran: short.ranMissed }).toEqual({ insert: ['00:02'], cancel: [], ran: 1 });
  });

  it('stops at the maximum count', () => {
    const p = planOccurrences(hourly, state({ count: 8, maxCount: 10 }), at('2026-01-01T00:00:10Z'), at('2026-01-01T05:00:00Z'), running);
    expect(iso(p.occurrences)).toEqual(['00:00', '01:00']);
    expect(p.next).toBeNull();
    expect(p.count).toBe(10);
  });

  it('stays bounded after a year of downtime of a minutely series', () => {
    const t0 = Date.now();
    const p = planOccurrences(rule({ cron: '* * * * *' }), state(), at('2027-01-01T00:00:30Z'), at('2027-01-01T00:01:00Z'), downFor(60_000));
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(p.occurrences.map((t) => t.toISOString())).toEqual(['2027-01-01T00:00:00.000Z', '2027-01-01T00:01:00.000Z']);
    expect({ missed: p.missed, capped: p.missedCapped, ran: p.ranMissed }).toEqual({ missed: 201, capped: true, ran: 1 });
    expect(p.next!.getTime()).toBeGreaterThan(at('2027-01-01T00:00:30Z').getTime());
  });
});
