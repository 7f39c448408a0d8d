import path from 'node:path';
import { submitAction, submitEmail, submitReport, type ParamInput } from '../../db/queries/submit';
import { ConfigError } from '../../errors';
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
  html?: boolean; attach?: string; at?: string;
}

export async function submitEmailCommand(ctx: CommandContext, f: EmailFlags, out: NodeJS.WritableStream): Promise<number> {
  const id = await withPool(ctx, (pool) =>
    submitEmail(pool, {
      from: f.from ?? null, to: f.to, cc: f.cc ?? null, bcc: f.bcc ?? null, replyTo: f.replyTo ?? null,
      subject: f.subject, body: f.body ?? '', html: Boolean(f.html),
      filename: f.attach ? path.resolve(f.attach) : null, scheduled: parseAt(f.at),
    }),
  );
  out.write(`${id}\n`);
  return 0;
}

export async function submitActionCommand(ctx: CommandContext, action: string, f: { email?: string; param: ParamInput[]; at?: string }, out: NodeJS.WritableStream): Promise<number> {
  const id = await withPool(ctx, (pool) => submitAction(pool, action, f.email ?? null, parseAt(f.at), f.param));
  out.write(`${id}\n`);
  return 0;
}

export async function submitReportCommand(
  ctx: CommandContext, report: string,
  f: { to?: string; from?: string; cc?: string; subject?: string; body?: string; filename?: string; html?: boolean; param: ParamInput[]; at?: string },
  out: NodeJS.WritableStream,
): Promise<number> {
  const id = await withPool(ctx, (pool) =>
    submitReport(pool, {
      report, from: f.from ?? null, to: f.to ?? null, cc: f.cc ?? null, subject: f.subject ?? null, body: f.body ?? null,
      filename: f.filename ?? null, scheduled: parseAt(f.at), html: Boolean(f.html),
    }, f.param),
  );
  out.write(`${id}\n`);
  return 0;
}
