import { migrate } from '../../db/migrate';
import type { CommandContext } from '../context';
import { withPool } from '../context';

/** `xtconnect migrate [--dry-run]`: applies pending migrations, or lists them. */
export async function migrateCommand(ctx: CommandContext, opts: { dryRun: boolean }, out: NodeJS.WritableStream): Promise<number> {
  return withPool(ctx, async (pool) => {
    const result = await migrate(pool, { dryRun: opts.dryRun });
    if (opts.dryRun) {
      if (result.pending.length === 0) out.write('schema is up to date; nothing to apply\n');
      for (const m of result.pending) out.write(`would apply ${m.name}\n`);
    } else {
      if (result.applied.length === 0) out.write('schema is up to date; nothing applied\n');
      for (const m of result.applied) out.write(`applied ${m.name}\n`);
    }
    return 0;
  });
}
