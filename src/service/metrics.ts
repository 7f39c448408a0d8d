import { collectDefaultMetrics, Counter, Gauge, Registry, type Metric } from 'prom-client';
import type { Daemon } from '../daemon/loop';
import { DURATION_BUCKETS, OUTCOMES, type ActionStats } from '../daemon/jobStats';
import type { Pool } from '../db/pool';
import { queueDepth, type QueueDepth } from '../db/queries/inspect';
import { errorMessage } from '../errors';
import type { Logger } from '../log';
import { VERSION } from '../version';

/** Scrapes within this long of the last queue query reuse its answer: scrapes cannot load the database. */
export const QUEUE_CACHE_MS = 5000;

interface SampleValue {
  value: number;
  labels: Record<string, string | number>;
  metricName?: string;
}

/**
 * A metric whose values are read from the daemon at scrape time. prom-client registries take any object with a
 * name, help, type and get(); this lets the per-job numbers stay plain increments in the daemon (see
 * src/daemon/jobStats.ts) instead of label hashing on every job.
 */
function snapshotMetric(name: string, help: string, type: 'counter' | 'histogram', values: () => Promise<SampleValue[]>): Metric {
  return {
    name,
    help,
    type,
    aggregator: 'sum',
    get: async () => ({ name, help, type, aggregator: 'sum', values: await values() }),
    reset: () => undefined,
  } as unknown as Metric;
}

/** The `action` label of every job whose batch_action the daemon does not know: one series, however many names. */
export const OTHER_ACTION = 'other';
/** Actions mapped in xtbatch.action get a label of their own up to this many; beyond, they count as "other". */
export const MAX_MAPPED_LABELS = 100;

/** Per-action numbers summed under one label value. */
function merge(into: Omit<ActionStats, 'action'> | undefined, s: ActionStats): Omit<ActionStats, 'action'> {
  if (!into) return { done: s.done, failed: s.failed, retry: s.retry, release: s.release, lost: s.lost, buckets: [...s.buckets], sumSeconds: s.sumSeconds, count: s.count };
  for (const o of OUTCOMES) into[o] += s[o];
  s.buckets.forEach((n, i) => (into.buckets[i]! += n));
  into.sumSeconds += s.sumSeconds;
  into.count += s.count;
  return into;
}

export interface DaemonMetrics {
  registry: Registry;
  /** The text exposition format; the queue gauges come from a cached query. */
  render(): Promise<string>;
  contentType: string;
}

/**
 * A Registry of the daemon's own (never prom-client's global one: tests and embedders run several daemons in one
 * process): jobs by action and outcome, durations by action, the queue seen from the database, lease rescues,
 * database errors, the daemon's state and the process metrics.
 */
