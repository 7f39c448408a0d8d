import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config';
import { ConfigError } from '../../src/errors';

// The `schedules:` section of the config file, and the built-in purge series, as loadConfig reads them.

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xtc-schedcfg-'));
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

let n = 0;
function file(yaml: string): string {
  const f = path.join(dir, `c${++n}.yaml`);
  fs.writeFileSync(f, yaml);
  return f;
}
const env = { HOME: '/tmp' } as NodeJS.ProcessEnv;
const load = (yaml: string) => loadConfig({ config: file(yaml) }, env);

/** The machine's zone, which a series without `timezone:` uses. */
const machineZone = Intl.DateTimeFormat().resolvedOptions().timeZone;

/** The job template of an entry that sets none of the job keys. */
const emptyJob = {
  parameter: null, email: null, cc: null, bcc: null, replyto: null, fromemail: null, subject: null, body: null, filename: null,
  emailhtml: false, priority: 0, timeoutSeconds: null, maxAttempts: null, params: [],
};

function builtInPurge(cron: string) {
  return {
    name: 'purge', source: 'config', action: 'Purge', job: emptyJob,
    rule: { cron, every: null, timezone: machineZone, start: new Date(0), end: null },
    maxCount: null, missed: 'once', missedMax: 10,
  };
}

describe('the built-in purge series', () => {
  it.each([
    ['no file content', ''],
    ['no schedules key', 'daemon:\n  concurrency: 3\n'],
    ['an empty schedules key', 'schedules:\n'],
    ['an empty list', 'schedules: []\n'],
  ])('with %s, cfg.schedules is exactly the purge series at daemon.purgeSchedule', (_what, yaml) => {
    const cfg = load(yaml);
    expect(cfg.daemon.purgeSchedule).toBe('17 3 * * *');
    expect(cfg.schedules).toEqual([builtInPurge('17 3 * * *')]);
  });

  it('daemon.purgeSchedule changes its cron', () => {
    const cfg = load('daemon:\n  purgeSchedule: "0 4 * * *"\n');
    expect(cfg.schedules).toEqual([builtInPurge('0 4 * * *')]);
  });

  it('comes after the file\'s own entries', () => {
    const cfg = load('schedules:\n  - name: tick\n    action: Tick\n    every: 1h\n');
    expect(cfg.schedules.map((s) => s.name)).toEqual(['tick', 'purge']);
    expect(cfg.schedules[1]).toEqual(builtInPurge('17 3 * * *'));
  });

  it('an entry named purge replaces it, whatever daemon.purgeSchedule says', () => {
    const cfg = load([
      'daemon:',
      '  purgeSchedule: "0 4 * * *"',
      'schedules:',
      '  - name: purge',
      '    action: Purge',
      '    cron: "0 5 * * 0"',
      '    timezone: Europe/Berlin',
      '    missed: skip',
      '',
    ].join('\n'));
    expect(cfg.schedules).toEqual([{
      ...builtInPurge('0 5 * * 0'), rule: { cron: '0 5 * * 0', every: null, timezone: 'Europe/Berlin', start: new Date(0), end: null }, missed: 'skip',
    }]);
  });
});

