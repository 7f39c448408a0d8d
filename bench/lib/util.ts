import { performance } from 'node:perf_hooks';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Nearest-rank percentile of an ascending-sorted array. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1]!;
}

export function mean(xs: number[]): number {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN;
}

export const fmt = (n: number, digits = 0) => (Number.isFinite(n) ? n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }) : 'n/a');

/** Polls `check` every `everyMs` until it is true; false when `deadline` (performance.now() ms) passes first. */
export async function until(check: () => Promise<boolean> | boolean, deadline: number, everyMs = 5): Promise<boolean> {
  for (;;) {
    if (await check()) return true;
    if (performance.now() > deadline) return false;
    await sleep(everyMs);
  }
}

/** A promise with its resolver, resolved at most once. */
export function signal<T = void>(): { promise: Promise<T>; resolve: (v: T) => void; done: () => boolean } {
  let resolve!: (v: T) => void;
  let settled = false;
  const promise = new Promise<T>((r) => { resolve = r; });
  return { promise, resolve: (v) => { if (!settled) { settled = true; resolve(v); } }, done: () => settled };
}

/** Resolves to 'timeout' after `ms` unless `p` settles first; clears its timer either way. */
export async function within<T>(p: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let t: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<'timeout'>((r) => { t = setTimeout(() => r('timeout'), ms); })]);
  } finally {
    clearTimeout(t);
  }
}

/** A plain text table. */
export function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

export function heading(s: string): void {
  console.log(`\n${'='.repeat(100)}\n${s}\n${'='.repeat(100)}`);
}
