/**
 * How many jobs to claim ahead of free slots: enough to keep every slot busy for one claim's round trip, from
 * the measured job and claim times, capped by daemon.prefetch. Fast jobs (no-ops, short actions) are claimed
 * hundreds at a time; slow ones (mail, reports) are not claimed ahead at all, so that other daemons can take
 * them and no job shows as started long before it runs.
 */
export class ClaimSizer {
  /** Moving averages, in ms: a new daemon assumes slow jobs (no claim-ahead). */
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

  prefetch(): number {
    const want = Math.ceil((this.concurrency * this.claimMs) / Math.max(this.jobMs, 0.01));
    return Math.min(this.maxPrefetch, want);
  }
}
