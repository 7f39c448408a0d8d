import { Cron } from 'croner';
import { DateTime } from 'luxon';
import { isSystemZone, isUtcName } from './localZone';

/** When a series repeats. Times are instants; `timezone` decides what "02:30" and "every day" mean. */
export interface Rule {
  cron: string | null;
  every: { n: number; unit: 'minutes' | 'hours' | 'days' } | null;
  timezone: string;
  start: Date;
  end: Date | null;
}

export class ScheduleError extends Error {
  override name = 'ScheduleError';
}

export function checkTimezone(tz: string): void {
  // UTC and the machine's own zone are valid without asking Intl (which would map ICU's data into the daemon:
  // src/schedule/localZone.ts).
  if (isUtcName(tz) || isSystemZone(tz)) return;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
  } catch {
    throw new ScheduleError(`unknown time zone "${tz}": use an IANA name such as Europe/Berlin, America/New_York or UTC`);
  }
}

/** "15m", "2h", "1d", "90 minutes", "3 days" → an every-N rule part. */
export function parseEvery(text: string): { n: number; unit: 'minutes' | 'hours' | 'days' } {
  const m = /^\s*(\d+)\s*(m|min|mins|minutes?|h|hours?|d|days?)\s*$/i.exec(text);
  if (!m) throw new ScheduleError(`"${text}" is not an interval: write a number and a unit, such as 15m, 2h or 1d`);
  const n = Number(m[1]);
  if (n < 1) throw new ScheduleError(`interval "${text}" must be at least 1`);
  const u = m[2]!.toLowerCase();
  const unit = u.startsWith('m') ? 'minutes' : u.startsWith('h') ? 'hours' : 'days';
  const max = { minutes: 525_600, hours: 8_760, days: 3_660 }[unit];
  if (n > max) throw new ScheduleError(`interval "${text}" is longer than ten years`);
  return { n, unit };
}

const cronCache = new Map<string, Cron>();

function cronFor(expr: string, tz: string): Cron {
  const key = `${tz}\u0000${expr}`;
  let c = cronCache.get(key);
  if (!c) {
    try {
      // Croner, not node-cron: node-cron's next-match skips a daily 02:30 on the day the clocks go forward,
      // croner runs it once at the first time that exists (03:00).
      // A fixed offset for UTC: the same times, without Intl's per-step zone lookups (ten times faster).
      // The machine's own zone: local Date arithmetic, no Intl (croner's local and zone modes give the same
      // times across daylight-saving changes: test/schedule/localZone.test.ts).
      const zone = isUtcName(tz) ? { utcOffset: 0 } : isSystemZone(tz) ? {} : { timezone: tz };
      c = new Cron(expr, { ...zone, paused: true, mode: '5-or-6-parts' });
    } catch (err) {
      throw new ScheduleError(`invalid cron expression "${expr}": ${(err as Error).message.replace(/^CronPattern: /, '')}`);
    }
    if (cronCache.size > 10_000) cronCache.clear();
    cronCache.set(key, c);
  }
  return c;
}

/** Checks a rule the way it will be used; throws ScheduleError with a sentence a person can act on. */
export function validateRule(rule: Rule): void {
  checkTimezone(rule.timezone);
  if ((rule.cron === null) === (rule.every === null)) throw new ScheduleError('a schedule needs exactly one of a cron expression or an interval');
  if (rule.every && (!Number.isInteger(rule.every.n) || rule.every.n < 1)) throw new ScheduleError(`interval must be a whole number of at least 1 (got ${rule.every.n})`);
  if (Number.isNaN(rule.start.getTime())) throw new ScheduleError('start is not a valid time');
  if (rule.end && Number.isNaN(rule.end.getTime())) throw new ScheduleError('end is not a valid time');
  if (rule.end && rule.end <= rule.start) throw new ScheduleError('end must be after start');
  if (rule.cron) {
    const first = cronFor(rule.cron, rule.timezone).nextRun(new Date(rule.start.getTime() - 1));
    if (!first) throw new ScheduleError(`cron expression "${rule.cron}" never matches a time`);
  }
}

/**
 * The anchor's local time of day, `days` calendar days later in the anchor's zone. A time the clocks skip (02:30
 * on the spring-forward day) becomes the first time that exists after the gap (03:00), as cron rules run it;
 * luxon alone would move it by the gap's length (03:30).
 */
