import { errorMessage, JobInputError, PermanentError, TransientError } from '../errors';
import { describeMailbox, type Mailbox } from '../sync/mailboxes';
import { syncMailbox, type MailboxResult } from '../sync/syncMailbox';
import type { Handler, JobContext } from './types';

/** The mailboxes this job reads: the one its `mailbox` parameter (or batch_parameter) names, else all of them. */
function chosenMailboxes(ctx: JobContext): Mailbox[] {
  const all = ctx.cfg.mailboxes;
  const id = ctx.job.batch_id;
  const param = ctx.params.get('mailbox');
  const field = param !== undefined && param !== null ? 'mailbox' : 'batch_parameter';
  const wanted = String(param ?? ctx.job.batch_parameter ?? '').trim();
  if (all.length === 0) {
    throw new PermanentError(`no IMAP mailboxes are configured: add a mailboxes: section to ${ctx.cfg.source} (see xtconnect.example.yaml)`);
  }
  if (!wanted) return all;
  const mb = all.find((m) => m.name.toLowerCase() === wanted.toLowerCase());
  if (!mb) throw new JobInputError(id, field, `names mailbox "${wanted}", which the config does not have (it has: ${all.map((m) => m.name).join(', ')})`);
  return [mb];
}

/** "mailbox "sales" (...): folder "INBOX" UID 7 ("Subject"): <reason> (...)", one per message that failed in this run. */
function messageFailures(mb: Mailbox, r: MailboxResult): string[] {
  return r.folders.flatMap((f) => f.failed.map((m) =>
    `${describeMailbox(mb)}: folder "${f.folder}" UID ${m.uid}${m.subject !== null ? ` ("${m.subject}")` : ''} could not be imported: ${m.reason} ` +
    `(failed in ${m.attempts} run(s); ${m.givenUp ? 'given up' : 'tried again on the next run'})`));
}

/**
 * EmailSync: imports new mail from the configured IMAP mailboxes into xtbatch.eml, linking contacts and the
 * documents referenced as [xtref:TYPE-NUMBER]. Every mailbox is tried; the job fails naming those that failed,
 * and is retried unless all of them failed for reasons retrying cannot fix. What was imported stays imported.
 * A message that could not be imported is recorded and passed by (src/sync/failedMessages.ts): the rest of the
 * mailbox is imported, and the job then fails for good naming the folder and UID of each such message (the next
 * run tries them again; retrying the job at once would only repeat the same failures).
 */
export const emailSyncHandler: Handler = async (ctx) => {
  const results: MailboxResult[] = [];
  const failures: Array<{ name: string; err: unknown }> = [];
  const failedMessages: string[] = [];
  for (const mb of chosenMailboxes(ctx)) {
    if (ctx.signal.aborted) break;
    try {
      const r = await syncMailbox(mb, { pool: ctx.pool, log: ctx.log, signal: ctx.signal, settings: ctx.settings });
      const imported = r.folders.reduce((n, f) => n + f.imported, 0);
      if (imported > 0) ctx.log.info(`email sync: ${mb.name}: imported ${imported} message(s)`);
      results.push(r);
      failedMessages.push(...messageFailures(mb, r));
    } catch (err) {
      if (ctx.signal.aborted) throw err;
      ctx.log.warn(`email sync: ${mb.name}: ${errorMessage(err)}`);
      failures.push({ name: mb.name, err });
    }
  }
  if (failures.length) {
    const text = [...failures.map((f) => errorMessage(f.err)), ...failedMessages].join('; ');
    const summary = results.length ? ` (imported from ${results.map((r) => r.mailbox).join(', ')} before that)` : '';
    if (failures.every((f) => f.err instanceof PermanentError)) throw new PermanentError(text + summary);
    throw new TransientError(text + summary);
  }
  if (failedMessages.length) {
    const imported = results.reduce((n, r) => n + r.folders.reduce((k, f) => k + f.imported, 0), 0);
    throw new PermanentError(`${failedMessages.length} message(s) could not be imported and were passed by ` +
      `(${imported} imported): ${failedMessages.join('; ')}`);
  }
  return { mailboxes: results };
};
