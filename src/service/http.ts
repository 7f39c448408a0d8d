import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Config } from '../config';
import type { Daemon } from '../daemon/loop';
import type { Pool } from '../db/pool';
import { errorMessage } from '../errors';
import type { Logger } from '../log';
import type { DaemonMetrics } from './metrics';

/**
 * /healthz is liveness: the claim loop keeps turning. It stays 200 while the database is down (the loop backs
 * off and carries on; a restart would not bring the database back), while starting and while draining; it is 503
 * only when the loop has not finished a pass for this long, which means it is stuck on something that never
 * settles, and restarting is the cure. Three poll intervals, and never under 90 s: a pass can legitimately take a
 * statement timeout (30 s) plus a reconnect backoff (up to 37 s).
 */
export function defaultLiveLimitMs(cfg: Config): number {
  return Math.max(90_000, 3 * cfg.daemon.pollIntervalMs);
}

/** The readiness check's own query gives up after this long: a probe must answer, even about a hung database. */
const READY_QUERY_TIMEOUT_MS = 2000;

export interface HttpServerOptions {
  cfg: Config;
  daemon: Daemon;
  /** The daemon's own pool: readiness asks it, and the queue gauges read through it. */
  pool: Pool;
  log: Logger;
  /** Overrides defaultLiveLimitMs (tests). */
  liveLimitMs?: number;
  /** Overrides the queue gauges' cache (tests). */
  queueCacheMs?: number;
}

export interface HttpServer {
  /** Where it listens, e.g. 127.0.0.1:9187 (the real port when the config asked for 0). */
  address: { host: string; port: number };
  metrics: DaemonMetrics;
  close(): Promise<void>;
}

export interface HealthBody {
  status: 'ok' | 'fail';
  check: 'live' | 'ready';
  daemon: string;
  /** Why the check fails; empty when it passes. */
  reasons: string[];
  claiming: boolean;
  listen: string;
  running: number;
  lastPollAgoMs: number | null;
}

function liveReasons(daemon: Daemon, limitMs: number, now: number): string[] {
  const h = daemon.health();
  if (!h.started || h.stopping || h.lastPollAt === 0) return [];
  const ago = now - h.lastPollAt;
  return ago > limitMs ? [`the claim loop has not finished a pass for ${Math.round(ago / 1000)} s (limit ${limitMs / 1000} s): it is stuck`] : [];
}

async function databaseReason(pool: Pool): Promise<string | null> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      pool.query('SELECT 1'),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${READY_QUERY_TIMEOUT_MS} ms`)), READY_QUERY_TIMEOUT_MS);
      }),
    ]);
    return null;
  } catch (err) {
    return `database unreachable: ${errorMessage(err)}`;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * /readyz (also /healthz?ready) is readiness: this daemon is taking work. It needs the database to answer and the
 * daemon to claim, so it fails while starting, while stopping, while EnableBatchManager is off, and once a newer
 * xtconnect migrated the schema past this one; and whenever liveness fails.
 */
async function readyReasons(daemon: Daemon, pool: Pool, limitMs: number, now: number): Promise<string[]> {
  const h = daemon.health();
  const reasons = liveReasons(daemon, limitMs, now);
  if (!h.started || h.lastPollAt === 0) reasons.push('starting: the daemon has not claimed yet');
  if (h.stopping) reasons.push('stopping: draining running jobs');
  if (h.schemaAhead !== null) {
    reasons.push(`the database schema is at version ${h.schemaAhead}, newer than this xtconnect knows (${h.knownSchemaVersion}): upgrade it`);
  }
  if (h.started && !h.stopping && !h.enabled) reasons.push('EnableBatchManager is off: claiming no jobs');
  const db = await databaseReason(pool);
  if (db) reasons.push(db);
  return reasons;
}

function send(res: http.ServerResponse, status: number, type: string, body: string, head: boolean): void {
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' });
  res.end(head ? undefined : body);
}

/**
 * Serves /metrics, /healthz and /readyz with node:http (three routes need no framework). Returns null when
 * `metrics.listen` is not configured: the listener is off by default.
 */
export async function startHttpServer(opts: HttpServerOptions): Promise<HttpServer | null> {
  const { cfg, daemon, pool, log } = opts;
  const listen = cfg.metrics;
  if (!listen) return null;
  const liveLimitMs = opts.liveLimitMs ?? defaultLiveLimitMs(cfg);
  // prom-client is loaded only here: with metrics off (the default) the daemon does not carry it.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { createDaemonMetrics } = require('./metrics') as typeof import('./metrics');
  const metrics = createDaemonMetrics({ daemon, pool, log, queueCacheMs: opts.queueCacheMs });

  const health = async (check: 'live' | 'ready', res: http.ServerResponse, head: boolean): Promise<void> => {
    const now = Date.now();
    const reasons = check === 'live' ? liveReasons(daemon, liveLimitMs, now) : await readyReasons(daemon, pool, liveLimitMs, now);
    const h = daemon.health();
    const body: HealthBody = {
      status: reasons.length ? 'fail' : 'ok',
      check,
      daemon: daemon.id,
      reasons,
      claiming: h.claiming,
      listen: h.listenMode,
      running: h.running,
      lastPollAgoMs: h.lastPollAt ? now - h.lastPollAt : null,
    };
    send(res, reasons.length ? 503 : 200, 'application/json; charset=utf-8', JSON.stringify(body) + '\n', head);
  };

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const head = req.method === 'HEAD';
    if (req.method !== 'GET' && !head) {
      res.setHeader('Allow', 'GET, HEAD');
      send(res, 405, 'text/plain; charset=utf-8', 'only GET and HEAD\n', head);
      return;
    }
    const work = (async () => {
      if (url.pathname === '/metrics') send(res, 200, metrics.contentType, await metrics.render(), head);
      else if (url.pathname === '/healthz') await health(url.searchParams.has('ready') ? 'ready' : 'live', res, head);
      else if (url.pathname === '/readyz') await health('ready', res, head);
      else send(res, 404, 'text/plain; charset=utf-8', 'not found: try /metrics, /healthz or /readyz\n', head);
    })();
    work.catch((err) => {
      log.warn(`HTTP ${url.pathname} failed: ${errorMessage(err)}`, { scope: 'http' });
      if (!res.headersSent) send(res, 500, 'text/plain; charset=utf-8', 'internal error\n', head);
      else res.destroy();
    });
  });
  // A scraper that connects and says nothing must not hold a socket forever.
  server.requestTimeout = 10_000;
  server.headersTimeout = 10_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (err) => log.warn(`HTTP server error: ${errorMessage(err)}`, { scope: 'http' }));
  const a = server.address() as AddressInfo;
  const address = { host: a.address, port: a.port };
  log.info(`metrics and health on http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port} (/metrics, /healthz, /readyz)`, { scope: 'http' });

  return {
    address,
    metrics,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
