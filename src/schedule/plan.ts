import { latestBefore, nextAfter, type Rule } from './rule';

export type MissedPolicy = 'once' | 'all' | 'skip';

export interface SeriesState {
  /** The next occurrence not yet inserted; null when every occurrence is inserted (the series has ended). */
  next: Date | null;
  /** Occurrences inserted so far (what a maximum count counts). */
  count: number;
  maxCount: number | null;
  missed: MissedPolicy;
  missedMax: number;
}

export interface PlanInput {
  /**
   * Due times of the series' waiting occurrence rows (inserted ahead, never started) whose time came while no
   * daemon ran, oldest first. The policy decides which of them still run; the others are to be cancelled.
   */
  stale?: Date[];
  /**
   * Whether a daemon was running at `t`. An occurrence that is due, not inserted yet, less than `graceMs` old
   * and covered is merely late (a scheduler pass came a little after its time) and runs; one not covered was
   * missed. Absent: no daemon was running.
   */
  covered?: (t: Date) => boolean;
  /** Occurrences not inserted and older than this are missed whoever ran: a running scheduler inserts ahead. */
  graceMs?: number;
}

export interface Plan {
  /** Occurrences to insert now, oldest first. */
  occurrences: Date[];
  /** Of `stale`, the ones the policy does not run: their rows are cancelled. */
  cancel: Date[];
  /** The next occurrence after them, or null when the series has ended. */
  next: Date | null;
  /** Occurrences inserted so far after this plan (cancelled ones no longer count). */
  count: number;
  /** Occurrences missed while no daemon ran that this plan found (never-inserted ones counted up to 200). */
  missed: number;
  /** True when there were more missed occurrences than were counted. */
  missedCapped: boolean;
  /** Of the missed ones, how many run (inserted now, or left waiting). */
  ranMissed: number;
  /** Of the missed ones, how many do not run: missed - ranMissed. */
  skipped: number;
}

/** Counting the missed occurrences (for the log) walks at most this far. */
const COUNT_LIMIT = 200;

/** How many missed occurrences a policy runs: the latest one, the latest `missedMax`, or none. */
export function keepCount(missed: MissedPolicy, missedMax: number): number {
  return missed === 'skip' ? 0 : missed === 'once' ? 1 : missedMax;
}

/**
 * Decides which occurrences of one series to insert at `now`, and which waiting ones to cancel.
 *
 * An occurrence is *missed* when its time came while no daemon ran: a waiting row nobody could start
 * (`stale`), or an occurrence never inserted that is older than `graceMs` or that no daemon covered. All
 * missed occurrences together, waiting or not, go through the series' policy: 'once' runs only the latest of
 * them, 'all' the latest `missedMax`, 'skip' none. Occurrences after `now` are on time and inserted up to
 * `horizon` (they wait as scheduled rows and the claim loop starts them on time). Never a flood, and never a
 * walk through the whole gap: a minutely series down for a year costs a handful of steps.
 */
export function planOccurrences(rule: Rule, s: SeriesState, now: Date, horizon: Date, input: PlanInput = {}): Plan {
  const covered = input.covered ?? (() => false);
  const stale = input.stale ?? [];
  const keep = keepCount(s.missed, s.missedMax);
  const cutoff = new Date(now.getTime() - (input.graceMs ?? 0));

  // Never inserted and older than the grace: missed. Only the latest `keep` are computed (no walk of the gap),
  // and they are counted up to COUNT_LIMIT.
  let oldMissed: Date[] = [];
  let oldCount = 0;
  let capped = false;
  let t: Date | null = s.next;
  if (t && t < cutoff) {
    oldMissed = latestBefore(rule, cutoff, keep, t);
    for (let m: Date | null = t; m && m < cutoff; m = nextAfter(rule, m)) {
      if (++oldCount >= COUNT_LIMIT) {
        capped = nextAfter(rule, m) !== null && nextAfter(rule, m)! < cutoff;
        break;
      }
    }
    t = nextAfter(rule, new Date(cutoff.getTime() - 1));
  }
  // Never inserted, due, within the grace: late if a daemon was running then, missed if none was.
  const late: Date[] = [];
  const recentMissed: Date[] = [];
  while (t && t <= now) {
    (covered(t) ? late : recentMissed).push(t);
    t = nextAfter(rule, t);
  }

  // The policy over every missed occurrence, waiting rows and never-inserted ones alike: keep the latest.
  type Candidate = { at: Date; waiting: boolean };
  const candidates: Candidate[] = [
    ...stale.map((at) => ({ at, waiting: true })),
    ...oldMissed.map((at) => ({ at, waiting: false })),
    ...recentMissed.map((at) => ({ at, waiting: false })),
  ].sort((a, b) => a.at.getTime() - b.at.getTime());
  const kept = keep > 0 ? candidates.slice(-keep) : [];
  const keptSet = new Set(kept);
  const cancel = candidates.filter((c) => c.waiting && !keptSet.has(c)).map((c) => c.at);
  const insertMissed = kept.filter((c) => !c.waiting).map((c) => c.at);
  const missed = stale.length + oldCount + recentMissed.length;

  const onTime: Date[] = [];
  while (t && t <= horizon && onTime.length < 10_000) {
    onTime.push(t);
    t = nextAfter(rule, t);
  }

  let occurrences = [...insertMissed, ...late, ...onTime].sort((a, b) => a.getTime() - b.getTime());
  let next = t;
  const count = s.count - cancel.length;
  let insertedMissed = insertMissed.length;
  if (s.maxCount !== null) {
    const room = Math.max(0, s.maxCount - count);
    if (occurrences.length >= room) {
      occurrences = occurrences.slice(0, room);
      next = null;
      insertedMissed = occurrences.filter((o) => insertMissed.includes(o)).length;
    }
  }
  const ranMissed = kept.filter((c) => c.waiting).length + insertedMissed;
  return { occurrences, cancel, next, count: count + occurrences.length, missed, missedCapped: capped, ranMissed, skipped: missed - ranMissed };
}
