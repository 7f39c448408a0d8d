import fs from 'node:fs';
import path from 'node:path';
import { writeConfigFile } from '../support/config';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { daemonYaml, killAll, removeTempDirs, runXt, spawnXt, tempDir, type RunResult, type XtProcess } from '../support/proc';
import { waitFor } from '../support/wait';

// `xtconnect schedule ...` and `submit --in/--at`, each a separate run of the built binary against a database of
// this file's own, and the daemon's handling of the config file's `schedules:` across restarts.
//
// The database's time zone is set far from the machine's (UTC+05:45), so that a time computed from Node's clock
// instead of the database's local time shows up as hours off, not as nothing.

const DB_ZONE = 'Asia/Kathmandu';

let db: TestDatabase;
let emptyConfig: string;

beforeAll(async () => {
  db = await createTestDatabase();
  await db.pool.query(`ALTER DATABASE ${db.name} SET timezone TO '${DB_ZONE}'`);
  emptyConfig = path.join(tempDir(), 'empty.yaml');
  fs.writeFileSync(emptyConfig, '');
});
afterEach(async () => {
  await killAll();
});
afterAll(async () => {
  await killAll();
  await db?.drop();
  removeTempDirs();
});

/** xtconnect against this file's database. */
function xt(...args: string[]): Promise<RunResult> {
  return runXt(['--config', emptyConfig, '--database-url', db.url, ...args]);
}

function ok(r: RunResult): string {
  if (r.code !== 0) throw new Error(`xtconnect ${r.proc.args.join(' ')} exited ${r.code}\n${r.proc.describe()}`);
  return r.stdout;
}

/** Exit 2, nothing on stdout, and stderr says `says`, as a message rather than a stack trace. */
function expectUsageError(r: RunResult, says: string | RegExp): void {
  expect({ code: r.code, signal: r.signal }).toEqual({ code: 2, signal: null });
  expect(r.stdout).toBe('');
  if (typeof says === 'string') expect(r.stderr).toContain(says);
  else expect(r.stderr).toMatch(says);
  expect(r.stderr).not.toMatch(/^\s+at /m);
}

/** `schedule add ...` that must succeed: the new series' ID. */
async function add(...args: string[]): Promise<number> {
  const out = ok(await xt('schedule', 'add', ...args));
  expect(out).toMatch(/^\d+\n$/);
  return Number(out.trim());
}

/** The line of `schedule list` (with `flags`) for series `id`, or undefined. */
async function listLine(id: number, ...flags: string[]): Promise<string | undefined> {
  const lines = ok(await xt('schedule', 'list', ...flags)).trimEnd().split('\n');
  expect(lines[0]).toMatch(/^ID\s+NAME\s+ACTION\s+STATE\s+RUNS\s+NEXT\s+RULE$/);
  return lines.slice(1).find((l) => l.startsWith(`${id} `));
}

async function nextTimes(id: number, ...flags: string[]): Promise<string[]> {
  return ok(await xt('schedule', 'next', String(id), ...flags)).trimEnd().split('\n');
}

async function seriesRow(id: number): Promise<Record<string, unknown>> {
  return (await db.pool.query('SELECT * FROM xtbatch.schedule WHERE schedule_id = $1', [id])).rows[0] as Record<string, unknown>;
}

