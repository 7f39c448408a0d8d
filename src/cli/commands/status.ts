import { queueHealth, type QueueHealth } from '../../db/queries/inspect';
import { ConfigError, errorMessage, isOutage } from '../../errors';
import type { CommandContext } from '../context';
import { withPool } from '../context';

/** Monitoring-plugin exit codes (Nagios, Icinga, Sensu, ...). */
export const STATUS = { OK: 0, WARNING: 1, CRITICAL: 2, UNKNOWN: 3 } as const;
const NAMES = ['OK', 'WARNING', 'CRITICAL', 'UNKNOWN'] as const;

/**
 * Each check has a WARNING and an optional CRITICAL level. Daemons are counted among those that claim (alive and
 * not held back by EnableBatchManager or by a schema newer than they know), since only those run jobs.
 */
export interface StatusThresholds {
  /** WARNING below this many claiming daemons. */
  warnDaemons: number;
  /** CRITICAL below this many. */
  critDaemons: number;
  /** WARNING at this many failures in the window. */
  warnFailures: number;
  critFailures: number | null;
  /** WARNING when the oldest due job has waited longer than this. */
  warnQueueAgeSeconds: number;
  critQueueAgeSeconds: number | null;
  failureWindowSeconds: number;
}

export interface StatusReport {
  code: number;
  state: (typeof NAMES)[number];
  problems: string[];
  health: QueueHealth | null;
  thresholds: StatusThresholds | null;
}

/** "24 h", "30 min", "90 s": the failure window as people say it. */
export function windowText(seconds: number): string {
  if (seconds % 3600 === 0) return `${seconds / 3600} h`;
  if (seconds % 60 === 0) return `${seconds / 60} min`;
  return `${seconds} s`;
}

/** `--failure-window`: seconds, or a number with s, m, h or d (30m, 24h, 7d). */
export function parseWindow(v: string): number {
  const m = /^(\d+)\s*([smhd]?)$/.exec(v.trim());
  const n = m ? Number(m[1]) * { '': 1, s: 1, m: 60, h: 3600, d: 86_400 }[m[2] as '' | 's' | 'm' | 'h' | 'd'] : NaN;
  if (!Number.isInteger(n) || n < 1 || n > 365 * 86_400) {
    throw new ConfigError(`--failure-window must be a duration such as 3600, 30m, 24h or 7d (got ${JSON.stringify(v)})`);
  }
  return n;
}

function checkThresholds(t: StatusThresholds): void {
  if (t.critDaemons > t.warnDaemons) throw new ConfigError(`--min-daemons (${t.critDaemons}, CRITICAL) cannot exceed --warn-daemons (${t.warnDaemons})`);
  if (t.critFailures !== null && t.critFailures < t.warnFailures) {
    throw new ConfigError(`--crit-failures (${t.critFailures}) cannot be below --max-failures (${t.warnFailures}, WARNING)`);
  }
  if (t.critQueueAgeSeconds !== null && t.critQueueAgeSeconds < t.warnQueueAgeSeconds) {
    throw new ConfigError(`--crit-queue-age (${t.critQueueAgeSeconds}) cannot be below --max-queue-age (${t.warnQueueAgeSeconds}, WARNING)`);
  }
}

/** Decides health from the numbers; pure, so each rule is tested on its own. */
export function judge(h: QueueHealth, t: StatusThresholds): StatusReport {
  const critical: string[] = [];
  const warning: string[] = [];
  // While EnableBatchManager is off no daemon claims; then being alive is what can be checked.
  const counted = h.enabled ? h.daemons_claiming : h.daemons_alive;
  const who = h.enabled && h.daemons_claiming !== h.daemons_alive
    ? `${h.daemons_claiming} of ${h.daemons_alive} live daemon(s) claiming`
    : `${counted} daemon(s) alive`;
  if (counted < t.critDaemons) critical.push(`${who}, need ${t.critDaemons}`);
  else if (counted < t.warnDaemons) warning.push(`${who}, want ${t.warnDaemons}`);
  if (!h.enabled) warning.push('EnableBatchManager is off: no job is submitted or run');
  else if (h.daemons_idle.length > 0) {
    warning.push(`not claiming (older than the database schema? see its log): ${h.daemons_idle.join(', ')}`);
  }
  const failed = `${h.failed} job(s) failed in ${windowText(h.failure_window_seconds)}`;
  if (t.critFailures !== null && h.failed >= t.critFailures) critical.push(`${failed} (critical ${t.critFailures})`);
  else if (h.failed >= t.warnFailures) warning.push(`${failed} (limit ${t.warnFailures})`);
  if (h.due > 0) {
    const waited = `oldest due job has waited ${h.oldest_due_seconds} s`;
    if (t.critQueueAgeSeconds !== null && h.oldest_due_seconds > t.critQueueAgeSeconds) critical.push(`${waited} (critical ${t.critQueueAgeSeconds} s)`);
    else if (h.oldest_due_seconds > t.warnQueueAgeSeconds) warning.push(`${waited} (limit ${t.warnQueueAgeSeconds} s)`);
  }
  const code = critical.length ? STATUS.CRITICAL : warning.length ? STATUS.WARNING : STATUS.OK;
  return { code, state: NAMES[code]!, problems: [...critical, ...warning], health: h, thresholds: t };
}

/**
 * Performance data as the plugin guidelines write it: label=value[unit];warn;crit;min. Ranges: "2:" alerts below
 * 2; "9" alerts above 9 (so a limit of "10 or more failures" is written 9).
 */
