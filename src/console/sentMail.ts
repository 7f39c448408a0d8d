import type { Pool } from '../db/pool';
import type { JobDetail } from './jobs';

export interface SentMail {
  emlId: number;
  /** The message's header block as sent (Bcc is not in it: it never is). */
  headers: string;
  body: string;
  attachments: Array<{ filename: string; contentType: string; size: number }>;
}

/**
 * The copy the daemon recorded in xtbatch.eml when it sent this job's mail (src/sync/recordSent.ts). The row has
 * no job column; the message carries the header X-xtconnect-Batch-Id, so candidates with the job's subject from
 * around its run are parsed and the one with that header (and the Message-ID in the job's result) is taken.
 */
export async function findSentMail(pool: Pool, job: JobDetail): Promise<SentMail | null> {
  if (!job.started || !job.completed) return null;
  const { rows } = await pool.query<{ eml_id: number; eml_msg: Buffer }>(
    `SELECT eml_id, eml_msg FROM xtbatch.eml
      WHERE eml_subj = $1 AND eml_date BETWEEN $2::timestamptz - interval '1 day' AND $3::timestamptz + interval '1 day'
      ORDER BY eml_id DESC LIMIT 20`,
    [job.batch_subject ?? '', job.started, job.completed],
  );
  if (rows.length === 0) return null;
  const { simpleParser } = require('mailparser') as typeof import('mailparser');
  for (const r of rows) {
    const raw = r.eml_msg;
    const end = raw.indexOf('\r\n\r\n');
    const headers = raw.subarray(0, end < 0 ? raw.length : end).toString('utf8');
    const mail = await simpleParser(raw, { skipImageLinks: true, skipTextLinks: true, skipTextToHtml: true });
    // The header names the job; the Message-ID the job recorded confirms it is this run's message.
    if (String(mail.headers.get('x-xtconnect-batch-id') ?? '') !== String(job.batch_id)) continue;
    const recorded = (job.batch_result as { messageId?: string } | null)?.messageId;
    if (recorded && mail.messageId && recorded !== mail.messageId) continue;
    return {
      emlId: r.eml_id,
      headers,
      // The text part, or the HTML part as its source text (shown escaped, never rendered).
      body: mail.text ?? (typeof mail.html === 'string' ? mail.html : ''),
      attachments: mail.attachments.map((a) => ({ filename: a.filename ?? '(no name)', contentType: a.contentType, size: a.size })),
    };
  }
  return null;
}