async function seriesCount(): Promise<number> {
  return (await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM xtbatch.schedule')).rows[0]!.n;
}

describe('schedule add, list and next', () => {
  let nightly = 0;

  it('schedule add --cron --tz prints the new ID; list shows it active with its next time, rule and zone', async () => {
    nightly = await add('--action', 'Email', '--cron', '30 2 * * *', '--tz', 'America/New_York', '--to', 'a@b.c', '--subject', 's',
      '--name', 'nightly', '--start', '2027-03-12T00:00:00Z');
    expect(await listLine(nightly)).toMatch(
      new RegExp(`^${nightly}\\s+nightly\\s+Email\\s+active\\s+0\\s+2027-03-12 02:30:00 EST\\s+cron "30 2 \\* \\* \\*" America/New_York$`));
    expect(await seriesRow(nightly)).toMatchObject({
      schedule_name: 'nightly', schedule_source: 'cli', schedule_action: 'Email', schedule_cron: '30 2 * * *',
      schedule_every_n: null, schedule_timezone: 'America/New_York', schedule_count: 0, schedule_missed: 'once',
      schedule_missed_max: 10, schedule_paused: false, schedule_removed: null,
      schedule_job: expect.objectContaining({ email: 'a@b.c', subject: 's', params: [] }),
    });
  });

  it('schedule list --json prints the rows as JSON', async () => {
    const rows = JSON.parse(ok(await xt('schedule', 'list', '--json'))) as Array<Record<string, unknown>>;
    expect(rows.map((r) => r.schedule_id)).toEqual([nightly]);
    expect(rows[0]).toMatchObject({
      schedule_name: 'nightly', schedule_action: 'Email', schedule_cron: '30 2 * * *', schedule_timezone: 'America/New_York',
      schedule_start: '2027-03-12T00:00:00.000Z',
      // 02:30 EST
      schedule_next: '2027-03-12T07:30:00.000Z',
      schedule_removed: null,
    });
  });

  it('schedule next ID --count 5 prints 02:30 New York time on consecutive days, 03:00 EDT on the spring-forward day', async () => {
    const [times, byDefault] = await Promise.all([nextTimes(nightly, '--count', '5'), nextTimes(nightly)]);
    for (const t of times) expect(t).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d (EST|EDT)$/);
    expect(times).toEqual([
      '2027-03-12 02:30:00 EST',
      '2027-03-13 02:30:00 EST',
      // 02:30 does not exist on 2027-03-14 in New York: the clocks go from 02:00 EST to 03:00 EDT.
      '2027-03-14 03:00:00 EDT',
      '2027-03-15 02:30:00 EDT',
      '2027-03-16 02:30:00 EDT',
    ]);
    // Without --count: five.
    expect(byDefault).toEqual(times);
  });

  it('schedule next --count 3 prints three lines', async () => {
    expect(await nextTimes(nightly, '--count', '3')).toEqual(['2027-03-12 02:30:00 EST', '2027-03-13 02:30:00 EST', '2027-03-14 03:00:00 EDT']);
  });

  it.each([
    ['15m', 15, 'minutes', ['2027-01-01 00:00:00 UTC', '2027-01-01 00:15:00 UTC', '2027-01-01 00:30:00 UTC']],
    ['2h', 2, 'hours', ['2027-01-01 00:00:00 UTC', '2027-01-01 02:00:00 UTC', '2027-01-01 04:00:00 UTC']],
    ['1d', 1, 'days', ['2027-01-01 00:00:00 UTC', '2027-01-02 00:00:00 UTC', '2027-01-03 00:00:00 UTC']],
  ])('--every %s counts from --start', async (every, n, unit, expected) => {
    const id = await add('--action', 'Tick', '--every', every, '--tz', 'UTC', '--start', '2027-01-01T00:00:00Z');
    expect(await seriesRow(id)).toMatchObject({ schedule_cron: null, schedule_every_n: n, schedule_every_unit: unit, schedule_timezone: 'UTC' });
    const [times, line] = await Promise.all([nextTimes(id, '--count', '3'), listLine(id)]);
    expect(times).toEqual(expected);
    expect(line).toMatch(new RegExp(`^${id}\\s+Tick\\s+active\\s+0\\s+2027-01-01 00:00:00 UTC\\s+every ${n} ${n === 1 ? unit.replace(/s$/, "") : unit} UTC$`));
  });

  it('--count caps the series: next shows no more than the occurrences left', async () => {
    const id = await add('--action', 'Tick', '--every', '1h', '--tz', 'UTC', '--start', '2027-01-01T00:00:00Z', '--count', '2');
    const [times, line] = await Promise.all([nextTimes(id, '--count', '5'), listLine(id)]);
    expect(times).toEqual(['2027-01-01 00:00:00 UTC', '2027-01-01 01:00:00 UTC']);
    expect(line).toMatch(new RegExp(`^${id}\\s+Tick\\s+active\\s+0/2\\s`));
  });

  it('--end stops the series: next shows only the occurrences up to it', async () => {
    const id = await add('--action', 'Tick', '--every', '1h', '--tz', 'UTC', '--start', '2027-01-01T00:00:00Z', '--end', '2027-01-01T02:30:00Z');
    expect(await nextTimes(id, '--count', '5')).toEqual(['2027-01-01 00:00:00 UTC', '2027-01-01 01:00:00 UTC', '2027-01-01 02:00:00 UTC']);
  });
});

