import fs from 'node:fs';
import path from 'node:path';
import { JobInputError } from '../errors';
import { formatAddressList, parseAddressList } from '../mail/addresses';
import type { Handler, JobContext } from './types';

/**
 * Finds the file named by batch_filename: an absolute path as given, else in the spool folder under the job's id
 * (where a report job leaves its output) or directly in the spool folder. A name that climbs out of the spool
 * folder is refused.
 */
export function resolveAttachment(ctx: Pick<JobContext, 'job' | 'cfg'>): string | null {
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
export function assertInFileRoots(cfg: Pick<JobContext['cfg'], 'fileRoots'>, batchId: number, field: string, file: string): void {
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

export const emailHandler: Handler = async (ctx) => {
  const { job, settings } = ctx;
  const id = job.batch_id;
  if (!job.batch_email?.trim()) {
    throw new JobInputError(id, 'batch_email', 'is empty: an Email job needs at least one recipient');
  }
  const to = parseAddressList(id, 'batch_email', job.batch_email);
  const cc = parseAddressList(id, 'batch_cc', job.batch_cc);
  const bcc = parseAddressList(id, 'batch_bcc', job.batch_bcc);
  const replyTo = parseAddressList(id, 'batch_replyto', job.batch_replyto);
  const fromText = job.batch_fromemail?.trim() || settings.defaultFrom;
  if (!fromText) {
    throw new JobInputError(id, 'batch_fromemail',
      'is empty and DefaultBatchFromEmailAddress is not set: set one of them (xtconnect config set DefaultBatchFromEmailAddress you@example.com)');
  }
  const from = parseAddressList(id, job.batch_fromemail?.trim() ? 'batch_fromemail' : 'DefaultBatchFromEmailAddress', fromText);
  const attachment = resolveAttachment(ctx);
  const body = job.batch_responsebody ?? '';

  const info = await ctx.services.mailer.send(
    {
      from: formatAddressList(from)[0],
      to: formatAddressList(to),
      cc: cc.length ? formatAddressList(cc) : undefined,
      bcc: bcc.length ? formatAddressList(bcc) : undefined,
      replyTo: replyTo.length ? formatAddressList(replyTo) : undefined,
      subject: job.batch_subject ?? '',
      ...(job.batch_emailhtml ? { html: body } : { text: body }),
      attachments: attachment ? [{ filename: path.basename(attachment), path: attachment }] : undefined,
      headers: { 'X-xtconnect-Batch-Id': String(id) },
      // Stops the delivery, and frees its pooled connection, when the daemon stops the job (timeout, cancel,
      // lost lease, shutdown): otherwise the message could still go out after the row was put back.
      signal: ctx.signal,
    },
    `batch-${id}`,
  );
  if (info.rejected.length) {
    // Some recipients took it: sending again would duplicate it for them, so the job is done; the row says who missed it.
    ctx.log.warn(`delivered, but the server refused ${info.rejected.join(', ')}`);
  }
  return { messageId: info.messageId, accepted: info.accepted, rejected: info.rejected, deliveredTo: info.deliveredTo,
    attachment: attachment ? path.basename(attachment) : undefined };
};
