import { queueHealth, type QueueHealth } from '../../db/queries/inspect';
import { ConfigError, errorMessage } from '../../errors';
import { isConnectionError } from '../../db/pool';
import type { CommandContext } from '../context';
import { withPool } from '../context';

/** Monitoring-plugin exit codes (Nagios, Icinga, Sensu, ...). */
export const STATUS = { OK: 0, WARNING: 1, CRITICAL: 2, UNKNOWN: 3 } as const;
const NAMES = ['OK', 'WARNING', 'CRITICAL', 'UNKNOWN'] as const;

export interface StatusThresholds {
  minDaemons: number;
  maxFailures24h: number;
  maxQueueAgeSeconds: number;
}

export interface StatusReport {
  code: number;
  state: (typeof NAMES)[number];
  problems: string[];
  health: QueueHealth | null;
}

/** Decides health from the numbers; pure, so each rule is tested on its own. */
export function judge(h: QueueHealth, t: StatusThresholds): StatusReport {
  const critical: string[] = [];
  const warning: string[] = [];
  if (h.daemons_alive < t.minDaemons) critical.push(`${h.daemons_alive} daemon(s) alive, need ${t.minDaemons}`);
  if (!h.enabled) warning.push('EnableBatchManager is off: no job is submitted or run');
  if (h.failed_24h >= t.maxFailures24h) warning.push(`${h.failed_24h} job(s) failed in 24 h (limit ${t.maxFailures24h})`);
  if (h.due > 0 && h.oldest_due_seconds > t.maxQueueAgeSeconds) {
    warning.push(`oldest due job has waited ${h.oldest_due_seconds} s (limit ${t.maxQueueAgeSeconds} s)`);
  }
  const code = critical.length ? STATUS.CRITICAL : warning.length ? STATUS.WARNING : STATUS.OK;
  return { code, state: NAMES[code]!, problems: [...critical, ...warning], health: h };
}

export function formatLine(r: StatusReport): string {
  if (!r.health) return `XTCONNECT ${r.state} - ${r.problems.join('; ')}`;
  const h = r.health;
  const summary = `${h.daemons_alive} daemon(s) alive, ${h.due} due, ${h.running} running, ${h.failed_24h} failed in 24 h, ` +
    `oldest waiting ${h.oldest_due_seconds} s`;
  const perf = `daemons=${h.daemons_alive} due=${h.due} running=${h.running} failed_24h=${h.failed_24h} oldest_due=${h.oldest_due_seconds}s`;
  return `XTCONNECT ${r.state} - ${r.problems.length ? r.problems.join('; ') + '; ' : ''}${summary} | ${perf}`;
}

export async function statusCommand(
  ctx: CommandContext,
  opts: { json: boolean; minDaemons?: number; maxFailures?: number; maxQueueAge?: number },
  out: NodeJS.WritableStream,
): Promise<number> {
  const t: StatusThresholds = {
    minDaemons: opts.minDaemons ?? 1,
    maxFailures24h: opts.maxFailures ?? ctx.cfg.status.maxFailures24h,
    maxQueueAgeSeconds: opts.maxQueueAge ?? ctx.cfg.status.maxQueueAgeSeconds,
  };
  let report: StatusReport;
  try {
    const health = await withPool(ctx, (pool) => queueHealth(pool, ctx.cfg.status.daemonStaleSeconds));
    report = judge(health, t);
  } catch (err) {
    // Down is CRITICAL; reachable but not answering the question (no xtbatch schema, no rights) is UNKNOWN.
    report = isConnectionError(err) || err instanceof ConfigError
      ? { code: STATUS.CRITICAL, state: 'CRITICAL', problems: [`database unreachable: ${errorMessage(err)}`], health: null }
      : { code: STATUS.UNKNOWN, state: 'UNKNOWN', problems: [`cannot read the queue: ${errorMessage(err)}`], health: null };
  }
  out.write(opts.json ? JSON.stringify({ status: report.state, code: report.code, problems: report.problems, ...report.health }) + '\n' : formatLine(report) + '\n');
  return report.code;
}