describe('bad schedules are refused at submit with exit 2, and nothing is stored', () => {
  // One empty table for all the refusals; the list is checked once they have all been tried.
  beforeAll(async () => {
    await db.pool.query('TRUNCATE xtbatch.schedule, xtbatch.batch, xtbatch.batchparam CASCADE');
  });

  async function expectNothingStored(): Promise<void> {
    expect(await seriesCount()).toBe(0);
  }

  it.each([
    ['an invalid cron field', ['--cron', '61 * * * *'], 'xtconnect: invalid cron expression "61 * * * *"'],
    ['a cron expression that is words', ['--cron', 'every day'], 'xtconnect: invalid cron expression "every day"'],
    ['an unknown time zone', ['--cron', '0 * * * *', '--tz', 'Mars/Olympus'], 'xtconnect: unknown time zone "Mars/Olympus"'],
    ['an interval of 0', ['--every', '0m'], 'xtconnect: interval "0m" must be at least 1'],
    ['an interval without a unit', ['--every', '15'], 'xtconnect: "15" is not an interval'],
    ['both --cron and --every', ['--cron', '0 * * * *', '--every', '1h'], 'xtconnect: schedule add needs exactly one of --cron "EXPR" or --every'],
    ['neither --cron nor --every', [], 'xtconnect: schedule add needs exactly one of --cron "EXPR" or --every'],
    ['--end before --start', ['--every', '1h', '--start', '2027-01-02T00:00:00Z', '--end', '2027-01-01T00:00:00Z'], 'xtconnect: end must be after start'],
    ['--end equal to --start', ['--every', '1h', '--start', '2027-01-02T00:00:00Z', '--end', '2027-01-02T00:00:00Z'], 'xtconnect: end must be after start'],
    ['a --start that is not a time', ['--every', '1h', '--start', 'yesterday'], 'xtconnect: --start "yesterday" must be a date and time'],
  ])('%s', async (_what, args, message) => {
    expectUsageError(await xt('schedule', 'add', '--action', 'Tick', '--name', 'refused', ...args), message);
    await expectNothingStored();
  });

  it('after all of those, schedule list --all shows no series', async () => {
    const lines = ok(await xt('schedule', 'list', '--all')).trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^ID\s+NAME\s/);
  });

  it('--count 0 (a series that can never run)', async () => {
    expectUsageError(await xt('schedule', 'add', '--action', 'Tick', '--every', '1h', '--count', '0'), /--count/);
    await expectNothingStored();
  });

  it('a --name that another series already has, with a message naming it', async () => {
    const first = await add('--action', 'Tick', '--every', '1h', '--name', 'hourly');
    expectUsageError(await xt('schedule', 'add', '--action', 'Tick', '--every', '2h', '--name', 'hourly'), /"hourly"/);
    const rows = JSON.parse(ok(await xt('schedule', 'list', '--all', '--json'))) as Array<{ schedule_id: number }>;
    expect(rows.map((r) => r.schedule_id)).toEqual([first]);
  });
});

