import { collectDefaultMetrics, Counter, Gauge, Registry, type Metric } from 'prom-client';
import type { Daemon } from '../daemon/loop';
import { DURATION_BUCKETS, OUTCOMES } from '../daemon/jobStats';
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
function snapshotMetric(name: string, help: string, type: 'counter' | 'histogram', values: () => SampleValue[]): Metric {
  return {
    name,
    help,
    type,
    aggregator: 'sum',
    get: async () => ({ name, help, type, aggregator: 'sum', values: values() }),
    reset: () => undefined,
  } as unknown as Metric;
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

  registry.registerMetric(
    snapshotMetric('xtconnect_jobs_total', 'Jobs this daemon finished running, by action and outcome (done, failed, retry, release = put back at shutdown, lost = cancelled or taken back).', 'counter', () => {
      const out: SampleValue[] = [];
      for (const s of daemon.jobStats.actions()) {
        for (const outcome of OUTCOMES) out.push({ value: s[outcome], labels: { action: s.action, outcome } });
      }
      return out;
    }),
  );
  registry.registerMetric(
    snapshotMetric('xtconnect_job_duration_seconds', 'How long jobs ran, by action, whatever their outcome.', 'histogram', () => {
      const out: SampleValue[] = [];
      for (const s of daemon.jobStats.actions()) {
        let cumulative = 0;
        DURATION_BUCKETS.forEach((le, i) => {
          cumulative += s.buckets[i]!;
          out.push({ metricName: 'xtconnect_job_duration_seconds_bucket', value: cumulative, labels: { action: s.action, le } });
        });
        out.push({ metricName: 'xtconnect_job_duration_seconds_bucket', value: s.count, labels: { action: s.action, le: '+Inf' } });
        out.push({ metricName: 'xtconnect_job_duration_seconds_sum', value: s.sumSeconds, labels: { action: s.action } });
        out.push({ metricName: 'xtconnect_job_duration_seconds_count', value: s.count, labels: { action: s.action } });
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
