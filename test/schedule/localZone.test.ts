import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CANONICAL_ZONES } from '../../src/schedule/canonicalZones';
import { isUtcName, localTimezone, systemZone } from '../../src/schedule/localZone';
import { ZONE_ALIASES } from '../../src/schedule/zoneAliases';
import { latestBefore, upcoming, type Rule } from '../../src/schedule/rule';

// The machine's zone is read from the system where it can be, without Intl, and must be the name Intl would give;
// schedules in the machine's own zone are then worked out with local Date arithmetic, and must give the same
// times as croner's zone mode. Children run the compiled modules (npm run build) in a zone of their own.

const DIST = path.resolve(__dirname, '..', '..', 'dist', 'schedule');

/** What Intl says the zone is in a Node process started with TZ=tz. */
function intlZoneWith(tz: string): string {
  return execFileSync(process.execPath, ['-e', 'process.stdout.write(String(Intl.DateTimeFormat().resolvedOptions().timeZone))'], {
    env: { ...process.env, TZ: tz },
    encoding: 'utf8',
  });
}

/**
 * localTimezone(env, localtime) in a Node process whose own zone is `processTz` (what Intl answers there): the
 * answer shows whether Intl was asked.
 */
function localTimezoneIn(processTz: string, env: Record<string, string>, localtime: string): string {
  const code = `process.stdout.write(require(${JSON.stringify(path.join(DIST, 'localZone.js'))}).localTimezone(JSON.parse(process.argv[1]), process.argv[2]))`;
  return execFileSync(process.execPath, ['-e', code, JSON.stringify(env), localtime], { env: { ...process.env, TZ: processTz }, encoding: 'utf8' });
}

const UTC_SPELLINGS = ['UTC', 'Etc/UTC', 'GMT', 'Etc/GMT', 'UCT', 'Etc/UCT', 'Universal', 'Etc/Universal', 'Zulu', 'Etc/Zulu', ':UTC', ':Etc/UTC'];

test.each(UTC_SPELLINGS)('TZ=%s: "UTC", the name Intl gives for it', (tz) => {
  expect(localTimezone({ TZ: tz }, '/nonexistent')).toBe('UTC');
  expect(localTimezoneIn('Asia/Tokyo', { TZ: tz }, '/nonexistent')).toBe('UTC');
  expect(intlZoneWith(tz)).toBe('UTC');
});

test('the canonical names are this Node\'s Intl time zones, each given back unchanged', () => {
  expect([...CANONICAL_ZONES].sort()).toEqual([...Intl.supportedValuesOf('timeZone')].sort());
  for (const z of CANONICAL_ZONES) expect(new Intl.DateTimeFormat('en-US', { timeZone: z }).resolvedOptions().timeZone).toBe(z);
});

test.each(['Europe/Berlin', 'America/New_York', 'Australia/Lord_Howe', 'Asia/Calcutta'])(
  'TZ=%s: read from the system, the name Intl gives for it',
  (tz) => {
    expect(isUtcName(tz)).toBe(false);
    // In a process running in Asia/Tokyo, Intl would have said Asia/Tokyo.
    expect(localTimezoneIn('Asia/Tokyo', { TZ: tz }, '/nonexistent')).toBe(tz);
    expect(intlZoneWith(tz)).toBe(tz);
  },
);

test('each alias is given the name this Node\'s Intl gives it, and none is a canonical name', () => {
  expect(ZONE_ALIASES.size).toBeGreaterThan(100);
  for (const [alias, name] of ZONE_ALIASES) {
    expect(CANONICAL_ZONES.has(alias)).toBe(false);
    expect([alias, new Intl.DateTimeFormat('en-US', { timeZone: alias }).resolvedOptions().timeZone]).toEqual([alias, name]);
  }
});

test.each([
  ['US/Eastern', 'America/New_York'],
  ['Asia/Kolkata', 'Asia/Calcutta'],
  ['Europe/Kyiv', 'Europe/Kiev'],
  ['America/Argentina/Buenos_Aires', 'America/Buenos_Aires'],
  ['GMT0', 'UTC'],
])('TZ=%s, an alias: read from the system under Intl\'s name for it, %s', (tz, name) => {
  expect(systemZone({ TZ: tz }, '/nonexistent')).toBe(name);
  // In a process running in Asia/Tokyo, Intl would have said Asia/Tokyo.
  expect(localTimezoneIn('Asia/Tokyo', { TZ: tz }, '/nonexistent')).toBe(name);
  expect(intlZoneWith(tz)).toBe(name);
});

