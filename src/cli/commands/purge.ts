import { purgeFinished, purgeSettingSays, readPurgeSetting } from '../../purge/finishedJobs';
import { sweepSpool } from '../../purge/spoolFolders';
import { ConfigError } from '../../errors';
import type { CommandContext } from '../context';
import { withPool } from '../context';

export interface PurgeFlags {
  days?: number;
  olderThan?: string;
  yes?: boolean;
}

const DAY_S = 86_400;

/** "0s", "90s", "30m", "12h", "2d" → seconds; a ConfigError naming the flag otherwise. */
export function parseAge(text: string): number {
  const m = /^\s*(\d+)\s*(s|m|h|d)\s*$/i.exec(text);
  if (!m) throw new ConfigError(`--older-than "${text}" must be a number and a unit: s, m, h or d (e.g. 12h, 30d, 0s)`);
  const n = Number(m[1]);
  const unit = { s: 1, m: 60, h: 3600, d: DAY_S }[m[2]!.toLowerCase() as 's' | 'm' | 'h' | 'd'];
  if (n * unit > 100 * 365 * DAY_S) throw new ConfigError(`--older-than "${text}" is longer than a hundred years`);
  return n * unit;
}

/**
 * `purge`: deletes finished jobs now, then the spool folders of jobs that no longer exist (as the nightly purge).
 * Without flags it follows BatchManagerPurgeDays (not set or 0: nothing).
 * It never deletes a job finished less than a day ago unless told so twice: --older-than below a day and --yes.
 * --days 0 is refused: for the setting 0 means never, and the command must not read it the other way round.
 */
export async function purgeCommand(ctx: CommandContext, f: PurgeFlags, out: NodeJS.WritableStream): Promise<number> {
  if (f.days !== undefined && f.olderThan !== undefined) throw new ConfigError('give --days or --older-than, not both');
  if (f.days === 0) {
    throw new ConfigError('--days 0 is refused: for BatchManagerPurgeDays 0 means "never purge", so it cannot mean "everything" here. ' +
      'Give --days 1 or more, or --older-than 0s --yes to delete every finished job, including those finished just now');
  }
  let seconds: number | null = null;
  let what = '';
  if (f.olderThan !== undefined) {
    seconds = parseAge(f.olderThan);
    if (seconds < DAY_S && !f.yes) {
      throw new ConfigError(`--older-than ${f.olderThan.trim()} would delete jobs finished less than a day ago; add --yes to do that`);
    }
    what = f.olderThan.trim();
  } else if (f.days !== undefined) {
    seconds = f.days * DAY_S;
    what = `${f.days} day(s)`;
  }
  return withPool(ctx, async (pool) => {
    if (seconds === null) {
      const setting = await readPurgeSetting(pool);
      if (setting.kind !== 'days') {
        out.write(`${purgeSettingSays(setting)} and no --days given: nothing purged\n`);
        return 0;
      }
      seconds = setting.days * DAY_S;
      what = `${setting.days} day(s)`;
    }
    const n = await purgeFinished(pool, seconds);
    out.write(`purged ${n} job(s) finished more than ${what} ago\n`);
    // As the nightly purge does: the report folders of jobs that no longer exist, on this machine.
    const folders = await sweepSpool(pool, ctx.cfg.spoolDir, ctx.log);
    if (folders > 0) out.write(`removed ${folders} spool folder(s) of purged jobs from ${ctx.cfg.spoolDir}\n`);
    return 0;
  });
}
