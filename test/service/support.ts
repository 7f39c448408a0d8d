import http from 'node:http';
import type { Config } from '../../src/config';
import { Daemon, type DaemonOptions } from '../../src/daemon/loop';
import { createPool, type Pool } from '../../src/db/pool';
import { defaultHandlers, type Handler } from '../../src/handlers';
import { silentLogger, type Logger } from '../../src/log';
import { createMailer } from '../../src/mail/transport';
import { startHttpServer, type HttpServer } from '../../src/service/http';

// parse-prometheus-text-format ships no types; this is the shape it returns.
export interface PromSample {
  value?: string;
  labels?: Record<string, string>;
  buckets?: Record<string, string>;
  count?: string;
  sum?: string;
}
export interface PromFamily {
  name: string;
  help: string;
  type: 'COUNTER' | 'GAUGE' | 'HISTOGRAM' | 'SUMMARY' | 'UNTYPED';
  metrics: PromSample[];
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const parsePrometheus = require('parse-prometheus-text-format') as (text: string) => PromFamily[];

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A plain GET over loopback, as Prometheus or a probe would send it. */
export function get(server: HttpServer, path: string, method = 'GET'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: server.address.host, port: server.address.port, path, method }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** /metrics, parsed by a Prometheus text-format parser, by family name. */
export async function scrape(server: HttpServer): Promise<Map<string, PromFamily>> {
  const r = await get(server, '/metrics');
  if (r.status !== 200) throw new Error(`/metrics answered ${r.status}: ${r.body}`);
  return new Map(parsePrometheus(r.body).map((f) => [f.name, f]));
}

/**
 * One labelled series of a histogram family, as the parser reads it. parse-prometheus-text-format 1.1 reads only
 * histograms without labels of their own (it merges every series into one), so it is given the family's HELP,
 * TYPE and the lines of one series with that label taken out.
 */
export async function histogramSeries(server: HttpServer, family: string, label: string, value: string): Promise<PromSample | undefined> {
  const r = await get(server, '/metrics');
  const own = `${label}="${value}"`;
  const lines = r.body.split('\n').filter((l) => l.startsWith(`# HELP ${family} `) || l.startsWith(`# TYPE ${family} `) ||
    (l.startsWith(`${family}_`) && l.includes(own)));
  const text = lines.map((l) => l.replace(new RegExp(`${own},?`), '').replace('{}', '')).join('\n') + '\n';
  const [f] = parsePrometheus(text);
  if (f?.type !== 'HISTOGRAM') throw new Error(`${family} is not a histogram in:\n${text}`);
  return f.metrics[0];
}

/** The value of the sample of `family` whose labels include `labels`; undefined when there is none. */
export function sample(families: Map<string, PromFamily>, family: string, labels: Record<string, string> = {}): number | undefined {
  const f = families.get(family);
  const m = f?.metrics.find((s) => Object.entries(labels).every(([k, v]) => s.labels?.[k] === v));
  return m?.value === undefined ? undefined : Number(m.value);
}

export { captureLogger } from '../handlers/helpers';

/** The messages of captured lines. */
export function messages(lines: string[]): string[] {
  return lines.map((l) => (JSON.parse(l) as { message: string }).message);
}

export interface ServedDaemon {
  daemon: Daemon;
  server: HttpServer;
  /** The daemon's own pool (what `xtconnect start` hands to startHttpServer). */
  pool: Pool;
  stop(): Promise<void>;
}

/**
 * A daemon as `xtconnect start` runs it (its own pool apart from the jobs' pool) with the HTTP listener on a free
 * loopback port. stop() closes the listener, then stops the daemon.
 */
export async function startServedDaemon(
  cfg: Config,
  extra: Record<string, Handler> = {},
  opts: { log?: Logger; liveLimitMs?: number; queueCacheMs?: number; daemon?: Partial<DaemonOptions> } = {},
): Promise<ServedDaemon> {
  const log = opts.log ?? silentLogger();
  const served: Config = { ...cfg, metrics: { host: '127.0.0.1', port: 0 } };
  const pool = createPool({ url: cfg.database.url, max: 4, statementTimeoutMs: 0, applicationName: 'xtconnect test daemon' }, log);
  const jobPool = createPool({ url: cfg.database.url, max: cfg.database.poolSize, statementTimeoutMs: 0, applicationName: 'xtconnect test jobs' }, log);
  const daemon = new Daemon({ cfg: served, pool, jobPool, log, handlers: defaultHandlers(extra), services: { mailer: createMailer(served) }, ownsPool: true, ...opts.daemon });
  await daemon.start();
  const server = await startHttpServer({ cfg: served, daemon, pool, log, liveLimitMs: opts.liveLimitMs, queueCacheMs: opts.queueCacheMs });
  if (!server) throw new Error('startHttpServer returned null with metrics configured');
  return {
    daemon,
    server,
    pool,
    stop: async () => {
      await server.close();
      await daemon.stop(0);
    },
  };
}
