/**
 * When the claim loop makes a pass: at once on a wake-up (NOTIFY, a job finished, an alarm), else after the
 * delay the last pass asked for. Never two passes at once: a wake-up during a pass makes one more pass right
 * after it; every wake-up of one event-loop turn (ten jobs finishing together) is one pass.
 */
export class Waker {
  private timer: NodeJS.Timeout | null = null;
  private passing = false;
  private again = false;
  private queued = false;
  private stopped = true;

  /** `pass` returns the wait before the next pass when nothing wakes the loop. */
  constructor(private readonly pass: () => Promise<number>) {}

  start(): void {
    this.stopped = false;
    this.wake();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** A pass now, or right after the one in progress. */
  wake(): void {
    if (this.stopped) return;
    if (this.passing) {
      this.again = true;
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    void this.run();
  }

  /** A pass at the end of this event-loop turn: wake-ups that come together make one. */
  wakeSoon(): void {
    if (this.queued) return;
    this.queued = true;
    setImmediate(() => {
      this.queued = false;
      this.wake();
    });
  }

  private async run(): Promise<void> {
    this.passing = true;
    let next: number;
    try {
      next = await this.pass();
    } finally {
      this.passing = false;
    }
    if (this.again) {
      this.again = false;
      this.wakeSoon();
    } else if (!this.stopped) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = setTimeout(() => {
        this.timer = null;
        this.wake();
      }, next);
    }
  }
}
