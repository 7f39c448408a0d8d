import { createSchedule, getScheduleOverview, listSchedules, pauseSchedule, removeSchedule, resumeSchedule, ruleOf, waitingRuns, type JobTemplate, type ScheduleOverview } from '../../db/queries/schedules';
import type { ParamInput } from '../../db/queries/submit';
import { ConfigError } from '../../errors';
import type { MissedPolicy } from '../../schedule/plan';
import { localTimezone } from '../../schedule/localZone';
import { formatInZone, parseEvery, ScheduleError, upcoming, type Rule } from '../../schedule/rule';
import type { CommandContext } from '../context';
import { withPool } from '../context';

export interface ScheduleAddFlags {
  action: string; name?: string; cron?: string; every?: string; tz?: string; start?: string; end?: string; count?: number;
  missed: MissedPolicy; missedMax: number; param: ParamInput[];
  to?: string; from?: string; cc?: string; bcc?: string; replyTo?: string; subject?: string; body?: string; html?: boolean;
  parameter?: string; filename?: string;
}

function when(flag: string, v: string | undefined): Date | null {
  if (!v) return null;
  const d = new Date(v);
  if (Number.isNaN(d.getTime())) throw new ConfigError(`${flag} "${v}" must be a date and time such as 2026-12-01T08:00:00Z or "2026-12-01 08:00"`);
  return d;
}

/** One line of `schedule list`: RUNS counts occurrences that ran; NEXT is the true next run, to the second. */
function describe(r: ScheduleOverview): string {
  const unit = r.schedule_every_n === 1 ? r.schedule_every_unit?.replace(/s$/, '') : r.schedule_every_unit;
  const rule = r.schedule_cron ? `cron "${r.schedule_cron}"` : `every ${r.schedule_every_n} ${unit}`;
  const state = r.schedule_removed ? 'removed' : r.schedule_paused ? 'paused' : r.next_run ? 'active' : 'ended';
  const next = r.next_run ? formatInZone(r.next_run, r.schedule_timezone) : '-';
  const runs = r.schedule_max_count ? `${r.runs}/${r.schedule_max_count}` : String(r.runs);
  return `${String(r.schedule_id).padEnd(6)} ${(r.schedule_name ?? '').padEnd(20)} ${r.schedule_action.padEnd(18)} ${state.padEnd(8)} ` +
    `${runs.padEnd(8)} ${next.padEnd(26)} ${rule} ${r.schedule_timezone}${r.schedule_source === 'config' ? ' (config)' : ''}`;
}

/** `schedule add`: bad rules (invalid cron, unknown zone, interval 0) are refused here, before anything is stored. */
export async function scheduleAddCommand(ctx: CommandContext, f: ScheduleAddFlags, out: NodeJS.WritableStream): Promise<number> {
  if (Boolean(f.cron) === Boolean(f.every)) throw new ConfigError('schedule add needs exactly one of --cron "EXPR" or --every 15m|2h|1d');
  let rule: Rule;
  try {
    rule = { cron: f.cron ?? null, every: f.every ? parseEvery(f.every) : null, timezone: f.tz ?? localTimezone(), start: when('--start', f.start) ?? new Date(), end: when('--end', f.end) };
  } catch (err) {
    if (err instanceof ScheduleError) throw new ConfigError(err.message);
    throw err;
  }
  const job: JobTemplate = {
    parameter: f.parameter ?? null, email: f.to ?? null, fromemail: f.from ?? null, cc: f.cc ?? null, bcc: f.bcc ?? null,
    replyto: f.replyTo ?? null, subject: f.subject ?? null, body: f.body ?? null, filename: f.filename ?? null,
    emailhtml: Boolean(f.html), params: f.param,
  };
  try {
    const row = await withPool(ctx, (pool) => createSchedule(pool, {
      name: f.name ?? null, source: 'cli', action: f.action, job, rule, maxCount: f.count ?? null, missed: f.missed, missedMax: f.missedMax,
    }));
    out.write(`${row.schedule_id}\n`);
    return 0;
  } catch (err) {
    if (err instanceof ScheduleError) throw new ConfigError(err.message);
    throw err;
  }
}

export async function scheduleListCommand(ctx: CommandContext, o: { all: boolean; json: boolean }, out: NodeJS.WritableStream): Promise<number> {
  const rows = await withPool(ctx, (pool) => listSchedules(pool, o.all));
  if (o.json) {
    out.write(JSON.stringify(rows) + '\n');
    return 0;
  }
  out.write(`${'ID'.padEnd(6)} ${'NAME'.padEnd(20)} ${'ACTION'.padEnd(18)} ${'STATE'.padEnd(8)} ${'RUNS'.padEnd(8)} ${'NEXT'.padEnd(26)} RULE\n`);
  for (const r of rows) out.write(describe(r) + '\n');
  return 0;
}

/**
 * `schedule next`: the series' next runs in its zone, to the second. Occurrences already inserted ahead (or
 * waiting for a retry) come first, at the time they will start; then the rule's, within the series' end and count.
 */
export async function scheduleNextCommand(ctx: CommandContext, id: number, count: number, out: NodeJS.WritableStream): Promise<number> {
  const found = await withPool(ctx, async (pool) => {
    const row = await getScheduleOverview(pool, id);
    return row ? { row, waiting: row.next_run ? await waitingRuns(pool, id, count) : [] } : null;
  });
  if (!found) {
    out.write(`no series ${id}\n`);
    return 1;
  }
  const { row, waiting } = found;
  let times: Date[] = [];
  if (row.next_run) {
    const room = row.schedule_max_count === null ? Infinity : Math.max(0, row.schedule_max_count - row.schedule_count);
    const more = Math.min(count - waiting.length, room);
    const ahead = row.schedule_next && more > 0 ? upcoming(ruleOf(row), new Date(row.schedule_next.getTime() - 1), more) : [];
    times = [...waiting, ...ahead].sort((a, b) => a.getTime() - b.getTime()).slice(0, count);
  }
  if (times.length === 0) out.write(`series ${id} has no further occurrences\n`);
  for (const t of times) out.write(`${formatInZone(t, row.schedule_timezone)}\n`);
  return 0;
}

export async function scheduleStateCommand(ctx: CommandContext, op: 'pause' | 'resume' | 'remove', id: number, out: NodeJS.WritableStream): Promise<number> {
  const fn = { pause: pauseSchedule, resume: resumeSchedule, remove: removeSchedule }[op];
  const ok = await withPool(ctx, (pool) => fn(pool, id));
  const done = { pause: 'paused; waiting occurrences cancelled', resume: 'resumed from now', remove: 'removed; waiting occurrences cancelled' }[op];
  out.write(ok ? `series ${id} ${done}\n` : `no active series ${id}\n`);
  return ok ? 0 : 1;
}