export function createDaemonMetrics(opts: { daemon: Daemon; pool: Pool; log: Logger; queueCacheMs?: number }): DaemonMetrics {
  const { daemon, pool, log } = opts;
  const cacheMs = opts.queueCacheMs ?? QUEUE_CACHE_MS;
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });

  // batch_action is whatever an ERP user typed: a label per value would let anyone grow /metrics (and every
  // Prometheus that scrapes it) without bound. Actions the daemon runs (its handlers, and those mapped in
  // xtbatch.action, read with the queue numbers) keep their name; every other name is counted as "other".
  let mapped: { at: number; names: Set<string> } | null = null;
  const mappedActions = async (): Promise<Set<string>> => {
    if (mapped && Date.now() - mapped.at < cacheMs) return mapped.names;
    try {
      const { rows } = await pool.query<{ action_name: string }>(
        `SELECT action_name FROM xtbatch.action WHERE action_enabled ORDER BY action_name LIMIT $1`, [MAX_MAPPED_LABELS]);
      mapped = { at: Date.now(), names: new Set(rows.map((r) => r.action_name)) };
    } catch (err) {
      log.debug(`metrics: could not read xtbatch.action: ${errorMessage(err)}`, { scope: 'metrics' });
      mapped = { at: Date.now(), names: mapped?.names ?? new Set() };
    }
    return mapped.names;
  };
  const byLabel = async (): Promise<Map<string, Omit<ActionStats, 'action'>>> => {
    const names = await mappedActions();
    const out = new Map<string, Omit<ActionStats, 'action'>>();
    for (const s of daemon.jobStats.actions()) {
      const known = (s.action !== '*' && daemon.handlers.has(s.action)) || names.has(s.action);
      const label = known ? s.action : OTHER_ACTION;
      out.set(label, merge(out.get(label), s));
    }
    return out;
  };

  registry.registerMetric(
    snapshotMetric('xtconnect_jobs_total', 'Jobs this daemon finished running, by action ("other" for every batch_action it does not know) and outcome (done, failed, retry, release = put back at shutdown, lost = cancelled or taken back).', 'counter', async () => {
      const out: SampleValue[] = [];
      for (const [action, s] of await byLabel()) {
        for (const outcome of OUTCOMES) out.push({ value: s[outcome], labels: { action, outcome } });
      }
      return out;
    }),
  );
  registry.registerMetric(
    snapshotMetric('xtconnect_job_duration_seconds', 'How long jobs ran, by action ("other" for every batch_action it does not know), whatever their outcome.', 'histogram', async () => {
      const out: SampleValue[] = [];
      for (const [action, s] of await byLabel()) {
        let cumulative = 0;
        DURATION_BUCKETS.forEach((le, i) => {
          cumulative += s.buckets[i]!;
          out.push({ metricName: 'xtconnect_job_duration_seconds_bucket', value: cumulative, labels: { action, le } });
        });
        out.push({ metricName: 'xtconnect_job_duration_seconds_bucket', value: s.count, labels: { action, le: '+Inf' } });
        out.push({ metricName: 'xtconnect_job_duration_seconds_sum', value: s.sumSeconds, labels: { action } });
        out.push({ metricName: 'xtconnect_job_duration_seconds_count', value: s.count, labels: { action } });
      }
      return out;
    }),
  );

  const fromDaemon = (name: string, help: string, read: () => number, kind: 'counter' | 'gauge'): void => {
    if (kind === 'counter') {
      new Counter({ name, help, registers: [registry], collect() { this.reset(); this.inc(read()); } });
    } else {
      new Gauge({ name, help, registers: [registry], collect() { this.set(read()); } });
    }
  };
  fromDaemon('xtconnect_lease_rescues_total', 'Jobs this daemon took back from daemons that stopped renewing their lease.', () => daemon.stats.rescued, 'counter');
  fromDaemon('xtconnect_database_errors_total', 'Failed statements of the daemon\'s own (claims, outcomes, leases, heartbeats, scheduling).', () => daemon.dbErrors, 'counter');
  fromDaemon('xtconnect_jobs_claimed_total', 'Jobs this daemon claimed.', () => daemon.stats.claimed, 'counter');
  fromDaemon('xtconnect_jobs_running', 'Jobs running in this daemon now.', () => daemon.runningCount, 'gauge');
  // Why running can exceed daemon.concurrency: a group of fast ERP actions counts as one job (docs/operations.md).
  fromDaemon('xtconnect_jobs_waiting_for_group', 'Running jobs that wait, without a slot, for the ERP group they run in (one transaction): counted in xtconnect_jobs_running, not against daemon.concurrency.', () => daemon.waitingForGroupCount, 'gauge');
  fromDaemon('xtconnect_jobs_claimed_ahead', 'Jobs claimed ahead and waiting for a free slot in this daemon.', () => daemon.readyCount, 'gauge');
  fromDaemon('xtconnect_outcomes_pending', 'Job outcomes waiting to be written (the database is slow or away).', () => daemon.pendingOutcomes, 'gauge');
  fromDaemon('xtconnect_daemon_claiming', '1 while this daemon claims jobs; 0 while EnableBatchManager is off, the schema is newer than it knows, or it stops.', () => (daemon.claiming ? 1 : 0), 'gauge');
  fromDaemon('xtconnect_listen_notify', '1 when jobs start on NOTIFY; 0 when they start by polling (LISTEN off, down, or receiving nothing).', () => (daemon.health().listenMode === 'notify' ? 1 : 0), 'gauge');
  fromDaemon('xtconnect_last_poll_timestamp_seconds', 'When the claim loop last finished a pass (Unix time).', () => daemon.lastPollAt / 1000, 'gauge');
  new Gauge({ name: 'xtconnect_info', help: 'Always 1; labels name this daemon and its version.', labelNames: ['daemon', 'version'], registers: [registry] })
    .set({ daemon: daemon.id, version: VERSION }, 1);

  // The queue as the database sees it (every daemon's jobs), cached so that scrapes cannot load the database.
  let cached: { at: number; depth: QueueDepth | null } | null = null;
  let inFlight: Promise<QueueDepth | null> | null = null;
  const depth = async (): Promise<QueueDepth | null> => {
    if (cached && Date.now() - cached.at < cacheMs) return cached.depth;
    inFlight ??= queueDepth(pool)
      .catch((err) => {
        log.debug(`metrics: could not read the queue: ${errorMessage(err)}`, { scope: 'metrics' });
        return null;
      })
      .then((d) => {
        cached = { at: Date.now(), depth: d };
        inFlight = null;
        return d;
      });
    return inFlight;
  };
  const queueGauge = (name: string, help: string, pick: (d: QueueDepth) => number): void => {
    new Gauge({
      name,
      help,
      registers: [registry],
      async collect() {
        const d = await depth();
        // Unknown is NaN, not 0: an empty queue and an unreachable database must not look alike.
        this.set(d ? pick(d) : NaN);
      },
    });
  };
  queueGauge('xtconnect_queue_due_jobs', 'Jobs due and not started, in the whole database (all daemons).', (d) => d.due);
  queueGauge('xtconnect_queue_running_jobs', 'Jobs started and not finished, in the whole database (all daemons).', (d) => d.running);
  queueGauge('xtconnect_queue_oldest_due_seconds', 'How long the oldest due job has waited; 0 when none is due.', (d) => d.oldest_due_seconds);
  new Gauge({
    name: 'xtconnect_queue_up',
    help: '1 when the last queue query (cached a few seconds) succeeded, 0 when the database could not be read.',
    registers: [registry],
    async collect() {
      this.set((await depth()) ? 1 : 0);
    },
  });

  return { registry, render: () => registry.metrics(), contentType: registry.contentType };
}