export function plusLocalDays(anchor: DateTime, days: number): DateTime {
  const c = anchor.plus({ days });
  if (c.hour === anchor.hour && c.minute === anchor.minute && c.second === anchor.second) return c;
  // In a gap: luxon read the skipped wall time with the offset before the change, so the change itself lies
  // within the gap's length (at most a few hours) before `c`. Find its first second with the new offset.
  const zone = anchor.zone;
  const offsetAt = (ms: number): number => DateTime.fromMillis(ms, { zone }).offset;
  let lo = c.toMillis() - 6 * 3_600_000;
  let hi = c.toMillis();
  if (offsetAt(lo) === c.offset) return c;
  while (hi - lo > 1000) {
    const mid = lo + Math.floor((hi - lo) / 2000) * 1000;
    if (offsetAt(mid) === c.offset) hi = mid;
    else lo = mid;
  }
  return DateTime.fromMillis(hi, { zone });
}

/**
 * The first occurrence strictly after `after` (and not before the start), or null when the series has ended.
 * Always computed from the rule and the anchor, never by adding to the previous occurrence, so clock changes and
 * short months cannot make it drift.
 */
export function nextAfter(rule: Rule, after: Date): Date | null {
  const from = after < rule.start ? new Date(rule.start.getTime() - 1) : after;
  let t: Date | null;
  if (rule.cron) {
    t = cronFor(rule.cron, rule.timezone).nextRun(from);
  } else {
    const { n, unit } = rule.every!;
    if (unit === 'days') {
      // Whole days in the series' zone: the local time of day stays; a time the clocks skip runs just after the gap.
      const anchor = DateTime.fromJSDate(rule.start, { zone: rule.timezone });
      const days = Math.floor(DateTime.fromJSDate(from, { zone: rule.timezone }).diff(anchor, 'days').days);
      let k = Math.max(0, Math.floor(days / n) - 1);
      let c = plusLocalDays(anchor, k * n);
      while (c.toMillis() <= from.getTime()) c = plusLocalDays(anchor, ++k * n);
      t = c.toJSDate();
    } else {
      const step = n * (unit === 'hours' ? 3_600_000 : 60_000);
      const k = Math.floor((from.getTime() - rule.start.getTime()) / step) + 1;
      t = new Date(rule.start.getTime() + Math.max(0, k) * step);
    }
  }
  if (!t || (rule.end && t > rule.end)) return null;
  return t;
}

/**
 * The latest `n` occurrences strictly before `before` and not before `notBefore`, oldest first. Used after a
 * downtime, to pick the missed occurrences to run without walking the whole gap.
 */
export function latestBefore(rule: Rule, before: Date, n: number, notBefore: Date): Date[] {
  if (n <= 0) return [];
  const floor = Math.max(notBefore.getTime(), rule.start.getTime());
  const end = rule.end && rule.end < before ? new Date(rule.end.getTime() + 1) : before;
  let out: Date[];
  if (rule.cron) {
    out = cronFor(rule.cron, rule.timezone).previousRuns(n, end);
  } else {
    const { n: every, unit } = rule.every!;
    out = [];
    if (unit === 'days') {
      const anchor = DateTime.fromJSDate(rule.start, { zone: rule.timezone });
      let k = Math.floor(DateTime.fromJSDate(end, { zone: rule.timezone }).diff(anchor, 'days').days / every) + 1;
      while (k >= 0 && out.length < n) {
        const t = plusLocalDays(anchor, k * every).toJSDate();
        if (t < end) out.push(t);
        k--;
      }
    } else {
      const step = every * (unit === 'hours' ? 3_600_000 : 60_000);
      for (let k = Math.ceil((end.getTime() - rule.start.getTime()) / step) - 1; k >= 0 && out.length < n; k--) {
        out.push(new Date(rule.start.getTime() + k * step));
      }
    }
  }
  return out.filter((t) => t.getTime() >= floor).reverse();
}

/** The next `count` occurrences after `after`, for previews. */
export function upcoming(rule: Rule, after: Date, count: number): Date[] {
  const out: Date[] = [];
  let t: Date | null = after;
  while (out.length < count && (t = nextAfter(rule, t))) out.push(t);
  return out;
}

/** An instant as wall-clock time in a zone, to the second, for people: "2026-03-08 03:00:00 EDT". */
export function formatInZone(t: Date, tz: string): string {
  return DateTime.fromJSDate(t, { zone: tz }).toFormat('yyyy-MM-dd HH:mm:ss ZZZZ');
}
