import fs from 'node:fs';
import { CANONICAL_ZONES } from './canonicalZones';
import { ZONE_ALIASES } from './zoneAliases';

/** The names of UTC that V8 canonicalizes to "UTC" (checked against Intl in test/schedule/localZone.test.ts). */
const UTC_NAMES = /^(?:Etc\/)?(?:UTC|UCT|GMT|Universal|Zulu)$/i;

/** True for a name of UTC: such a zone needs no time-zone rules, hence no Intl lookups. */
export function isUtcName(tz: string): boolean {
  return UTC_NAMES.test(tz);
}

/**
 * The zone this process's local time is in, read where ICU reads it (TZ, else the zone file /etc/localtime links
 * to), under the name Intl gives it: "UTC" for any name of UTC, a canonical name as it is, an alias Intl renames
 * under Intl's name (Asia/Kolkata is Asia/Calcutta to it: a schedule stored under the other spelling would count
 * as changed), else null: a POSIX rule such as CET-1CEST, a name this Node's tables do not know, or none to read.
 */
export function systemZone(env: NodeJS.ProcessEnv = process.env, localtime = '/etc/localtime'): string | null {
  let name: string | undefined;
  if (env.TZ !== undefined) {
    name = env.TZ.replace(/^:/, '');
  } else {
    try {
      name = /zoneinfo\/(.+)$/.exec(fs.readlinkSync(localtime))?.[1];
    } catch {
      return null;
    }
  }
  if (!name) return null;
  if (isUtcName(name)) return 'UTC';
  if (CANONICAL_ZONES.has(name)) return name;
  return ZONE_ALIASES.get(name) ?? null;
}

let cached: string | null | undefined;

/**
 * True when `tz` is the zone of this process's local time, so that plain local Date arithmetic computes times in
 * it (croner without a `timezone`), with no Intl. Read once: the process's zone does not change while it runs.
 */
export function isSystemZone(tz: string): boolean {
  if (cached === undefined) cached = systemZone();
  return cached !== null && (cached === tz || (cached === 'UTC' && isUtcName(tz)));
}

/**
 * The machine's own zone: "02:30" in a config file means 02:30 where the administrator is. The name Intl gives,
 * read from the system where it can be (systemZone): the first Intl.DateTimeFormat maps about 8 MB of ICU's data
 * into the daemon, which otherwise never needs it for a schedule in its own zone (issue 17: the binary idle under
 * 80 MB).
 */
export function localTimezone(env: NodeJS.ProcessEnv = process.env, localtime = '/etc/localtime'): string {
  return systemZone(env, localtime) ?? (Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC');
}
