/**
 * Client-side statement counters.
 *
 * - countClientQueries(): patches pg.Client.prototype.query once for the whole process and counts every statement
 *   sent, keyed by the connection's application_name. It sees everything: pooled clients (pool.query goes through
 *   client.query), xtconnect's LISTEN client, graphile-worker's clients.
 * - instrumentPool(): wraps one pg.Pool's query() (the object the Daemon is given) and keeps, per kind of query,
 *   the count, the time and the rows, so a run can say how many claims it took and how big the completer's batches
 *   were.
 */
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import type { Pool } from '../../src/db/pool';

const clientCounts = new Map<string, number>();
let patched = false;

export function countClientQueries(): void {
  if (patched) return;
  patched = true;
  const proto = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
  const original = proto.query;
  proto.query = function countingQuery(this: { connectionParameters?: { application_name?: string } }, ...args: unknown[]) {
    const app = this.connectionParameters?.application_name ?? '(none)';
    clientCounts.set(app, (clientCounts.get(app) ?? 0) + 1);
    return original.apply(this, args);
  };
}

/** A copy of the per-application_name statement counts so far. */
export function clientQueryCounts(): Map<string, number> {
  return new Map(clientCounts);
}

export function countsDelta(before: Map<string, number>, after: Map<string, number>, match: (app: string) => boolean): { total: number; byApp: Record<string, number> } {
  const byApp: Record<string, number> = {};
  let total = 0;
  for (const [app, n] of after) {
    if (!match(app)) continue;
    const d = n - (before.get(app) ?? 0);
    if (d === 0) continue;
    byApp[app] = d;
    total += d;
  }
  return { total, byApp };
}

export interface KindStats {
  count: number;
  ms: number;
  rows: number;
  /** For batched writes: the number of items sent (the length of the first array parameter). */
  items: number;
  maxItems: number;
}

export interface PoolInstrument {
  stats: Map<string, KindStats>;
  reset(): void;
  total(): number;
  snapshot(): Record<string, KindStats>;
  /** The text and values of the last claim seen (for EXPLAIN). */
  lastClaim: { text: string; values: unknown[] } | null;
}

/** Names the statements xtconnect's daemon sends (named ones by name, the others by a recognisable fragment). */
export function queryKind(q: unknown): string {
  const cfg = typeof q === 'string' ? { text: q } : (q as { name?: string; text?: string });
  if (cfg.name) return cfg.name.replace(/^xtconnect_/, '');
  const t = (cfg.text ?? '').replace(/\s+/g, ' ');
  if (/UPDATE xtbatch\.batch SET batch_lease_expires/.test(t)) return 'lease';
  if (/INSERT INTO xtbatch\.daemon/.test(t)) return 'heartbeat';
  if (/DELETE FROM xtbatch\.daemon/.test(t)) return 'deregister';
  if (/xtbatch\.getsetting/.test(t)) return 'settings';
  if (/WITH expired AS/.test(t)) return 'rescue';
  if (/purge|DELETE FROM xtbatch\.batch/.test(t)) return 'purge';
  return 'other: ' + t.slice(0, 40);
}

export function instrumentPool(pool: Pool): PoolInstrument {
  const stats = new Map<string, KindStats>();
  const inst: PoolInstrument = {
    stats,
    lastClaim: null,
    reset: () => stats.clear(),
    total: () => [...stats.values()].reduce((s, k) => s + k.count, 0),
    snapshot: () => Object.fromEntries([...stats.entries()].map(([k, v]) => [k, { ...v }])),
  };
  const original = pool.query.bind(pool) as (...args: unknown[]) => unknown;
  (pool as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
    const kind = queryKind(args[0]);
    const cfg = args[0] as { text?: string; values?: unknown[] };
    const values = (Array.isArray(args[1]) ? args[1] : cfg?.values) ?? [];
    if (kind === 'claim' && cfg.text) inst.lastClaim = { text: cfg.text, values };
    const firstArray = values.find((v) => Array.isArray(v)) as unknown[] | undefined;
    const items = kind === 'finish' ? (firstArray?.length ?? 0) : 0;
    const s = stats.get(kind) ?? { count: 0, ms: 0, rows: 0, items: 0, maxItems: 0 };
    stats.set(kind, s);
    s.count++;
    s.items += items;
    s.maxItems = Math.max(s.maxItems, items);
    const t0 = performance.now();
    const result = original(...args);
    if (result && typeof (result as Promise<unknown>).then === 'function') {
      (result as Promise<{ rowCount?: number | null }>).then(
        (r) => {
          s.ms += performance.now() - t0;
          s.rows += r?.rowCount ?? 0;
        },
        () => {
          s.ms += performance.now() - t0;
        },
      );
    }
    return result;
  };
  return inst;
}