describe('schedule pause, resume and remove', () => {
  let id = 0;

  beforeAll(async () => {
    await db.pool.query('TRUNCATE xtbatch.schedule, xtbatch.batch, xtbatch.batchparam CASCADE');
  });

  async function state(): Promise<string | undefined> {
    return (await listLine(id))?.split(/\s+/)[3];
  }

  it('pause: list shows the series paused with no next time, and its waiting occurrence is cancelled', async () => {
    id = await add('--action', 'Tick', '--every', '1h', '--tz', 'UTC', '--start', '2027-01-01T00:00:00Z', '--name', 'hourly');
    expect(await state()).toBe('active');
    // An occurrence the scheduler inserted ahead, waiting for its time.
    const waiting = (await db.pool.query<{ batch_id: number }>(
      `INSERT INTO xtbatch.batch (batch_action, batch_scheduled, batch_schedule_id, batch_occurrence)
       VALUES ('Tick', '2027-01-01 05:45', $1, '2027-01-01T00:00:00Z') RETURNING batch_id`, [id])).rows[0]!.batch_id;

    expect(ok(await xt('schedule', 'pause', String(id)))).toBe(`series ${id} paused; waiting occurrences cancelled\n`);
    expect(await listLine(id)).toMatch(new RegExp(`^${id}\\s+hourly\\s+Tick\\s+paused\\s+0\\s+-\\s+every 1 hour UTC$`));
    expect((await seriesRow(id)).schedule_paused).toBe(true);
    const job = (await db.pool.query('SELECT state, batch_exitstatus FROM xtbatch.job WHERE batch_id = $1', [waiting])).rows[0];
    expect(job.state).toBe('cancelled');
    expect(job.batch_exitstatus).toMatch(/^Cancelled by postgres at .*\(series paused\)$/);
  });

  it('resume: list shows it active again', async () => {
    expect(ok(await xt('schedule', 'resume', String(id)))).toBe(`series ${id} resumed from now\n`);
    expect(await listLine(id)).toMatch(new RegExp(`^${id}\\s+hourly\\s+Tick\\s+active\\s+0\\s+2027-01-01 00:00:00 UTC\\s+every 1 hour UTC$`));
    expect(await seriesRow(id)).toMatchObject({ schedule_paused: false, schedule_removed: null });
  });

  it('remove: list hides it, list --all shows it removed', async () => {
    expect(ok(await xt('schedule', 'remove', String(id)))).toBe(`series ${id} removed; waiting occurrences cancelled\n`);
    const [active, all, activeJson, allJson, next] = await Promise.all([
      listLine(id), listLine(id, '--all'), xt('schedule', 'list', '--json'), xt('schedule', 'list', '--all', '--json'), xt('schedule', 'next', String(id)),
    ]);
    expect(active).toBeUndefined();
    expect(all).toMatch(new RegExp(`^${id}\\s+hourly\\s+Tick\\s+removed\\s+0\\s+-\\s+every 1 hour UTC$`));
    const json = JSON.parse(ok(activeJson)) as Array<{ schedule_id: number }>;
    expect(json.map((r) => r.schedule_id)).not.toContain(id);
    const everything = JSON.parse(ok(allJson)) as Array<{ schedule_id: number; schedule_removed: string | null; schedule_next: string | null }>;
    expect(everything.find((r) => r.schedule_id === id)).toMatchObject({ schedule_removed: expect.any(String), schedule_next: null });
    expect(ok(next)).toBe(`series ${id} has no further occurrences\n`);
    expect((await seriesRow(id)).schedule_removed).toBeInstanceOf(Date);
  });

  it('a removed series cannot be paused, resumed or removed again: exit 1 with a message', async () => {
    const ops = ['pause', 'resume', 'remove'];
    const results = await Promise.all(ops.map((op) => xt('schedule', op, String(id))));
    expect(results.map((r) => ({ code: r.code, stdout: r.stdout }))).toEqual(ops.map(() => ({ code: 1, stdout: `no active series ${id}\n` })));
    expect(await listLine(id, '--all')).toMatch(/\sremoved\s/);
  });

  it('an unknown ID: exit 1 with a message, for pause, resume, remove and next', async () => {
    const ops = ['pause', 'resume', 'remove'];
    const [next, ...results] = await Promise.all([xt('schedule', 'next', '999999'), ...ops.map((op) => xt('schedule', op, '999999'))]);
    expect(results.map((r) => ({ code: r.code, stdout: r.stdout }))).toEqual(ops.map(() => ({ code: 1, stdout: 'no active series 999999\n' })));
    expect({ code: next!.code, stdout: next!.stdout }).toEqual({ code: 1, stdout: 'no series 999999\n' });
  });

  it('an ID that is not a number: exit 2', async () => {
    expectUsageError(await xt('schedule', 'pause', 'hourly'), /ID is a whole number/);
  });
});