describe('schedules: entries', () => {
  it('reads every key of an entry', () => {
    const cfg = load([
      'schedules:',
      '  - name: nightly-report_1.a',
      '    action: RunReport',
      '    cron: "30 2 * * 1-5"',
      '    timezone: America/New_York',
      '    start: "2027-01-01T00:00:00Z"',
      '    end: "2028-01-01T00:00:00Z"',
      '    count: 100',
      '    missed: all',
      '    missedMax: 3',
      '    parameter: SalesReport',
      '    email: ops@example.com',
      '    cc: boss@example.com',
      '    bcc: audit@example.com',
      '    replyTo: noreply@example.com',
      '    from: erp@example.com',
      '    subject: Nightly sales',
      '    body: "<p>attached</p>"',
      '    html: true',
      '    filename: sales.pdf',
      '    priority: 5',
      '    timeoutSeconds: 600',
      '    maxAttempts: 2',
      '    params:',
      '      warehouse: WH1',
      '',
    ].join('\n'));
    expect(cfg.schedules).toHaveLength(2);
    expect(cfg.schedules[0]).toEqual({
      name: 'nightly-report_1.a', source: 'config', action: 'RunReport',
      job: {
        parameter: 'SalesReport', email: 'ops@example.com', cc: 'boss@example.com', bcc: 'audit@example.com', replyto: 'noreply@example.com',
        fromemail: 'erp@example.com', subject: 'Nightly sales', body: '<p>attached</p>', filename: 'sales.pdf', emailhtml: true,
        priority: 5, timeoutSeconds: 600, maxAttempts: 2, params: [{ name: 'warehouse', value: 'WH1', type: 'QString' }],
      },
      rule: { cron: '30 2 * * 1-5', every: null, timezone: 'America/New_York', start: new Date('2027-01-01T00:00:00Z'), end: new Date('2028-01-01T00:00:00Z') },
      maxCount: 100, missed: 'all', missedMax: 3,
    });
  });

  it('defaults: missed once, missedMax 10, the machine\'s time zone, no count, no end, an empty job', () => {
    const cfg = load('schedules:\n  - name: tick\n    action: Tick\n    cron: "*/5 * * * *"\n');
    expect(cfg.schedules[0]).toEqual({
      name: 'tick', source: 'config', action: 'Tick', job: emptyJob,
      rule: { cron: '*/5 * * * *', every: null, timezone: machineZone, start: new Date(0), end: null },
      maxCount: null, missed: 'once', missedMax: 10,
    });
  });

  it.each([
    ['15m', { n: 15, unit: 'minutes' }],
    ['2h', { n: 2, unit: 'hours' }],
    ['1d', { n: 1, unit: 'days' }],
    ['90 minutes', { n: 90, unit: 'minutes' }],
    ['3 days', { n: 3, unit: 'days' }],
  ])('every: %s', (every, expected) => {
    const cfg = load(`schedules:\n  - name: e\n    action: Tick\n    every: ${every}\n    timezone: UTC\n`);
    expect(cfg.schedules[0]!.rule).toEqual({ cron: null, every: expected, timezone: 'UTC', start: new Date(0), end: null });
  });

  it('params: text stays QString, whole numbers become int, others double, booleans bool; {value, type} keeps its type', () => {
    const cfg = load([
      'schedules:',
      '  - name: p',
      '    action: RunReport',
      '    every: 1d',
      '    params:',
      '      warehouse: WH1',
      '      quoted: "5"',
      '      copies: 2',
      '      ratio: 1.5',
      '      negative: -3',
      '      draft: true',
      '      final: false',
      '      asof: { value: "2026-01-01", type: QDate }',
      '      days: { value: 30, type: int }',
      '',
    ].join('\n'));
    expect(cfg.schedules[0]!.job.params).toEqual([
      { name: 'warehouse', value: 'WH1', type: 'QString' },
      { name: 'quoted', value: '5', type: 'QString' },
      { name: 'copies', value: '2', type: 'int' },
      { name: 'ratio', value: '1.5', type: 'double' },
      { name: 'negative', value: '-3', type: 'int' },
      { name: 'draft', value: 'true', type: 'bool' },
      { name: 'final', value: 'false', type: 'bool' },
      { name: 'asof', value: '2026-01-01', type: 'QDate' },
      { name: 'days', value: '30', type: 'int' },
    ]);
  });

  it('params: a name with no value is an empty QString, not the text "null"', () => {
    const cfg = load('schedules:\n  - name: p\n    action: RunReport\n    every: 1d\n    params:\n      note:\n');
    expect(cfg.schedules[0]!.job.params).toEqual([{ name: 'note', value: '', type: 'QString' }]);
  });

  it('several entries keep their order, and each gets its own defaults', () => {
    const cfg = load([
      'schedules:',
      '  - name: a',
      '    action: Tick',
      '    every: 15m',
      '    missed: skip',
      '  - name: b',
      '    action: Tock',
      '    cron: "0 9 * * 1"',
      '    timezone: Europe/Berlin',
      '',
    ].join('\n'));
    expect(cfg.schedules.map((s) => [s.name, s.action, s.missed, s.missedMax, s.rule.timezone])).toEqual([
      ['a', 'Tick', 'skip', 10, machineZone],
      ['b', 'Tock', 'once', 10, 'Europe/Berlin'],
      ['purge', 'Purge', 'once', 10, machineZone],
    ]);
  });
});

