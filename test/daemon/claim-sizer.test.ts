import { ClaimSizer } from '../../src/daemon/claimSizer';

// How many jobs the daemon holds ready beyond its free slots, from what jobs and claims have taken (issue 17).
function after(sizer: ClaimSizer, jobMs: number, claimMs: number): ClaimSizer {
  for (let i = 0; i < 200; i++) {
    sizer.jobTook(jobMs);
    sizer.claimTook(claimMs);
  }
  return sizer;
}

describe('ClaimSizer', () => {
  it('a new daemon assumes slow jobs: at most one ahead', () => {
    expect(new ClaimSizer(10, 500).prefetch()).toBeLessThanOrEqual(1);
  });

  it('jobs of a second or more (reports, mail to a slow server): one ahead at most', () => {
    expect(after(new ClaimSizer(10, 500), 1500, 2).prefetch()).toBe(1);
  });

  it('jobs of a few milliseconds: what the slots finish in four claim round trips', () => {
    // 10 slots finishing a 5 ms job each during 4 claims of 1.5 ms: 12 jobs.
    expect(after(new ClaimSizer(10, 500), 5, 1.5).prefetch()).toBe(12);
  });

  it('no-op jobs: capped by daemon.prefetch', () => {
    expect(after(new ClaimSizer(50, 500), 0.01, 3).prefetch()).toBe(500);
    expect(after(new ClaimSizer(50, 0), 0.01, 3).prefetch()).toBe(0);
  });
});
