import { getJob, listJobs, type JobState } from '../../db/queries/inspect';
import { cancelJob, retryJob } from '../../db/queries/submit';
import type { CommandContext } from '../context';
import { withPool } from '../context';

function cell(v: unknown, width: number): string {
  const s = v === null || v === undefined ? '' : String(v).replace(/\s+/g, ' ');
  return s.length > width ? s.slice(0, width - 1) + '…' : s.padEnd(width);
}

export async function listCommand(ctx: CommandContext, f: { state?: JobState; action?: string; limit: number; json: boolean }, out: NodeJS.WritableStream): Promise<number> {
  const rows = await withPool(ctx, (pool) => listJobs(pool, f));
  if (f.json) {
    out.write(JSON.stringify(rows) + '\n');
    return 0;
  }
  out.write(`${cell('ID', 8)} ${cell('ACTION', 18)} ${cell('STATE', 10)} ${cell('SCHEDULED', 19)} ${cell('TRIES', 5)} ${cell('TO', 24)} STATUS\n`);
  for (const r of rows) {
    const status = r.state === 'retrying' ? r.batch_last_error : r.batch_exitstatus;
    out.write(`${cell(r.batch_id, 8)} ${cell(r.batch_action, 18)} ${cell(r.state, 10)} ${cell((r.batch_scheduled ?? '').slice(0, 19), 19)} ` +
      `${cell(r.batch_attempts, 5)} ${cell(r.batch_email, 24)} ${status ?? ''}\n`);
  }
  return 0;
}

export async function showCommand(ctx: CommandContext, id: number, json: boolean, out: NodeJS.WritableStream): Promise<number> {
  const found = await withPool(ctx, (pool) => getJob(pool, id));
  if (!found) {
    out.write(`no job ${id}\n`);
    return 1;
  }
  if (json) {
    out.write(JSON.stringify(found) + '\n');
    return 0;
  }
  const { job, params } = found;
  for (const [k, v] of Object.entries(job)) {
    if (v === null || v === '') continue;
    out.write(`${k.padEnd(26)} ${typeof v === 'object' && !(v instanceof Date) ? JSON.stringify(v) : String(v)}\n`);
  }
  if (params.length) {
    out.write('parameters:\n');
    for (const p of params) out.write(`  ${String(p.order ?? '').padStart(3)} ${String(p.name)} = ${String(p.value)} (${String(p.type ?? 'QString')})\n`);
  }
  return 0;
}

export async function retryCommand(ctx: CommandContext, id: number, out: NodeJS.WritableStream): Promise<number> {
  const r = await withPool(ctx, (pool) => retryJob(pool, id));
  out.write(r === 1 ? `job ${id} is due again now\n` : `no job ${id}\n`);
  return r === 1 ? 0 : 1;
}

export async function cancelCommand(ctx: CommandContext, id: number, out: NodeJS.WritableStream): Promise<number> {
  const r = await withPool(ctx, (pool) => cancelJob(pool, id));
  const said = { 1: `job ${id} cancelled`, 0: `job ${id} had already finished; nothing to cancel`, [-1]: `no job ${id}` } as Record<number, string>;
  out.write(`${said[r]}\n`);
  return r === 1 ? 0 : 1;
}
