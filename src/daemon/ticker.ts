import { errorMessage } from '../errors';
import type { Logger } from '../log';

/**
 * Runs `fn` every `intervalMs`, never overlapping itself, first after a random part of one interval so that
 * daemons started together do not tick together. When `fn` returns a number, that is the wait before the next
 * run instead (a service that knows when it will next have work). The owner calls stop(); no timer outlives it.
 */
export class Ticker {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = true;

  constructor(
    private readonly name: string,
    private readonly intervalMs: number,
    private readonly fn: () => Promise<number | void>,
    private readonly log: Logger,
  ) {}

  start(firstDelayMs = Math.random() * this.intervalMs): void {
    this.stopped = false;
    this.schedule(firstDelayMs);
  }

  /** Runs now (or waits for the run in progress), then carries on at the interval. */
  async runNow(): Promise<void> {
    if (this.running) return this.running;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    // start() during a runNow() pass, then that pass ending, both schedule: keep one timer, or stop() would miss one.
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.tick();
    }, ms);
  }

  private async tick(): Promise<void> {
    let next = this.intervalMs;
    this.running = this.fn().then(
      (wait) => {
        if (typeof wait === 'number' && Number.isFinite(wait)) next = Math.max(0, wait);
      },
      (err) => {
        this.log.warn(`${this.name} failed: ${errorMessage(err)}`, { scope: this.name });
      },
    );
    await this.running;
    this.running = null;
    this.schedule(next);
  }
}
