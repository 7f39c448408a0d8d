import type Mail from 'nodemailer/lib/mailer';
import type { BatchRow } from '../db/queries/batch';
import { parseAddressList, formatAddressList } from './addresses';

/**
 * Actions whose batch_email is the recipient of the document the job sends, not the person who submitted it:
 * they get the document, never a "done" notice about it.
 */
export const NO_NOTICE_ACTIONS: ReadonlySet<string> = new Set(['Email', 'RunReport', 'EmailXML', 'TransmitInvoice']);

export interface NoticeOutcome {
  kind: 'done' | 'failed';
  message: string | null;
  result: unknown;
  /** When the job finished, as the job row will say; left out of the body when not given. */
  completed?: string | Date | null;
}

const RESULT_MAX = 2000;

function when(v: string | Date | null | undefined): string | null {
  if (v === null || v === undefined || v === '') return null;
  if (v instanceof Date) return v.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
  // xTuple's timestamps are local time without zone, kept as the text the database gave (src/db/pool.ts).
  return v.replace('T', ' ').replace(/\.\d+$/, '');
}

function resultText(result: unknown): string | null {
  if (result === null || result === undefined) return null;
  let s: string;
  try {
    s = typeof result === 'string' ? result : JSON.stringify(result, null, 2);
  } catch {
    s = String(result);
  }
  return s.length > RESULT_MAX ? `${s.slice(0, RESULT_MAX)}\n… (${s.length - RESULT_MAX} more characters in the job's batch_result)` : s;
}

/**
 * The short message xTuple's batch manager sent to an action job's batch_email when the job finished: done, or
 * failed with the reason. Null when no notice is due: a mail action (NO_NOTICE_ACTIONS), no batch_email, an
 * address that cannot be read, or no sender (batch_fromemail and DefaultBatchFromEmailAddress both empty).
 * Pure: sending it is the caller's business.
 */
/** Why a notice that is due (an action job with a batch_email) could not be built; null when none is due. */
export function whyNoNotice(job: BatchRow, defaultFrom: string | null): string | null {
  if (NO_NOTICE_ACTIONS.has(job.batch_action) || !job.batch_email?.trim()) return null;
  if (!(job.batch_fromemail?.trim() || defaultFrom?.trim())) {
    return 'no sender: set DefaultBatchFromEmailAddress (xtconnect config set DefaultBatchFromEmailAddress erp@example.com)';
  }
  return 'batch_email or batch_fromemail is not a valid address';
}

export function noticeFor(job: BatchRow, outcome: NoticeOutcome, defaultFrom: string | null): Mail.Options | null {
  if (NO_NOTICE_ACTIONS.has(job.batch_action)) return null;
  const toText = job.batch_email?.trim();
  if (!toText) return null;
  const fromText = job.batch_fromemail?.trim() || defaultFrom?.trim();
  if (!fromText) return null;
  let to: string[];
  let from: string;
  try {
    to = formatAddressList(parseAddressList(job.batch_id, 'batch_email', toText));
    from = formatAddressList(parseAddressList(job.batch_id, 'batch_fromemail', fromText))[0]!;
  } catch {
    // A bad address fails an Email job; a notice about another job is not worth failing anything for.
    return null;
  }

  const state = outcome.kind === 'done' ? 'done' : 'failed';
  const lines = [
    `The xTuple Connect job ${job.batch_id} (${job.batch_action}) ${outcome.kind === 'done' ? 'has finished.' : 'has failed.'}`,
    '',
    `Action:     ${job.batch_action}${job.batch_parameter ? ` ${job.batch_parameter}` : ''}`,
    `Job:        ${job.batch_id}`,
  ];
  const times: Array<[string, string | null]> = [
    ['Submitted:', when(job.batch_submitted)],
    ['Scheduled:', when(job.batch_scheduled)],
    ['Started:', when(job.batch_started)],
    [outcome.kind === 'done' ? 'Finished:' : 'Failed:', when(outcome.completed)],
  ];
  if (job.batch_user) lines.push(`Submitter:  ${job.batch_user}`);
  for (const [label, t] of times) if (t) lines.push(`${label.padEnd(11)} ${t}`);
  if (job.batch_attempts > 1) lines.push(`Attempts:   ${job.batch_attempts}`);
  if (outcome.kind === 'failed') {
    lines.push('', 'Reason:', outcome.message?.trim() || '(no message)');
  } else {
    const r = resultText(outcome.result);
    if (r) lines.push('', 'Result:', r);
  }
  return {
    from,
    to,
    subject: `xTuple Connect: ${job.batch_action} (job ${job.batch_id}) ${state}`,
    text: lines.join('\n') + '\n',
    headers: {
      'X-xtconnect-Batch-Id': String(job.batch_id),
      // RFC 3834: an automatic message, so vacation responders and the like do not answer it.
      'Auto-Submitted': 'auto-generated',
    },
  };
}
