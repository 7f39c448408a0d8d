import path from 'node:path';
import { JobInputError } from '../errors';
import { mailAddresses, parseAddressList } from '../mail/addresses';
import { resolveAttachment } from '../jobs/files';
import type { Handler } from './types';

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

  // A daemon that was paused or cut off past its lease must not send what another daemon now owns.
  ctx.lease?.check();
  const info = await ctx.services.mailer.send(
    {
      from: mailAddresses(from)[0],
      to: mailAddresses(to),
      cc: cc.length ? mailAddresses(cc) : undefined,
      bcc: bcc.length ? mailAddresses(bcc) : undefined,
      replyTo: replyTo.length ? mailAddresses(replyTo) : undefined,
      subject: job.batch_subject ?? '',
      ...(job.batch_emailhtml ? { html: body } : { text: body }),
      attachments: attachment ? [{ filename: path.basename(attachment), path: attachment }] : undefined,
      headers: { 'X-xtconnect-Batch-Id': String(id) },
      // Stops the delivery, and frees its pooled connection, when the daemon stops the job (timeout, cancel,
      // lost lease, shutdown): otherwise the message could still go out after the row was put back.
      signal: ctx.signal,
    },
    `batch-${id}`,
    ctx.lease,
  );
  if (info.rejected.length) {
    // Some recipients took it: sending again would duplicate it for them, so the job is done; the row says who missed it.
    ctx.log.warn(`delivered, but the server refused ${info.rejected.join(', ')}`);
  }
  return { messageId: info.messageId, accepted: info.accepted, rejected: info.rejected, deliveredTo: info.deliveredTo,
    attachment: attachment ? path.basename(attachment) : undefined };
};
