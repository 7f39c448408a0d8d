"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.ScheduleError = void 0;
exports.checkTimezone = checkTimezone;
exports.parseEvery = parseEvery;
exports.validateRule = validateRule;
exports.nextAfter = nextAfter;
exports.upcoming = upcoming;
exports.formatInZone = formatInZone;
const croner_1 = require("croner");
const luxon_1 = require("luxon");
class ScheduleError extends Error {
    name = 'ScheduleError';
}
exports.ScheduleError = ScheduleError;
function checkTimezone(tz) {
    try {
        new Intl.DateTimeFormat('en-US', { timeZone: tz });
    }
    catch {
        throw new ScheduleError(`unknown time zone "${tz}": use an IANA name such as Europe/Berlin, America/New_York or UTC`);
    }
}
/** "15m", "2h", "1d", "90 minutes", "3 days" → an every-N rule part. */
function parseEvery(text) {
    const m = /^\s*(\d+)\s*(m|min|mins|minutes?|h|hours?|d|days?)\s*$/i.exec(text);
    if (!m)
        throw new ScheduleError(`"${text}" is not an interval: write a number and a unit, such as 15m, 2h or 1d`);
    const n = Number(m[1]);
    if (n < 1)
        throw new ScheduleError(`interval "${text}" must be at least 1`);
    const u = m[2].toLowerCase();
    const unit = u.startsWith('m') ? 'minutes' : u.startsWith('h') ? 'hours' : 'days';
    const max = { minutes: 525_600, hours: 8_760, days: 3_660 }[unit];
    if (n > max)
        throw new ScheduleError(`interval "${text}" is longer than ten years`);
    return { n, unit };
}
const cronCache = new Map();
function cronFor(expr, tz) {
    const key = `${tz}\u0000${expr}`;
    let c = cronCache.get(key);
    if (!c) {
        try {
            // Croner, not node-cron: node-cron's next-match skips a daily 02:30 on the day the clocks go forward,
            // croner runs it once at the first time that exists (03:00).
            c = new croner_1.Cron(expr, { timezone: tz, paused: true, mode: '5-or-6-parts' });
        }
        catch (err) {
            throw new ScheduleError(`invalid cron expression "${expr}": ${err.message.replace(/^CronPattern: /, '')}`);
        }
        if (cronCache.size > 10_000)
            cronCache.clear();
        cronCache.set(key, c);
    }
    return c;
}
/** Checks a rule the way it will be used; throws ScheduleError with a sentence a person can act on. */
function validateRule(rule) {
    checkTimezone(rule.timezone);
    if ((rule.cron === null) === (rule.every === null))
        throw new ScheduleError('a schedule needs exactly one of a cron expression or an interval');
    if (rule.every && (!Number.isInteger(rule.every.n) || rule.every.n < 1))
        throw new ScheduleError(`interval must be a whole number of at least 1 (got ${rule.every.n})`);
    if (Number.isNaN(rule.start.getTime()))
        throw new ScheduleError('start is not a valid time');
    if (rule.end && Number.isNaN(rule.end.getTime()))
        throw new ScheduleError('end is not a valid time');
    if (rule.end && rule.end <= rule.start)
        throw new ScheduleError('end must be after start');
    if (rule.cron) {
        const first = cronFor(rule.cron, rule.timezone).nextRun(new Date(rule.start.getTime() - 1));
        if (!first)
            throw new ScheduleError(`cron expression "${rule.cron}" never matches a time`);
    }
}
/**
 * The first occurrence strictly after `after` (and not before the start), or null when the series has ended.
 * Always computed from the rule and the anchor, never by adding to the previous occurrence, so clock changes and
 * short months cannot make it drift.
 */
function nextAfter(rule, after) {
    const from = after < rule.start ? new Date(rule.start.getTime() - 1) : after;
    let t;
    if (rule.cron) {
        t = cronFor(rule.cron, rule.timezone).nextRun(from);
    }
    else {
        const { n, unit } = rule.every;
        if (unit === 'days') {
            // Whole days in the series' zone: the local time of day stays; a time the clocks skip runs just after the gap.
            const anchor = luxon_1.DateTime.fromJSDate(rule.start, { zone: rule.timezone });
            const days = Math.floor(luxon_1.DateTime.fromJSDate(from, { zone: rule.timezone }).diff(anchor, 'days').days);
            let k = Math.max(0, Math.floor(days / n) - 1);
            let c = anchor.plus({ days: k * n });
            while (c.toMillis() <= from.getTime())
                c = anchor.plus({ days: ++k * n });
            t = c.toJSDate();
        }
        else {
            const step = n * (unit === 'hours' ? 3_600_000 : 60_000);
            const k = Math.floor((from.getTime() - rule.start.getTime()) / step) + 1;
            t = new Date(rule.start.getTime() + Math.max(0, k) * step);
        }
    }
    if (!t || (rule.end && t > rule.end))
        return null;
    return t;
}
/** The next `count` occurrences after `after`, for previews. */
function upcoming(rule, after, count) {
    const out = [];
    let t = after;
    while (out.length < count && (t = nextAfter(rule, t)))
        out.push(t);
    return out;
}
/** An instant as wall-clock time in a zone, for people: "2026-03-08 03:00 EDT". */
function formatInZone(t, tz) {
    return luxon_1.DateTime.fromJSDate(t, { zone: tz }).toFormat('yyyy-MM-dd HH:mm ZZZZ');
}
//# sourceMappingURL=rule.js.map