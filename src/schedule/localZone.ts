import fs from 'node:fs';

/** The names of UTC that V8 canonicalizes to "UTC" (checked against Intl in test/schedule/localZone.test.ts). */
const UTC_NAMES = /^(?:Etc\/)?(?:UTC|UCT|GMT|Universal|Zulu)$/i;

/** True for a name of UTC: such a zone needs no time-zone rules, hence no Intl lookups. */
export function isUtcName(tz: string): boolean {
  return UTC_NAMES.test(tz);
}

/**
 * "UTC" when the machine's zone is UTC, read where ICU reads it (TZ, else the zone file /etc/localtime links to);
 * null when it is another zone or cannot be told that way.
 */
function systemUtc(env: NodeJS.ProcessEnv, localtime: string): 'UTC' | null {
  if (env.TZ !== undefined) return isUtcName(env.TZ.replace(/^:/, '')) ? 'UTC' : null;
  try {
    const zone = /zoneinfo\/(.+)$/.exec(fs.readlinkSync(localtime))?.[1];
    return zone && isUtcName(zone) ? 'UTC' : null;
  } catch {
    return null;
  }
}

/**
 * The machine's own zone: "02:30" in a config file means 02:30 where the administrator is. The same name Intl
 * gives, but a server running in UTC is told so without asking Intl: the first Intl.DateTimeFormat maps about
 * 7 MB of ICU's data into the daemon, which otherwise never needs it (issue 17: the binary idle under 80 MB).
 */
export function localTimezone(env: NodeJS.ProcessEnv = process.env, localtime = '/etc/localtime'): string {
  return systemUtc(env, localtime) ?? (Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC');
}
