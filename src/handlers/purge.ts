import { purgeOnce } from '../daemon/purger';
import type { Handler } from './types';

/** The built-in "purge" series' action: BatchManagerPurgeDays decides what goes. */
export const purgeHandler: Handler = async (ctx) => ({ purged: await purgeOnce(ctx.pool, ctx.log) });
