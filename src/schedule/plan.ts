import { latestBefore, nextAfter, type Rule } from './rule';

export type MissedPolicy = 'once' | 'all' | 'skip';

export interface SeriesState {
  /** The next occurrence not yet inserted. */
  next: Date;
  /** Occurrences inserted so far. */
  count: number;
  maxCount: number | null;
  missed: MissedPolicy;
  missedMax: number;
}

export interface Plan {
  /** Occurrences to insert now, oldest first. */
  occurrences: Date[];
  /** The next occurrence after them, or null when the series has ended. */
  next: Date | null;
  count: number;
  /** Occurrences passed over by the missed-run policy (counted up to 200). */
  skipped: number;
}

/** Counting the missed occurrences (for the log) walks at most this far. */
const COUNT_LIMIT = 200;

/**
 * Decides which occurrences of one series to insert at `now`.
 *
 * Occurrences later than `now - grace` are on time and all inserted, up to `horizon` (inserted ahead, they wait
 * as scheduled rows and the claim loop starts them on the minute). Older ones were missed while no daemon ran:
 * 'once' inserts only the latest of them, 'all' the latest `missedMax`, 'skip' none. Never a flood, and never a
 * walk through the whole gap: a minutely series down for a year costs a handful of steps.
 */
export function planOccurrences(rule: Rule, s: SeriesState, now: Date, horizon: Date, graceMs: number): Plan {
  const cutoff = new Date(now.getTime() - graceMs);
  let fromMissed: Date[] = [];
  let skipped = 0;
  let t: Date | null = s.next;
  if (t < cutoff) {
    const keep = s.missed === 'skip' ? 0 : s.missed === 'once' ? 1 : s.missedMax;
    fromMissed = latestBefore(rule, cutoff, keep, s.next);
    let missed = 0;
    for (let m: Date | null = s.next; m && m < cutoff && missed < COUNT_LIMIT; m = nextAfter(rule, m)) missed++;
    skipped = Math.max(0, missed - fromMissed.length);
    t = nextAfter(rule, new Date(cutoff.getTime() - 1));
  }

  const onTime: Date[] = [];
  while (t && t <= horizon && onTime.length < 10_000) {
    onTime.push(t);
    t = nextAfter(rule, t);
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
