import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../config';
import type { BatchRow } from '../db/queries/batch';
import { JobInputError } from '../errors';

/**
 * Finds the file named by batch_filename: an absolute path as given, else in the spool folder under the job's id
 * (where a report job leaves its output) or directly in the spool folder. A name that climbs out of the spool
 * folder is refused.
 */
export function resolveAttachment(ctx: { job: Pick<BatchRow, 'batch_id' | 'batch_filename'>; cfg: Pick<Config, 'spoolDir' | 'fileRoots'> }): string | null {
  const name = ctx.job.batch_filename?.trim();
  if (!name) return null;
  const id = ctx.job.batch_id;
  const candidates: string[] = [];
  if (path.isAbsolute(name)) {
    candidates.push(name);
  } else {
    if (name.split(/[\\/]/).includes('..')) {
      throw new JobInputError(id, 'batch_filename', `"${name}" may not contain "..": name a file in the spool folder or give an absolute path`);
    }
    candidates.push(path.join(ctx.cfg.spoolDir, String(id), name), path.join(ctx.cfg.spoolDir, name));
  }
  const found = candidates.find((c) => fs.existsSync(c) && fs.statSync(c).isFile());
  if (!found) {
    throw new JobInputError(id, 'batch_filename', `names "${name}" but there is no such file (looked in ${candidates.join(', ')})`);
  }
  assertInFileRoots(ctx.cfg, id, 'batch_filename', found);
  return found;
}

/**
 * Job rows come from ERP users, so a path in one must not reach what the daemon alone may read (its config, its
 * environment file with the passwords): only files under daemon.fileRoots are read or written for a job. The
 * real path is checked, so a symbolic link in the spool folder cannot point elsewhere.
 */
export function assertInFileRoots(cfg: Pick<Config, 'fileRoots'>, batchId: number, field: string, file: string): void {
  let real: string;
  try {
    real = fs.realpathSync(file);
  } catch {
    real = path.resolve(file);
  }
  const inside = cfg.fileRoots.some((root) => {
    let r: string;
    try {
      r = fs.realpathSync(root);
    } catch {
      r = path.resolve(root);
    }
    return real === r || real.startsWith(r.endsWith(path.sep) ? r : r + path.sep);
  });
  if (!inside) {
    throw new JobInputError(batchId, field, `names "${file}", which is outside the folders jobs may use (fileRoots: ` +
      `${cfg.fileRoots.join(', ')}); put the file in the spool folder, or add its folder to fileRoots in the config`);
  }
}
