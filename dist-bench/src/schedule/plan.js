"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.planOccurrences = planOccurrences;
const rule_1 = require("./rule");
/** Bounds the walk over a long downtime (a minutely series down for a year is 525,600 steps). */
const MAX_STEPS = 20_000;
/**
 * Decides which occurrences of one series to insert at `now`.
 *
 * Occurrences later than `now - grace` are on time and all inserted, up to `horizon` (inserted ahead, they wait
 * as scheduled rows and the claim loop starts them on the minute). Older ones were missed while no daemon ran:
 * 'once' inserts only the latest of them, 'all' the latest `missedMax`, 'skip' none. Never a flood.
 */
function planOccurrences(rule, s, now, horizon, graceMs) {
    const cutoff = new Date(now.getTime() - graceMs);
    const missed = [];
    let skipped = 0;
    let t = s.next;
    let steps = 0;
    while (t && t < cutoff) {
        missed.push(t);
        if (missed.length > s.missedMax) {
            missed.shift();
            skipped++;
        }
        if (++steps >= MAX_STEPS) {
            // Too long a walk: the rest of the gap is skipped outright, deterministically from the cutoff.
            t = (0, rule_1.nextAfter)(rule, new Date(cutoff.getTime() - 1));
            skipped++;
            break;
        }
        t = (0, rule_1.nextAfter)(rule, t);
    }
    const keep = s.missed === 'skip' ? 0 : s.missed === 'once' ? 1 : s.missedMax;
    const fromMissed = missed.slice(missed.length - Math.min(keep, missed.length));
    skipped += missed.length - fromMissed.length;
    const onTime = [];
    while (t && t <= horizon && onTime.length < MAX_STEPS) {
        onTime.push(t);
        t = (0, rule_1.nextAfter)(rule, t);
    }
    let occurrences = [...fromMissed, ...onTime];
    let next = t;
    if (s.maxCount !== null) {
        const room = Math.max(0, s.maxCount - s.count);
        if (occurrences.length >= room) {
            occurrences = occurrences.slice(0, room);
            next = null;
        }
    }
    return { occurrences, next, count: s.count + occurrences.length, skipped };
}
//# sourceMappingURL=plan.js.map