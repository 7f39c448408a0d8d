import path from 'node:path';
import { JobInputError, PermanentError } from '../errors';
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
    // Some recipients took it: sending it again would duplicate it for them, so it is not retried. But a recipient
    // missed it, which a person must act on, so the job fails with who got it and who did not (xTuple reads a
    // non-empty batch_exitstatus as a failure; a "done" with the refusal only in batch_result went unseen).
    throw new PermanentError(partialDeliveryMessage(info.accepted, info.refusals ?? info.rejected));
  }
  return { messageId: info.messageId, accepted: info.accepted, rejected: info.rejected, deliveredTo: info.deliveredTo,
    attachment: attachment ? path.basename(attachment) : undefined };
};

/** The exit status of a message that reached some recipients and not others. */
export function partialDeliveryMessage(accepted: string[], refused: string[]): string {
  return `sent to ${accepted.join(', ')}, but the mail server refused ${refused.join('; ')}. ` +
    'It was not sent again, so that those who got it do not get it twice: check the refused address and send the message to it alone.';
}