describe('bad schedules are refused with a ConfigError naming the entry and the key', () => {
  const ok = '  - name: ok\n    action: Tick\n    every: 1h\n';

  it.each([
    ['an unknown key', `schedules:\n  - name: a\n    action: X\n    every: 1h\n    cronn: "0 * * * *"\n`, /: schedules\[0\]: unknown key "cronn" \(known keys: name, action, cron, every,/],
    ['a missing name', `schedules:\n${ok}  - action: X\n    every: 1h\n`, /: schedules\[1\]\.name must be a name of letters, digits/],
    ['a name with bad characters', `schedules:\n  - name: "bad name!"\n    action: X\n    every: 1h\n`, /: schedules\[0\]\.name must be .* \(got "bad name!"\)/],
    ['a missing action', `schedules:\n  - name: a\n    every: 1h\n`, /: schedules\[0\]\.action is missing/],
    ['an invalid cron expression', `schedules:\n${ok}  - name: a\n    action: X\n    cron: "61 * * * *"\n`, /: schedules\[1\].*\bcron\b.*"61 \* \* \* \*"/],
    ['a cron expression that is words', `schedules:\n  - name: a\n    action: X\n    cron: every day\n`, /: schedules\[0\].*\bcron\b.*"every day"/],
    ['an unknown time zone', `schedules:\n  - name: a\n    action: X\n    every: 1h\n    timezone: Mars/Olympus\n`, /: schedules\[0\].*\btimezone\b.*"Mars\/Olympus"/],
    ['every: 0m', `schedules:\n  - name: a\n    action: X\n    every: 0m\n`, /: schedules\[0\].*\bevery\b.*"0m"/],
    ['both cron and every', `schedules:\n  - name: a\n    action: X\n    every: 1h\n    cron: "0 * * * *"\n`, /: schedules\[0\](?=.*\bcron\b)(?=.*\bevery\b)/],
    ['neither cron nor every', `schedules:\n  - name: a\n    action: X\n`, /: schedules\[0\](?=.*\bcron\b)(?=.*\bevery\b)/],
    ['missed: sometimes', `schedules:\n  - name: a\n    action: X\n    every: 1h\n    missed: sometimes\n`, /: schedules\[0\]\.missed must be one of once, all, skip \(got "sometimes"\)/],
    ['count: 0', `schedules:\n  - name: a\n    action: X\n    every: 1h\n    count: 0\n`, /: schedules\[0\]\.count must be a whole number from 1 /],
    ['missedMax: 0', `schedules:\n  - name: a\n    action: X\n    every: 1h\n    missedMax: 0\n`, /: schedules\[0\]\.missedMax must be a whole number from 1 /],
    ['a start that is not a time', `schedules:\n  - name: a\n    action: X\n    every: 1h\n    start: soon\n`, /: schedules\[0\]\.start must be a date and time/],
    ['params that are a list', `schedules:\n  - name: a\n    action: X\n    every: 1h\n    params: [a, b]\n`, /: schedules\[0\]\.params must be a section/],
    ['an entry that is not a section', `schedules:\n  - nightly\n`, /: schedules\[0\] must be a section/],
    ['a name used twice', `schedules:\n  - name: a\n    action: X\n    every: 1h\n  - name: a\n    action: Y\n    every: 2h\n`, /: schedules\[1\].*\bname\b.*"a"/],
    ['schedules that is a section, not a list', 'schedules:\n  name: a\n  action: X\n', /: schedules must be a list of entries/],
    ['schedules that is text', 'schedules: nightly\n', /: schedules must be a list of entries/],
    ['a bad daemon.purgeSchedule', 'daemon:\n  purgeSchedule: "61 3 * * *"\n', /: daemon\.purgeSchedule must be a cron expression such as "17 3 \* \* \*": invalid cron expression "61 3 \* \* \*"/],
    ['a daemon.purgeSchedule of words', 'daemon:\n  purgeSchedule: nightly\n', /: daemon\.purgeSchedule must be a cron expression/],
  ])('%s', (_what, yaml, message) => {
    const f = file(yaml);
    let err: unknown;
    try {
      loadConfig({ config: f }, env);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    // The message starts with the file it is about.
    expect((err as Error).message.startsWith(`${f}: `)).toBe(true);
    expect((err as Error).message).toMatch(message);
  });
});
