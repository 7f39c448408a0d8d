import { isOutage } from '../errors';

export interface GroupedWriterOptions<I> {
  /** Items per write at most. */
  maxBatch?: number;
  /** With `maxWeight`: a batch stops before the item that would take it over (a heavy item goes alone). */
  weigh?: (item: I) => number;
  maxWeight?: number;
}

/**
 * Writes items many per statement: the first item goes at once, and items that arrive while a write is in flight
 * go together in the next one. An idle caller waits for one round trip, as it would alone; under load each round
 * trip carries a batch (the same rule as the Completer's, src/daemon/completer.ts).
 *
 * Each item settles on its own: when a batch of several is refused, its items are written one at a time, so one
 * item the database refuses does not fail the others with it. When the database is away, the batch fails at once.
 */
export class GroupedWriter<I, O> {
  private queue: Array<{ item: I; resolve: (o: O) => void; reject: (err: unknown) => void }> = [];
  private flushing = false;
  private readonly maxBatch: number;

  /** `write` returns one result per item, in the items' order. */
  constructor(
    private readonly write: (items: I[]) => Promise<O[]>,
    private readonly opts: GroupedWriterOptions<I> = {},
  ) {
    this.maxBatch = opts.maxBatch ?? 100;
  }

  submit(item: I): Promise<O> {
    return this.submitMany([item])[0]!;
  }

  /** Several items at once: they go in the same write (within maxBatch and maxWeight), not the first alone. */
  submitMany(items: readonly I[]): Array<Promise<O>> {
    const out = items.map((item) => new Promise<O>((resolve, reject) => this.queue.push({ item, resolve, reject })));
    if (!this.flushing && items.length > 0) void this.flush();
    return out;
  }

  /** How many queued items the next write takes: at least one, within maxBatch and maxWeight. */
  private nextCount(): number {
    const { weigh, maxWeight } = this.opts;
    const limit = Math.min(this.queue.length, this.maxBatch);
    if (!weigh || maxWeight === undefined) return limit;
    let n = 1;
    let total = weigh(this.queue[0]!.item);
    while (n < limit && total + weigh(this.queue[n]!.item) <= maxWeight) total += weigh(this.queue[n++]!.item);
    return n;
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, this.nextCount());
        try {
          const out = await this.write(batch.map((b) => b.item));
          batch.forEach((b, i) => b.resolve(out[i]!));
        } catch (err) {
          if (batch.length === 1 || isOutage(err)) {
            for (const b of batch) b.reject(err);
            continue;
          }
          for (const b of batch) {
            try {
              b.resolve((await this.write([b.item]))[0]!);
            } catch (one) {
              b.reject(one);
            }
          }
        }
      }
    } finally {
      this.flushing = false;
    }
  }
}
