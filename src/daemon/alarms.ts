/**
 * Wake-ups at known instants (a settling job's end, a retry this daemon wrote), so a job starts on time without polling
 * faster. A small sorted list with one timer for the earliest; the owner calls stop(), and no timer outlives it.
 */
export class Alarms {
  private readonly times: number[] = [];
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;

  /** At most this many pending, the earliest; past that, polling covers the rest. */
  static readonly MAX = 1000;

  /**
   * `grainMs`: times are rounded up to a multiple of it, so that many close instants (jobs that failed together,
   * their retries jittered) share one wake-up.
   */
  constructor(private readonly ring: () => void, private readonly grainMs = 1) {}

  at(when: Date): void {
    if (this.stopped) return;
    const t = Math.ceil(when.getTime() / this.grainMs) * this.grainMs;
    if (this.times.length >= Alarms.MAX) {
      // Full: keep the earliest, so that retries hours away (a mail server down) do not crowd out one due soon.
      if (t >= this.times[this.times.length - 1]!) return;
      this.times.pop();
    }
    const i = this.times.findIndex((x) => x >= t);
    if (i === -1) this.times.push(t);
    else if (this.times[i] !== t) this.times.splice(i, 0, t);
    this.arm();
  }

  get pending(): number {
    return this.times.length;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.times.length = 0;
  }

  private arm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const first = this.times[0];
    if (first === undefined || this.stopped) return;
    // A few ms late on purpose: the database's clock decides when a job is due.
    this.timer = setTimeout(() => {
      this.timer = null;
      const now = Date.now();
      while (this.times.length && this.times[0]! <= now) this.times.shift();
      this.ring();
      this.arm();
    }, Math.max(0, first - Date.now() + 20));
  }
}
