/**
 * Per-action job counts and duration buckets, kept as plain numbers so that recording a job costs one Map lookup
 * and a few increments: the claim loop runs over 10,000 jobs/s, and a metrics library's label hashing on every
 * job would show. /metrics reads these at scrape time (src/service/metrics.ts).
 */

/** Upper bounds, in seconds, of the duration histogram: from no-op jobs to hour-long maintenance. */
export const DURATION_BUCKETS: readonly number[] = [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600];

export const OUTCOMES = ['done', 'failed', 'retry', 'release', 'lost'] as const;
export type JobOutcome = (typeof OUTCOMES)[number];

export interface ActionStats {
  readonly action: string;
  done: number;
  failed: number;
  retry: number;
  release: number;
  /** Stopped because the row was cancelled or taken back: nothing recorded. */
  lost: number;
  /** Observations per bucket, not cumulative (index DURATION_BUCKETS.length is +Inf). */
  readonly buckets: number[];
  sumSeconds: number;
  count: number;
}

export class JobStats {
  private readonly byAction = new Map<string, ActionStats>();

  /** The record of one action, created the first time the action is seen. */
  forAction(action: string): ActionStats {
    let s = this.byAction.get(action);
    if (!s) {
      s = { action, done: 0, failed: 0, retry: 0, release: 0, lost: 0, buckets: new Array<number>(DURATION_BUCKETS.length + 1).fill(0), sumSeconds: 0, count: 0 };
      this.byAction.set(action, s);
    }
    return s;
  }

  record(action: string, outcome: JobOutcome, ms: number): void {
    const s = this.forAction(action);
    s[outcome]++;
    const seconds = ms / 1000;
    let i = 0;
    while (i < DURATION_BUCKETS.length && seconds > DURATION_BUCKETS[i]!) i++;
    s.buckets[i]!++;
    s.sumSeconds += seconds;
    s.count++;
  }

  actions(): IterableIterator<ActionStats> {
    return this.byAction.values();
  }
}