function perfData(h: QueueHealth, t: StatusThresholds): string {
  const above = (limit: number | null, orEqual: boolean): string => (limit === null ? '' : String(orEqual ? limit - 1 : limit));
  return [
    `daemons=${h.enabled ? h.daemons_claiming : h.daemons_alive};${t.warnDaemons}:;${t.critDaemons}:;0`,
    `alive=${h.daemons_alive};;;0`,
    `due=${h.due};;;0`,
    `running=${h.running};;;0`,
    `failed=${h.failed};${above(t.warnFailures, true)};${above(t.critFailures, true)};0`,
    `oldest_due=${h.oldest_due_seconds}s;${t.warnQueueAgeSeconds};${above(t.critQueueAgeSeconds, false)};0`,
  ].join(' ');
}

/**
 * A monitoring plugin prints one line: a multi-line reason (a YAML error with its excerpt, a server message
 * with a DETAIL) is folded onto it.
 */
export function oneLine(text: string): string {
  return text.replace(/\s*[\r\n]+\s*/g, ' ').replace(/\^\s*$/, '').trim();
}

/** SQLSTATEs of a database without the xtbatch schema, or with only part of it: no table, schema or function. */
const SCHEMA_MISSING = new Set(['42P01', '3F000', '42883']);

function schemaMissing(err: unknown): boolean {
  return SCHEMA_MISSING.has(String((err as { code?: unknown } | null)?.code ?? ''));
}

/** The line for a problem of the check itself (a config file it cannot use): UNKNOWN. */
export function unknownLine(reason: string): string {
  return `XTCONNECT UNKNOWN - ${oneLine(reason)}`;
}

export function formatLine(r: StatusReport): string {
  if (!r.health || !r.thresholds) return `XTCONNECT ${r.state} - ${oneLine(r.problems.join('; '))}`;
  const h = r.health;
  const summary = `${h.daemons_alive} daemon(s) alive, ${h.due} due, ${h.running} running, ` +
    `${h.failed} failed in ${windowText(h.failure_window_seconds)}, oldest waiting ${h.oldest_due_seconds} s`;
  return `XTCONNECT ${r.state} - ${r.problems.length ? r.problems.join('; ') + '; ' : ''}${summary} | ${perfData(h, r.thresholds)}`;
}

export interface StatusOptions {
  json: boolean;
  /** CRITICAL below this many claiming daemons (default 1). */
  minDaemons?: number;
  /** WARNING below this many (default: --min-daemons). */
  warnDaemons?: number;
  maxFailures?: number;
  critFailures?: number;
  maxQueueAge?: number;
  critQueueAge?: number;
  /** Seconds, or 30m, 24h, 7d (default 24h). */
  failureWindow?: string | number;
}

/** Builds the thresholds from flags and the config's status: section; throws ConfigError when they contradict. */
export function thresholdsFrom(ctx: CommandContext, opts: StatusOptions): StatusThresholds {
  const critDaemons = opts.minDaemons ?? 1;
  const t: StatusThresholds = {
    critDaemons,
    warnDaemons: opts.warnDaemons ?? critDaemons,
    warnFailures: opts.maxFailures ?? ctx.cfg.status.maxFailures24h,
    critFailures: opts.critFailures ?? null,
    warnQueueAgeSeconds: opts.maxQueueAge ?? ctx.cfg.status.maxQueueAgeSeconds,
    critQueueAgeSeconds: opts.critQueueAge ?? null,
    failureWindowSeconds: opts.failureWindow === undefined ? 86_400 : parseWindow(String(opts.failureWindow)),
  };
  checkThresholds(t);
  return t;
}

/**
 * The verdict of the plugin guidelines for the database: a server that cannot be reached is the monitored
 * service being down, so CRITICAL (the guidelines keep UNKNOWN for the plugin's own failures, and socket errors
 * and timeouts are not that). A server that answers but cannot answer the question (no xtbatch schema, no
 * rights, contradictory thresholds) is UNKNOWN: the check itself could not be made.
 */
export async function statusCommand(ctx: CommandContext, opts: StatusOptions, out: NodeJS.WritableStream): Promise<number> {
  let report: StatusReport;
  let t: StatusThresholds | null = null;
  try {
    t = thresholdsFrom(ctx, opts);
    const window = t.failureWindowSeconds;
    const health = await withPool(ctx, (pool) => queueHealth(pool, ctx.cfg.status.daemonStaleSeconds, window));
    report = judge(health, t);
  } catch (err) {
    if (t === null) {
      report = { code: STATUS.UNKNOWN, state: 'UNKNOWN', problems: [errorMessage(err)], health: null, thresholds: null };
    } else if (isOutage(err) || err instanceof ConfigError) {
      report = { code: STATUS.CRITICAL, state: 'CRITICAL', problems: [`database unreachable: ${errorMessage(err)}`], health: null, thresholds: t };
    } else if (schemaMissing(err)) {
      // Before the first `migrate` (or `start`, which migrates): say what to do, not which relation is missing.
      report = { code: STATUS.UNKNOWN, state: 'UNKNOWN', health: null, thresholds: t,
        problems: [`the xtbatch schema is not installed in this database (${errorMessage(err)}): "xtconnect migrate" installs it`] };
    } else {
      report = { code: STATUS.UNKNOWN, state: 'UNKNOWN', problems: [`cannot read the queue: ${errorMessage(err)}`], health: null, thresholds: t };
    }
  }
  out.write(
    opts.json
      ? JSON.stringify({ status: report.state, code: report.code, problems: report.problems, ...report.health, thresholds: report.thresholds }) + '\n'
      : formatLine(report) + '\n',
  );
  return report.code;
}
