import type { BatchRow } from '../../src/db/queries/batch';
import { noticeFor, whyNoNotice } from '../../src/mail/notice';

function job(over: Partial<BatchRow> = {}): BatchRow {
  return {
    batch_id: 42, batch_action: 'RunMRP', batch_parameter: null, batch_user: 'admin', batch_email: 'planner@example.com',
    batch_submitted: '2024-05-01 09:00:00.123456', batch_scheduled: '2024-05-01 22:00:00', batch_started: '2024-05-01 22:00:01',
    batch_responsebody: null, batch_subject: null, batch_filename: null, batch_fromemail: null, batch_reschedinterval: 'N',
    batch_cc: null, batch_bcc: null, batch_replyto: null, batch_emailhtml: false, batch_recurring_batch_id: null,
    batch_priority: 0, batch_attempts: 1, batch_max_attempts: null, batch_timeout_seconds: null, params: [],
    ...over,
  };
}

const done = { kind: 'done' as const, message: null, result: { function: 'public.runmrp', result: 12 } };
const failed = { kind: 'failed' as const, message: 'function public.runmrp failed: item site 5 has no periods', result: null };

describe('the "done" or "failed" notice of an action job', () => {
  it('tells the submitter the job is done, with the action, the job and its times', () => {
    const m = noticeFor(job(), { ...done, completed: '2024-05-01 22:03:10.5' }, 'erp@example.com')!;
    expect(m.subject).toBe('xTuple Connect: RunMRP (job 42) done');
    expect(m.from).toBe('erp@example.com');
    expect(m.to).toEqual(['planner@example.com']);
    expect(m.headers).toEqual({ 'X-xtconnect-Batch-Id': '42', 'Auto-Submitted': 'auto-generated' });
    const text = String(m.text);
    expect(text).toContain('The xTuple Connect job 42 (RunMRP) has finished.');
    expect(text).toContain('Job:        42');
    expect(text).toContain('Submitter:  admin');
    expect(text).toContain('Submitted:  2024-05-01 09:00:00\n');
    expect(text).toContain('Scheduled:  2024-05-01 22:00:00\n');
    expect(text).toContain('Started:    2024-05-01 22:00:01\n');
    expect(text).toContain('Finished:   2024-05-01 22:03:10\n');
    expect(text).toContain('"result": 12');
    expect(text).not.toContain('Reason');
  });

  it('tells the submitter the job failed, and why', () => {
    const m = noticeFor(job({ batch_attempts: 3, batch_fromemail: 'Planning <plan@example.com>' }), failed, 'erp@example.com')!;
    expect(m.subject).toBe('xTuple Connect: RunMRP (job 42) failed');
    expect(m.from).toBe('"Planning" <plan@example.com>');
    const text = String(m.text);
    expect(text).toContain('has failed.');
    expect(text).toContain('Reason:\nfunction public.runmrp failed: item site 5 has no periods\n');
    expect(text).toContain('Attempts:   3');
    expect(text).not.toContain('Finished:');
    expect(text).not.toContain('Result:');
  });

  it('goes to every address in batch_email, and says "(no message)" for a failure without one', () => {
    const m = noticeFor(job({ batch_email: 'a@example.com; Bob <b@example.com>' }), { ...failed, message: null }, 'erp@example.com')!;
    expect(m.to).toEqual(['a@example.com', '"Bob" <b@example.com>']);
    expect(String(m.text)).toContain('Reason:\n(no message)');
  });

  it('cuts a long result short', () => {
    const m = noticeFor(job(), { ...done, result: 'x'.repeat(5000) }, 'erp@example.com')!;
    expect(String(m.text)).toContain('… (3000 more characters in the job\'s batch_result)');
    expect(String(m.text).length).toBeLessThan(2600);
  });

  it('is not sent for mail actions, without batch_email, without a sender, or to an address that is no address', () => {
    expect(noticeFor(job({ batch_action: 'Email' }), done, 'erp@example.com')).toBeNull();
    expect(noticeFor(job({ batch_action: 'RunReport' }), failed, 'erp@example.com')).toBeNull();
    expect(noticeFor(job({ batch_email: null }), done, 'erp@example.com')).toBeNull();
    expect(noticeFor(job({ batch_email: '   ' }), failed, 'erp@example.com')).toBeNull();
    expect(noticeFor(job(), done, null)).toBeNull();
    // A notice due but impossible is said in the log (src/daemon/notices.ts); none due says nothing.
    expect(whyNoNotice(job(), null)).toMatch(/^no sender: set DefaultBatchFromEmailAddress/);
    expect(whyNoNotice(job({ batch_email: 'not an address' }), 'erp@example.com')).toBe('batch_email or batch_fromemail is not a valid address');
    expect(whyNoNotice(job({ batch_action: 'Email' }), null)).toBeNull();
    expect(whyNoNotice(job({ batch_email: null }), null)).toBeNull();
    expect(noticeFor(job({ batch_fromemail: ' ' }), done, '')).toBeNull();
    expect(noticeFor(job({ batch_email: 'not an address' }), done, 'erp@example.com')).toBeNull();
  });

  it('uses the job\'s own sender before the default', () => {
    expect(noticeFor(job({ batch_fromemail: 'me@example.com' }), done, 'erp@example.com')!.from).toBe('me@example.com');
    expect(noticeFor(job({ batch_fromemail: null }), done, 'erp@example.com')!.from).toBe('erp@example.com');
  });
});
