import { purgeOnce } from '../purge/finishedJobs';
import { sweepSpool } from '../purge/spoolFolders';
import type { Handler } from './types';

/** The built-in "purge" series' action: BatchManagerPurgeDays decides what goes, then the spool follows. */
export const purgeHandler: Handler = async (ctx) => {
  const purged = await purgeOnce(ctx.pool, ctx.log);
  const spoolFolders = await sweepSpool(ctx.pool, ctx.cfg.spoolDir, ctx.log);
  return { purged, spoolFolders };
};
