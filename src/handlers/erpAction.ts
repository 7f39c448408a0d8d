import { connectUnlessAborted } from '../db/jobConnection';
import { timeoutSeconds as jobTimeoutSeconds } from '../jobs/timeout';
import type { Handler, JobContext } from './types';
import { groupRunner } from './erpAction/group';
import { bindArgs, cachedMapping, resolveMapping, type ErpActionResult, type Resolved } from './erpAction/mapping';

/*
 * ERP actions as calls of database functions, mapped in xtbatch.action (sql/0006_actions.sql). Registered as the
 * '*' handler: the executor hands it every action no built-in handler names.
 *
 * The mapping (erpAction/mapping.ts) is cached per pool under xtbatch.action_version; the call and the job's
 * fenced "done" run on the server in one statement, grouped with the other ERP jobs running at the same time
 * (erpAction/group.ts, sql/0032_erp_action_groups.sql).
 */

export { clearActionCache, parseArgSpec, resolveType, type ArgSpec, type ErpActionResult, type ResolvedType } from './erpAction/mapping';

/**
 * The '*' handler. `builtIns` lists the daemon's own action names for the "no handler" message (the registry is
 * not in the job's context); the actions mapped in xtbatch.action are listed with them.
 */
export function makeErpActionHandler(builtIns: () => Iterable<string> = () => []): Handler {
  return (ctx) => runErpAction(ctx, builtIns);
}

export const erpActionHandler: Handler = makeErpActionHandler();

async function runErpAction(ctx: JobContext, builtIns: () => Iterable<string>): Promise<ErpActionResult> {
  const action = ctx.job.batch_action;
  ctx.signal.throwIfAborted();
  // A cached mapping costs no round trip; a job whose mapping changed since is sent again by the group runner.
  const m = cachedMapping(ctx.pool, action) ?? (await lookUp(ctx, action, builtIns));
  const values = bindArgs(ctx, m);
  const timeout = m.row.action_timeout_seconds ?? jobTimeoutSeconds(ctx.cfg, ctx.job);
  if (ctx.log.isLevelEnabled('debug')) ctx.log.debug(`calling ${m.signature} (statement timeout ${timeout} s)`);
  ctx.lease?.check();
  return groupRunner(ctx.pool).submit({ ctx, m, values, timeoutMs: timeout * 1000, builtIns });
}

/** Reads the mapping on a connection of its own (a stopped job does not wait for one). */
async function lookUp(ctx: JobContext, action: string, builtIns: () => Iterable<string>): Promise<Resolved> {
  const client = await connectUnlessAborted(ctx.pool, ctx.signal);
  let ok = false;
  try {
    const m = await resolveMapping(client, ctx.pool, action, builtIns);
    ok = true;
    return m;
  } finally {
    client.release(!ok && (client as unknown as { getTransactionStatus?: () => string | null }).getTransactionStatus?.() !== 'I');
  }
}
