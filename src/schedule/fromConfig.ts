import { ConfigError } from '../errors';
import type { JobTemplate, ScheduleDef } from '../db/queries/schedules';
import type { ParamInput } from '../db/queries/submit';
import { checkTimezone, parseEvery, validateRule, ScheduleError, type Rule } from './rule';
import { localTimezone } from './localZone';
import type { MissedPolicy } from './plan';

const KEYS = ['name', 'action', 'cron', 'every', 'timezone', 'start', 'end', 'count', 'missed', 'missedMax', 'params',
  'parameter', 'email', 'cc', 'bcc', 'replyTo', 'from', 'subject', 'body', 'filename', 'html', 'priority', 'timeoutSeconds', 'maxAttempts'] as const;

type Entry = Record<string, unknown>;

function text(e: Entry, key: string, where: string): string | null {
  const v = e[key];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string' && typeof v !== 'number') throw new ConfigError(`${where}.${key} must be text (got ${JSON.stringify(v)})`);
  return String(v);
}

function int(e: Entry, key: string, where: string, min: number, max: number): number | null {
  const v = e[key];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new ConfigError(`${where}.${key} must be a whole number from ${min} to ${max} (got ${JSON.stringify(v)})`);
  return v;
}

function time(e: Entry, key: string, where: string): Date | null {
  const v = e[key];
  if (v === undefined || v === null) return null;
  const d = v instanceof Date ? v : new Date(String(v));
  if (Number.isNaN(d.getTime())) throw new ConfigError(`${where}.${key} must be a date and time such as 2026-12-01T08:00:00Z (got ${JSON.stringify(v)})`);
  return d;
}

function params(e: Entry, where: string): ParamInput[] {
  const v = e.params;
  if (v === undefined || v === null) return [];
  if (typeof v !== 'object' || Array.isArray(v)) throw new ConfigError(`${where}.params must be a section of name: value lines`);
  return Object.entries(v as Entry).map(([name, val]) => {
    // `name:` with nothing after it: an empty value, not the text "null".
    if (val === null || val === undefined) return { name, value: '', type: 'QString' };
    if (typeof val === 'object' && !Array.isArray(val)) {
      const o = val as Entry;
      return { name, value: String(o.value ?? ''), type: String(o.type ?? 'QString') };
    }
    const type = typeof val === 'number' ? (Number.isInteger(val) ? 'int' : 'double') : typeof val === 'boolean' ? 'bool' : 'QString';
    return { name, value: String(val), type };
  });
}

/** One `schedules:` entry of the config file as a series definition; ConfigError names the entry and key. */
export function scheduleFromConfig(raw: unknown, index: number, source: string): ScheduleDef {
  const where = `${source}: schedules[${index}]`;
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError(`${where} must be a section (name, action, cron or every, ...)`);
  const e = raw as Entry;
  for (const k of Object.keys(e)) {
    if (!(KEYS as readonly string[]).includes(k)) throw new ConfigError(`${where}: unknown key "${k}" (known keys: ${KEYS.join(', ')})`);
  }
  const name = text(e, 'name', where);
  if (!name || !/^[A-Za-z0-9_.-]{1,100}$/.test(name)) throw new ConfigError(`${where}.name must be a name of letters, digits, "_", "-" or "." (got ${JSON.stringify(e.name)})`);
  const action = text(e, 'action', where);
  if (!action) throw new ConfigError(`${where}.action is missing: name the job's batch_action (e.g. ServerMaintenance)`);
  const cron = text(e, 'cron', where);
  const every = text(e, 'every', where);
  const tz = text(e, 'timezone', where) ?? localTimezone();
  const missed = (text(e, 'missed', where) ?? 'once') as MissedPolicy;
  if (!['once', 'all', 'skip'].includes(missed)) throw new ConfigError(`${where}.missed must be one of once, all, skip (got ${JSON.stringify(e.missed)})`);
  /** A ScheduleError from checking one key, as a ConfigError naming that key. */
  const keyed = <T>(key: string, check: () => T): T => {
    try {
      return check();
    } catch (err) {
      if (err instanceof ScheduleError) throw new ConfigError(`${where}.${key} (${name}): ${err.message}`);
      throw err;
    }
  };
  if (cron && every) throw new ConfigError(`${where} (${name}): give cron or every, not both`);
  if (!cron && !every) throw new ConfigError(`${where} (${name}): give cron (a cron expression such as "30 2 * * *") or every (15m, 2h, 1d)`);
  keyed('timezone', () => checkTimezone(tz));
  const rule: Rule = {
    cron, every: every ? keyed('every', () => parseEvery(every)) : null, timezone: tz,
    start: time(e, 'start', where) ?? new Date(0), end: time(e, 'end', where),
  };
  if (rule.end && rule.end <= rule.start) throw new ConfigError(`${where}.end (${name}): end must be after start`);
  keyed(cron ? 'cron' : 'every', () => validateRule(rule));
  try {
    const job: JobTemplate = {
      parameter: text(e, 'parameter', where), email: text(e, 'email', where), cc: text(e, 'cc', where), bcc: text(e, 'bcc', where),
      replyto: text(e, 'replyTo', where), fromemail: text(e, 'from', where), subject: text(e, 'subject', where), body: text(e, 'body', where),
      filename: text(e, 'filename', where), emailhtml: e.html === true, priority: int(e, 'priority', where, -32768, 32767) ?? 0,
      timeoutSeconds: int(e, 'timeoutSeconds', where, 1, 7 * 86_400), maxAttempts: int(e, 'maxAttempts', where, 1, 100), params: params(e, where),
    };
    return { name, source: 'config', action, job, rule, maxCount: int(e, 'count', where, 1, 1_000_000_000), missed, missedMax: int(e, 'missedMax', where, 1, 1000) ?? 10 };
  } catch (err) {
    if (err instanceof ScheduleError) throw new ConfigError(`${where} (${name}): ${err.message}`);
    throw err;
  }
}