describe('submit --in and --at', () => {
  async function scheduledRow(id: number): Promise<{ batch_scheduled: string; ahead: number }> {
    const { rows } = await db.pool.query(
      `SELECT batch_scheduled, extract(epoch FROM batch_scheduled - (now() AT TIME ZONE '${DB_ZONE}'))::float8 AS ahead
         FROM xtbatch.batch WHERE batch_id = $1`, [id]);
    return rows[0];
  }

  async function batchCount(): Promise<number> {
    return (await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM xtbatch.batch')).rows[0]!.n;
  }

  it('--in 2h stores batch_scheduled two hours after the database\'s local time', async () => {
    const out = ok(await xt('submit', 'email', '--to', 'a@b.c', '--subject', 'later', '--in', '2h'));
    expect(out).toMatch(/^\d+\n$/);
    const row = await scheduledRow(Number(out.trim()));
    // The database runs at UTC+05:45; the machine does not. Within a minute of localtimestamp + 2 h.
    expect(Math.abs(row.ahead - 7200)).toBeLessThan(60);
  });

  it('--at "2030-01-02 03:04" stores exactly that', async () => {
    const out = ok(await xt('submit', 'email', '--to', 'a@b.c', '--subject', 'then', '--at', '2030-01-02 03:04'));
    expect((await scheduledRow(Number(out.trim()))).batch_scheduled).toBe('2030-01-02 03:04:00');
  });

  it.each([
    ['--in 0m', ['--in', '0m'], '--in "0m" must be a number and a unit'],
    ['--in soon', ['--in', 'soon'], '--in "soon" must be a number and a unit'],
    ['both --at and --in', ['--at', '2030-01-02 03:04', '--in', '2h'], 'give --at or --in, not both'],
  ])('%s: exit 2 and no job', async (_what, args, message) => {
    const before = await batchCount();
    expectUsageError(await xt('submit', 'email', '--to', 'a@b.c', '--subject', 's', ...args), `xtconnect: ${message}`);
    expect(await batchCount()).toBe(before);
  });
});

describe('the config file\'s schedules across daemon restarts', () => {
  // The daemon runs in a zone other than the test machine's: series without a timezone take the daemon's.
  const DAEMON_ZONE = 'America/Denver';
  let cdb: TestDatabase;
  let dataDir: string;
  let file: string;

  const mailEntry = (every: string) => [
    '  - name: mail',
    '    action: Email',
    `    every: ${every}`,
    '    email: ops@example.com',
    '    from: erp@example.com',
    '    subject: tick',
  ].join('\n');

  function writeConfig(entries: string[]): void {
    const extra = entries.length ? ['schedules:', ...entries].join('\n') : '';
    file = writeConfigFile(dataDir, daemonYaml({ url: cdb.url, dataDir, daemon: { schedulerIntervalSeconds: 1 }, extra }));
  }

  beforeAll(async () => {
    cdb = await createTestDatabase();
    dataDir = tempDir('xtconnect-sched-');
  });
  afterAll(async () => {
    await killAll();
    await cdb?.drop();
  });

  interface Row { schedule_id: number; schedule_name: string; schedule_source: string; schedule_action: string; schedule_cron: string | null; schedule_timezone: string;
    schedule_every_n: number | null; schedule_every_unit: string | null; schedule_next: Date | null; schedule_removed: Date | null }

  async function rows(): Promise<Row[]> {
    return (await cdb.pool.query<Row>('SELECT * FROM xtbatch.schedule ORDER BY schedule_name, schedule_id')).rows;
  }

  async function listenerCount(): Promise<number> {
    const { rows: r } = await cdb.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND application_name = 'xtconnect listener'`, [cdb.name]);
    return r[0]!.n;
  }

  /**
   * Starts the daemon and waits until it has finished starting: its LISTEN connection opens after the config's
   * series are synced, so once it is there the sync is done.
   */
  async function startDaemon(): Promise<XtProcess> {
    await waitFor('no listener left from an earlier daemon', async () => (await listenerCount()) === 0, 10_000);
    const proc = spawnXt(['start', '--config', file], { env: { TZ: DAEMON_ZONE } });
    await proc.waitForLine(/daemon \S+ started/);
    await waitFor(`the daemon's LISTEN connection\n${proc.describe()}`, async () => (await listenerCount()) === 1 || !proc.alive(), 10_000);
    expect(proc.alive()).toBe(true);
    return proc;
  }

  async function stop(proc: XtProcess): Promise<void> {
    proc.signal('SIGTERM');
    const info = await proc.waitForExit(20_000);
    if (info.code !== 0) throw new Error(`the daemon exited ${info.code} after SIGTERM\n${proc.describe()}`);
  }

  let firstRows: Row[] = [];

  it('first start: the config file\'s series and the built-in purge are stored, source config', async () => {
    writeConfig([mailEntry('1m')]);
    const proc = await startDaemon();
    const got = await waitFor('both series', async () => {
      const r = await rows();
      return r.length === 2 ? r : null;
    });
    await stop(proc);
    expect(got.map((r) => [r.schedule_name, r.schedule_source, r.schedule_action])).toEqual([['mail', 'config', 'Email'], ['purge', 'config', 'Purge']]);
    expect(got[0]).toMatchObject({ schedule_cron: null, schedule_every_n: 1, schedule_every_unit: 'minutes', schedule_timezone: DAEMON_ZONE, schedule_removed: null });
    expect(got[1]).toMatchObject({ schedule_cron: '17 3 * * *', schedule_every_n: null, schedule_timezone: DAEMON_ZONE, schedule_removed: null });
    expect(got[1]!.schedule_next).toBeInstanceOf(Date);
    expect(proc.lines.some((l) => l.includes('series "mail" (Email) created from the config file'))).toBe(true);
    expect(proc.lines.some((l) => l.includes('series "purge" (Purge) created as the built-in nightly purge (daemon.purgeSchedule)'))).toBe(true);

    // The CLI sees them too, marked as from the config file.
    const list = ok(await runXt(['--config', emptyConfig, '--database-url', cdb.url, 'schedule', 'list']));
    expect(list).toMatch(/^\d+\s+mail\s+Email\s+active\s.*every 1 minute America\/Denver \(config\)$/m);
    // The purge runs at 03:17 where the daemon is.
    expect(list).toMatch(/^\d+\s+purge\s+Purge\s+active\s+0\s+\d{4}-\d\d-\d\d 03:17:00 M[SD]T\s+cron "17 3 \* \* \*" America\/Denver \(config\)$/m);
    firstRows = await rows();
  });

  it('second start with the same file: no duplicates, and the purge series keeps its next time', async () => {
    const proc = await startDaemon();
    await stop(proc);
    const now = await rows();
    expect(now.map((r) => [r.schedule_id, r.schedule_name])).toEqual(firstRows.map((r) => [r.schedule_id, r.schedule_name]));
    const purge = now.find((r) => r.schedule_name === 'purge')!;
    expect(purge.schedule_next!.toISOString()).toBe(firstRows.find((r) => r.schedule_name === 'purge')!.schedule_next!.toISOString());
    expect(proc.lines.filter((l) => /series "\w+" .*(created|updated|removed)/.test(l))).toEqual([]);
  });

  it('a changed entry (every: 2m) updates its row in place', async () => {
    writeConfig([mailEntry('2m')]);
    const proc = await startDaemon();
    await stop(proc);
    expect(proc.lines.some((l) => l.includes('series "mail" (Email) updated from the config file'))).toBe(true);
    const now = await rows();
    expect(now.map((r) => [r.schedule_id, r.schedule_name])).toEqual(firstRows.map((r) => [r.schedule_id, r.schedule_name]));
    expect(now.find((r) => r.schedule_name === 'mail')).toMatchObject({ schedule_every_n: 2, schedule_every_unit: 'minutes', schedule_removed: null });
  });

  it('an entry no longer in the file is marked removed, and its waiting occurrences are cancelled', async () => {
    writeConfig([]);
    const proc = await startDaemon();
    await stop(proc);
    expect(proc.lines.some((l) => l.includes('series "mail" is no longer in the config file: removed'))).toBe(true);
    const now = await rows();
    expect(now.map((r) => [r.schedule_id, r.schedule_name])).toEqual(firstRows.map((r) => [r.schedule_id, r.schedule_name]));
    const mail = now.find((r) => r.schedule_name === 'mail')!;
    expect(mail.schedule_removed).toBeInstanceOf(Date);
    expect(mail.schedule_next).toBeNull();
    expect(now.find((r) => r.schedule_name === 'purge')!.schedule_removed).toBeNull();
    const waiting = await cdb.pool.query(`SELECT batch_id FROM xtbatch.job WHERE batch_schedule_id = $1 AND state IN ('scheduled', 'retrying')`, [mail.schedule_id]);
    expect(waiting.rows).toEqual([]);
  });

  it('the entry put back in the file makes the series active again', async () => {
    writeConfig([mailEntry('2m')]);
    const proc = await startDaemon();
    await stop(proc);
    const mail = (await rows()).filter((r) => r.schedule_name === 'mail');
    expect(mail).toHaveLength(1);
    expect(mail[0]!.schedule_removed).toBeNull();
    expect(mail[0]!.schedule_next).toBeInstanceOf(Date);
  });

  it('SIGTERM as soon as the daemon says it started (while it syncs the series) still stops it with exit 0', async () => {
    // Enough series that syncing them takes a while after the "started" line (yearly, so none is due meanwhile).
    const many = Array.from({ length: 300 }, (_, i) => `  - name: yearly${i}\n    action: Tick\n    cron: "0 0 1 1 *"`);
    writeConfig([mailEntry('2m'), ...many]);
    await waitFor('no listener left from an earlier daemon', async () => (await listenerCount()) === 0, 10_000);
    const proc = spawnXt(['start', '--config', file], { env: { TZ: DAEMON_ZONE } });
    await proc.waitForLine(/daemon \S+ started/);
    proc.signal('SIGTERM');
    const info = await proc.waitForExit(20_000);
    expect({ code: info.code, signal: info.signal, errors: proc.lines.filter((l) => /^xtconnect: /.test(l)) })
      .toEqual({ code: 0, signal: null, errors: [] });
  });
});

describe('--every 1d from a time the clocks skip', () => {
  it.each([
    ['Europe/Berlin', '2027-03-20T02:30:00+01:00', ['2027-03-27 02:30:00 GMT+1', '2027-03-28 03:00:00 GMT+2', '2027-03-29 02:30:00 GMT+2']],
    ['America/New_York', '2027-03-06T02:30:00-05:00', ['2027-03-13 02:30:00 EST', '2027-03-14 03:00:00 EDT', '2027-03-15 02:30:00 EDT']],
  ])('runs at 03:00 on the spring-forward day in %s, as the cron rule "30 2 * * *" does', async (tz, start, expected) => {
    const every = await add('--action', 'Tick', '--every', '1d', '--tz', tz, '--start', start);
    const cron = await add('--action', 'Tick', '--cron', '30 2 * * *', '--tz', tz, '--start', start);
    const [e, c] = await Promise.all([nextTimes(every, '--count', '10'), nextTimes(cron, '--count', '10')]);
    expect(e.slice(-3)).toEqual(expected);
    expect(c).toEqual(e);
  });
});

describe('schedule list and next with two daemons running the series', () => {
  // Two daemons insert occurrences ahead (scheduler interval 20 s: up to 40 s ahead) of a series every 15 s, so
  // one or two occurrences always wait as rows while the series' own next time is later still.
  let ldb: TestDatabase;
  const procs: XtProcess[] = [];
  let id = 0;

  beforeAll(async () => {
    ldb = await createTestDatabase();
    await ldb.pool.query(`ALTER DATABASE ${ldb.name} SET timezone TO '${DB_ZONE}'`);
    await ldb.pool.query(`SELECT xtbatch.setsetting('EnableBatchManager', 't')`);
  });
  afterAll(async () => {
    await killAll();
    await ldb?.drop();
  });

  function lxt(...args: string[]): Promise<RunResult> {
    return runXt(['--config', emptyConfig, '--database-url', ldb.url, ...args]);
  }

  async function lListLine(): Promise<string | undefined> {
    return ok(await lxt('schedule', 'list')).trimEnd().split('\n').slice(1).find((l) => l.startsWith(`${id} `));
  }

  interface Occ { batch_id: number; at: Date; state: string }
  async function occ(): Promise<Occ[]> {
    return (await ldb.pool.query<Occ>(
      `SELECT batch_id, batch_scheduled AT TIME ZONE '${DB_ZONE}' AS at, state FROM xtbatch.job WHERE batch_schedule_id = $1 ORDER BY batch_scheduled, batch_id`, [id])).rows;
  }

  const ny = (t: Date) => new Intl.DateTimeFormat('sv-SE', {
    timeZone: 'America/New_York', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false,
  }).format(t);

  it('NEXT is the occurrence already waiting, to the second, in the series\' zone; next lists the waiting ones first; RUNS counts only runs', async () => {
    id = Number(ok(await lxt('schedule', 'add', '--action', 'Email', '--to', 'ops@example.com', '--from', 'erp@example.com', '--subject', 'tick',
      '--cron', '*/15 * * * * *', '--tz', 'America/New_York', '--name', 'quarter-minute')).trim());
    for (const n of [1, 2]) {
      const dataDir = tempDir(`xtconnect-list${n}-`);
      const file = writeConfigFile(dataDir, daemonYaml({ url: ldb.url, dataDir, daemon: { schedulerIntervalSeconds: 20 } }));
      const p = spawnXt(['start', '--config', file]);
      procs.push(p);
      await p.waitForLine(/daemon \S+ started/);
    }
    // Two runs done; then a moment just after a run, when the next waiting occurrence is seconds away and will not
    // start while the commands run.
    await waitFor(`two runs of the series\n${procs.map((p) => p.describe()).join('\n')}`, async () => (await occ()).filter((o) => o.state === 'done').length >= 2, 60_000, 200);
    const before = await waitFor('a waiting occurrence 6 s or more ahead', async () => {
      const o = await occ();
      const waiting = o.filter((r) => r.state === 'scheduled');
      const row = (await ldb.pool.query<{ next: Date; now: Date }>('SELECT schedule_next AS next, now() FROM xtbatch.schedule WHERE schedule_id = $1', [id])).rows[0]!;
      return waiting.length > 0 && waiting[0]!.at.getTime() - row.now.getTime() >= 6_000 ? { waiting, next: row.next } : null;
    }, 30_000, 100);
    // The waiting row is the true next run; the series' next not-yet-inserted occurrence is later.
    expect(before.next.getTime()).toBeGreaterThan(before.waiting[0]!.at.getTime());
    const [line, times] = await Promise.all([lListLine(), lxt('schedule', 'next', String(id), '--count', '4')]);
    // Still the first waiting one after the commands ran (more may have been inserted behind it).
    const after = (await occ()).filter((r) => r.state === 'scheduled');
    expect(after[0]!.batch_id).toBe(before.waiting[0]!.batch_id);

    const first = before.waiting[0]!.at;
    const zone = first.getTime() >= Date.parse('2026-11-01T06:00:00Z') && first.getTime() < Date.parse('2027-03-14T07:00:00Z') ? 'EST' : 'EDT';
    expect(line).toMatch(new RegExp(`^${id}\\s+quarter-minute\\s+Email\\s+active\\s+\\d+\\s+${ny(first)} ${zone}\\s+cron "\\*/15 \\* \\* \\* \\* \\*" America/New_York$`));
    // Four runs 15 s apart from the waiting one: the waiting rows, then the rule's.
    const expected = [0, 1, 2, 3].map((k) => `${ny(new Date(first.getTime() + k * 15_000))} ${zone}`);
    expect(ok(times).trimEnd().split('\n')).toEqual(expected);

    // And it does start then: the shown time is when it runs (not before it; late only by a loaded machine's delay,
    // well short of the next occurrence 15 s later).
    const started = await waitFor('the waiting occurrence to start', async () => (await ldb.pool.query<{ started: Date | null }>(
      `SELECT batch_started AT TIME ZONE '${DB_ZONE}' AS started FROM xtbatch.batch WHERE batch_id = $1`, [before.waiting[0]!.batch_id])).rows[0]!.started, 30_000, 100);
    expect(started.getTime() - first.getTime()).toBeGreaterThanOrEqual(-1000);
    expect(started.getTime() - first.getTime()).toBeLessThan(10_000);

    // Pausing cancels the waiting ones; RUNS counts what ran, not those.
    ok(await lxt('schedule', 'pause', String(id)));
    await waitFor('nothing of the series running', async () => (await occ()).every((o) => o.state !== 'running'), 30_000, 100);
    const rows = await occ();
    const ran = rows.filter((o) => ['done', 'failed'].includes(o.state)).length;
    expect(rows.filter((o) => o.state === 'cancelled').length).toBeGreaterThanOrEqual(1);
    expect(await lListLine()).toMatch(new RegExp(`^${id}\\s+quarter-minute\\s+Email\\s+paused\\s+${ran}\\s+-\\s+cron`));
    const json = JSON.parse(ok(await lxt('schedule', 'list', '--json'))) as Array<{ schedule_id: number; runs: number; next_run: string | null }>;
    expect(json.find((r) => r.schedule_id === id)).toMatchObject({ runs: ran, next_run: null });
    for (const p of procs) p.signal('SIGTERM');
    await Promise.all(procs.map((p) => p.waitForExit(20_000)));
  }, 180_000);
});
