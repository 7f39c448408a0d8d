import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isUtcName, localTimezone } from '../../src/schedule/localZone';

// The machine's zone is told without Intl only when it is UTC; the name must be the one Intl would give.

/** What Intl says the zone is in a Node process started with TZ=tz. */
function intlZoneWith(tz: string): string {
  return execFileSync(process.execPath, ['-e', 'process.stdout.write(String(Intl.DateTimeFormat().resolvedOptions().timeZone))'], {
    env: { ...process.env, TZ: tz },
    encoding: 'utf8',
  });
}

const COMPILED = path.resolve(__dirname, '..', '..', 'dist', 'schedule', 'localZone.js');

/**
 * localTimezone() in a Node process whose own zone is `processTz` (what Intl answers there), given `env` and the
 * zone file: the answer shows whether Intl was asked. Runs the compiled module (npm run build).
 */
function localTimezoneIn(processTz: string, env: Record<string, string>, localtime: string): string {
  const code = `process.stdout.write(require(${JSON.stringify(COMPILED)}).localTimezone(JSON.parse(process.argv[1]), process.argv[2]))`;
  return execFileSync(process.execPath, ['-e', code, JSON.stringify(env), localtime], { env: { ...process.env, TZ: processTz }, encoding: 'utf8' });
}

const UTC_SPELLINGS = ['UTC', 'Etc/UTC', 'GMT', 'Etc/GMT', 'UCT', 'Etc/UCT', 'Universal', 'Etc/Universal', 'Zulu', 'Etc/Zulu', ':UTC', ':Etc/UTC'];

test.each(UTC_SPELLINGS)('TZ=%s: "UTC", the name Intl gives for it', (tz) => {
  expect(localTimezone({ TZ: tz }, '/nonexistent')).toBe('UTC');
  expect(localTimezoneIn('Asia/Tokyo', { TZ: tz }, '/nonexistent')).toBe('UTC');
  expect(intlZoneWith(tz)).toBe('UTC');
});

test.each(['Europe/Berlin', 'America/New_York', 'Etc/GMT+5'])('TZ=%s is not taken for UTC: Intl is asked and names it', (tz) => {
  expect(isUtcName(tz)).toBe(false);
  expect(localTimezoneIn(tz, { TZ: tz }, '/nonexistent')).toBe(intlZoneWith(tz));
});

describe('without TZ, the zone file /etc/localtime links to', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xtc-zone-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const link = (name: string, target: string): string => {
    const p = path.join(dir, name);
    fs.symlinkSync(target, p);
    return p;
  };

  // The process runs in Asia/Tokyo, so an answer of Asia/Tokyo means Intl was asked, and UTC that it was not.
  test('a link to zoneinfo/Etc/UTC or zoneinfo/UTC is UTC, without asking Intl', () => {
    expect(localTimezoneIn('Asia/Tokyo', {}, link('a', '/usr/share/zoneinfo/Etc/UTC'))).toBe('UTC');
    expect(localTimezoneIn('Asia/Tokyo', {}, link('b', '../usr/share/zoneinfo/UTC'))).toBe('UTC');
  });

  test('a link to another zone, a copied file or no file at all: Intl is asked', () => {
    expect(localTimezoneIn('Asia/Tokyo', {}, link('c', '/usr/share/zoneinfo/Europe/Berlin'))).toBe('Asia/Tokyo');
    const copy = path.join(dir, 'copy');
    fs.writeFileSync(copy, 'TZif');
    expect(localTimezoneIn('Asia/Tokyo', {}, copy)).toBe('Asia/Tokyo');
    expect(localTimezoneIn('Asia/Tokyo', {}, path.join(dir, 'missing'))).toBe('Asia/Tokyo');
  });
});
