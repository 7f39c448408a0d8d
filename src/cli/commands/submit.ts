import path from 'node:path';
import { submitAction, submitEmail, submitReport, type ParamInput } from '../../db/queries/submit';
import { ConfigError } from '../../errors';
import type { Pool } from '../../db/pool';
import type { CommandContext } from '../context';
import { withPool } from '../context';

/** --param name=value or name:type=value (type as xTuple writes it: QString, int, double, bool, QDate, ...). */
export function parseParam(spec: string, previous: ParamInput[] = []): ParamInput[] {
  const eq = spec.indexOf('=');
  if (eq <= 0) throw new ConfigError(`--param "${spec}" must look like name=value or name:type=value`);
  const left = spec.slice(0, eq);
  const [name, type] = left.includes(':') ? (left.split(':', 2) as [string, string]) : [left, 'QString'];
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new ConfigError(`--param "${spec}": "${name}" is not a parameter name`);
  return [...previous, { name, type, value: spec.slice(eq + 1) }];
}

/** --in 15m / 2h / 1d: seconds from now. */
export function parseIn(spec: string | undefined): number | null {
  if (!spec) return null;
  const m = /^\s*(\d+)\s*(s|sec|seconds?|m|min|minutes?|h|hours?|d|days?)\s*$/i.exec(spec);
  if (!m || Number(m[1]) < 1) throw new ConfigError(`--in "${spec}" must be a number and a unit, such as 30s, 15m, 2h or 1d`);
  const unit = m[2]!.toLowerCase()[0]!;
  return Number(m[1]) * ({ s: 1, m: 60, h: 3600, d: 86_400 } as Record<string, number>)[unit]!;
}

/**
 * The job's start as the database's local time (xTuple's batch_scheduled has no zone): --at as given, --in from
 * the database's clock, else now.
 */
export async function startTime(pool: Pool, at: string | undefined, inSpec: string | undefined): Promise<string | null> {
  if (at && inSpec) throw new ConfigError('give --at or --in, not both');
  const secs = parseIn(inSpec);
  if (secs === null) return parseAt(at);
  const { rows } = await pool.query<{ t: string }>(`SELECT (localtimestamp + make_interval(secs => $1))::text AS t`, [secs]);
  return rows[0]!.t;
}

/** --at "2026-12-01 08:00" (the database server's local time, as xTuple stores it). */
export function parseAt(at: string | undefined): string | null {
  if (!at) return null;
  if (!/^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2})?)?$/.test(at.trim()) || Number.isNaN(Date.parse(at.trim().replace(' ', 'T')))) {
    throw new ConfigError(`--at "${at}" must be a date and time like "2026-12-01 08:00"`);
  }
  return at.trim().replace('T', ' ');
}

export interface EmailFlags {
  to: string; from?: string; cc?: string; bcc?: string; replyTo?: string; subject: string; body?: string;
  html?: boolean; attach?: string; at?: string; in?: string;
}

export async function submitEmailCommand(ctx: CommandContext, f: EmailFlags, out: NodeJS.WritableStream): Promise<number> {
  parseIn(f.in);
  parseAt(f.at);
  const id = await withPool(ctx, async (pool) =>
    submitEmail(pool, {
      from: f.from ?? null, to: f.to, cc: f.cc ?? null, bcc: f.bcc ?? null, replyTo: f.replyTo ?? null,
      subject: f.subject, body: f.body ?? '', html: Boolean(f.html),
      filename: f.attach ? path.resolve(f.attach) : null, scheduled: await startTime(pool, f.at, f.in),
    }),
  );
  out.write(`${id}\n`);
  return 0;
}

export async function submitActionCommand(ctx: CommandContext, action: string, f: { email?: string; param: ParamInput[]; at?: string; in?: string }, out: NodeJS.WritableStream): Promise<number> {
  parseIn(f.in);
  parseAt(f.at);
  const id = await withPool(ctx, async (pool) => submitAction(pool, action, f.email ?? null, await startTime(pool, f.at, f.in), f.param));
  out.write(`${id}\n`);
  return 0;
}

export async function submitReportCommand(
  ctx: CommandContext, report: string,
  f: { to?: string; from?: string; cc?: string; subject?: string; body?: string; filename?: string; html?: boolean; param: ParamInput[]; at?: string; in?: string },
  out: NodeJS.WritableStream,
): Promise<number> {
  parseIn(f.in);
  parseAt(f.at);
  const id = await withPool(ctx, async (pool) =>
    submitReport(pool, {
      report, from: f.from ?? null, to: f.to ?? null, cc: f.cc ?? null, subject: f.subject ?? null, body: f.body ?? null,
      filename: f.filename ?? null, scheduled: await startTime(pool, f.at, f.in), html: Boolean(f.html),
    }, f.param),
  );
  out.write(`${id}\n`);
  return 0;
}