test.each([
  ['CET-1CEST', 'a POSIX rule'],
  ['Europe/Atlantis', 'no such zone'],
])('TZ=%s (%s): Intl is asked, and its name kept', (tz) => {
  expect(systemZone({ TZ: tz }, '/nonexistent')).toBeNull();
  const intl = intlZoneWith(tz);
  // An unknown zone: Intl gives none, and the machine's zone is taken for UTC, as before.
  expect(localTimezoneIn(tz, { TZ: tz }, '/nonexistent')).toBe(intl === 'undefined' ? 'UTC' : intl);
});

describe('without TZ, the zone file /etc/localtime links to', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xtc-zone-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const link = (name: string, target: string): string => {
    const p = path.join(dir, name);
    fs.symlinkSync(target, p);
    return p;
  };

  // The process runs in Asia/Tokyo, so an answer of Asia/Tokyo means Intl was asked.
  test('a link to zoneinfo/Etc/UTC or zoneinfo/UTC is UTC, without asking Intl', () => {
    expect(localTimezoneIn('Asia/Tokyo', {}, link('a', '/usr/share/zoneinfo/Etc/UTC'))).toBe('UTC');
    expect(localTimezoneIn('Asia/Tokyo', {}, link('b', '../usr/share/zoneinfo/UTC'))).toBe('UTC');
  });

  test('a link to a canonical zone names that zone, without asking Intl', () => {
    expect(localTimezoneIn('Asia/Tokyo', {}, link('c', '/usr/share/zoneinfo/Europe/Berlin'))).toBe('Europe/Berlin');
  });

  test('a link to an alias names the zone as Intl does, without asking Intl', () => {
    expect(localTimezoneIn('Asia/Tokyo', {}, link('d', '/usr/share/zoneinfo/US/Eastern'))).toBe('America/New_York');
    expect(localTimezoneIn('Asia/Tokyo', {}, link('e', '/usr/share/zoneinfo/Asia/Kolkata'))).toBe('Asia/Calcutta');
  });

  test('a copied file or no file at all: Intl is asked', () => {
    const copy = path.join(dir, 'copy');
    fs.writeFileSync(copy, 'TZif');
    expect(localTimezoneIn('Asia/Tokyo', {}, copy)).toBe('Asia/Tokyo');
    expect(localTimezoneIn('Asia/Tokyo', {}, path.join(dir, 'missing'))).toBe('Asia/Tokyo');
  });
});

/** Times of a year of rules, each as upcoming and latestBefore give them, in epoch ms. */
const RULE_SCRIPT = `
const { upcoming, latestBefore } = require(process.argv[1]);
const tz = process.argv[2];
const out = [];
for (const cron of ['30 2 * * *', '17 3 * * *', '0 * * * *', '*/20 1-3 * * *', '30 1 * * 0', '59 1 * * *', '0 0 1 * *']) {
  const rule = { cron, every: null, timezone: tz, start: new Date('2026-01-01T00:00:00Z'), end: null };
  for (let day = 0; day < 365; day += 2) {
    const at = new Date(Date.UTC(2027, 0, 1 + day, (day * 5) % 24, 10));
    out.push(upcoming(rule, at, 3).map((d) => d.getTime()), latestBefore(rule, at, 2, rule.start).map((d) => d.getTime()));
  }
}
process.stdout.write(JSON.stringify(out));`;

function ruleTimes(processTz: string, tz: string): number[][] {
  return JSON.parse(execFileSync(process.execPath, ['-e', RULE_SCRIPT, path.join(DIST, 'rule.js'), tz], {
    env: { ...process.env, TZ: processTz },
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  })) as number[][];
}

test.each([
  ['Europe/Berlin', 'Europe/Berlin'],
  ['America/New_York', 'America/New_York'],
  ['Australia/Lord_Howe', 'Australia/Lord_Howe'],
  ['America/Sao_Paulo', 'America/Sao_Paulo'],
  // A machine set to an alias: its schedules carry Intl's name for the zone.
  ['Asia/Kolkata', 'Asia/Calcutta'],
  ['America/Argentina/Buenos_Aires', 'America/Buenos_Aires'],
])(
  'cron times on a machine in %s (schedules in %s) are the same worked out as the machine\'s own zone (local Date) and as a named zone (Intl)',
  (machineTz, tz) => {
    const asOwnZone = ruleTimes(machineTz, tz);
    const asNamedZone = ruleTimes('UTC', tz);
    expect(asOwnZone.length).toBeGreaterThan(1000);
    expect(asOwnZone).toEqual(asNamedZone);
    // The two really differ in the zone they run in: a daily 02:30 is not at 02:30 UTC.
    const rule: Rule = { cron: '30 2 * * *', every: null, timezone: tz, start: new Date('2026-01-01T00:00:00Z'), end: null };
    expect(upcoming(rule, new Date('2027-06-01T00:00:00Z'), 1)[0]!.getUTCHours()).not.toBe(2);
    expect(latestBefore(rule, new Date('2027-06-01T00:00:00Z'), 1, rule.start)).toHaveLength(1);
  },
  60_000,
);
