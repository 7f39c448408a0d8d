/**
 * How many jobs to claim ahead of free slots: enough to keep every slot busy for a few claims' round trips, from
 * the measured job and claim times, capped by daemon.prefetch. Fast jobs (no-ops, short actions) are claimed
 * hundreds at a time; slow ones (mail to a distant server, reports) one at most, so that other daemons can take
 * them and no job shows as started long before it runs.
 */
export class ClaimSizer {
  /** Moving averages, in ms: a new daemon assumes slow jobs (no claim-ahead beyond one). */
  private jobMs = 1000;
  private claimMs = 2;

  constructor(
    private readonly concurrency: number,
    private readonly maxPrefetch: number,
  ) {}

  jobTook(ms: number): void {
    this.jobMs = 0.9 * this.jobMs + 0.1 * ms;
  }

  claimTook(ms: number): void {
    this.claimMs = 0.8 * this.claimMs + 0.2 * ms;
  }

  /**
   * Jobs to hold ready: what the slots finish during CLAIM_TRIPS claim round trips. The loop claims again only when
   * half of them are gone (src/daemon/loop.ts), so each claim brings about half of this plus the freed slots: jobs
   * of a few milliseconds (mail to a local relay, grouped ERP actions) come several per claim instead of one per
   * finished job, where a claim per job had cost a third of a statement per job (issue 17).
   */
  prefetch(): number {
    const want = Math.ceil((CLAIM_TRIPS * this.concurrency * this.claimMs) / Math.max(this.jobMs, 0.01));
    return Math.min(this.maxPrefetch, want);
  }
}

const CLAIM_TRIPS = 4;
