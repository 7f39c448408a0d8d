/**
 * Email jobs as the ERP submits them: xTuple's submit functions, the settings of the "Configure xTuple Connect"
 * screen, and a real SMTP server on loopback receiving what the daemon sends.
 */
import type { TestDatabase } from '../support/db';
import { databaseSuite } from '../support/suite';
import { startDaemon, type RunningDaemon } from '../support/daemon';
import { startSmtp, type TestSmtp } from '../support/smtp';
import { waitFor } from '../support/wait';
import { addressesOf, allFinished, configMaker, finished, insertJob, jobRow, messagesFor, smtpSection } from './helpers';

const { config, cleanup } = configMaker();
const suite = databaseSuite(`TRUNCATE xtbatch.batch, xtbatch.batchparam, xtbatch.daemon CASCADE; SELECT xtbatch.setsetting('EnableBatchManager', 't'), xtbatch.setsetting('DefaultBatchFromEmailAddress', '')`);
const daemons = suite.daemons;
const servers = suite.servers;
let db: TestDatabase;
beforeAll(() => {
  db = suite.db;
});
afterAll(() => cleanup());

async function smtpAndDaemon(): Promise<{ smtp: TestSmtp; d: RunningDaemon }> {
  const smtp = await startSmtp();
  servers.push(smtp);
  const d = await startDaemon(config(db.url, { smtp: smtpSection(smtp.port) }));
  daemons.push(d);
  return { smtp, d };
}

async function currentUser(): Promise<string> {
  return (await db.pool.query<{ u: string }>('SELECT current_user AS u')).rows[0]!.u;
}

describe('ERP submission through xTuple functions', () => {
  it('submitEmailToBatch, 8-argument form: plain text mail reaches the SMTP server with its headers, and the row is done', async () => {
    const { smtp } = await smtpAndDaemon();
    const subject = 'Rechnung 60096 – Müller GmbH';
    const body = 'Dear customer,\r\nplease find your invoice below.\r\n\r\nRegards';
    const { rows } = await db.pool.query<{ id: number }>(
      `SELECT xtbatch.submitEmailToBatch($1, $2, $3, $4, $5, $6, (localtimestamp - interval '1 minute')::timestamp, $7) AS id`,
      ['"Sales Desk" <sales@example.com>', 'alice@example.com, "Smith, John" <john@example.org>', 'carol@example.net',
        subject, body, null, false],
    );
    const id = rows[0]!.id;

    const row = await finished(db, id);
    expect(row.batch_exitstatus).toBe('');
    expect(row.batch_attempts).toBe(1);
    expect(row.batch_action).toBe('Email');
    expect(row.batch_user).toBe(await currentUser());
    expect(row.batch_scheduled < row.batch_submitted!).toBe(true);

    const got = messagesFor(smtp, id);
    expect(got).toHaveLength(1);
    const m = got[0]!;
    expect(m.parsed.from?.value).toEqual([{ address: 'sales@example.com', name: 'Sales Desk' }]);
    expect(addressesOf(m.parsed.to)).toEqual(['alice@example.com', 'john@example.org']);
    expect((Array.isArray(m.parsed.to) ? m.parsed.to[0] : m.parsed.to)!.value[1]!.name).toBe('Smith, John');
    expect(addressesOf(m.parsed.cc)).toEqual(['carol@example.net']);
    expect(m.parsed.replyTo).toBeUndefined();
    expect(m.parsed.subject).toBe(subject);
    expect(m.parsed.text?.replace(/\r\n/g, '\n').trim()).toBe(body.replace(/\r\n/g, '\n'));
    expect(m.parsed.html).toBe(false);
    expect(m.parsed.headers.get('x-xtconnect-batch-id')).toBe(String(id));
    expect(m.envelope.from).toBe('sales@example.com');
    expect([...m.envelope.to].sort()).toEqual(['alice@example.com', 'carol@example.net', 'john@example.org']);
    expect(m.parsed.attachments).toHaveLength(0);

    expect(row.batch_result?.messageId).toBe(m.parsed.messageId);
    expect(row.batch_result?.deliveredTo).toBe(`smtp://127.0.0.1:${smtp.port}`);
  });

  it('submitEmailToBatch, 10-argument form: HTML body, Reply-To, and Bcc only in the envelope', async () => {
    const { smtp } = await smtpAndDaemon();
    const html = '<html><body><p>Hello <b>World</b></p></body></html>';
    const { rows } = await db.pool.query<{ id: number }>(
      `SELECT xtbatch.submitEmailToBatch($1, $2, $3, $4, $5, $6, NULL::timestamp, $7, $8, $9) AS id`,
      ['alarms@example.com', 'owner@example.com', '', 'Alarm: To-Do 42 is due', html, '', true,
        'Help Desk <helpdesk@example.com>', 'audit@example.com; archive@example.org'],
    );
    const id = rows[0]!.id;

    const row = await finished(db, id);
    expect(row.batch_exitstatus).toBe('');
    expect(row.batch_emailhtml).toBe(true);
    expect(row.batch_replyto).toBe('Help Desk <helpdesk@example.com>');
    expect(row.batch_bcc).toBe('audit@example.com; archive@example.org');

    const got = messagesFor(smtp, id);
    expect(got).toHaveLength(1);
    const m = got[0]!;
    expect(m.parsed.from?.value[0]?.address).toBe('alarms@example.com');
    expect(addressesOf(m.parsed.to)).toEqual(['owner@example.com']);
    expect(m.parsed.cc).toBeUndefined();
    expect(m.parsed.replyTo?.value).toEqual([{ address: 'helpdesk@example.com', name: 'Help Desk' }]);
    expect(m.parsed.subject).toBe('Alarm: To-Do 42 is due');
    expect(m.parsed.html).toContain('<p>Hello <b>World</b></p>');
    expect(m.raw.toString()).toMatch(/Content-Type: text\/html/i);
    expect(m.raw.toString()).not.toMatch(/Content-Type: text\/plain/i);
    // Bcc: delivered to, but never shown in the message itself.
    expect(m.parsed.bcc).toBeUndefined();
    expect(m.parsed.headers.has('bcc')).toBe(false);
    expect(m.raw.toString()).not.toContain('audit@example.com');
    expect(m.raw.toString()).not.toContain('archive@example.org');
    expect([...m.envelope.to].sort()).toEqual(['archive@example.org', 'audit@example.com', 'owner@example.com']);
    expect(m.parsed.headers.get('x-xtconnect-batch-id')).toBe(String(id));

    expect(row.batch_result?.messageId).toBe(m.parsed.messageId);
    expect([...(row.batch_result?.accepted ?? [])].sort()).toEqual(['archive@example.org', 'audit@example.com', 'owner@example.com']);
  });

  it('submitReportToBatch (6 to 9 arguments) and submitActionToBatch make the rows xTuple makes; a report with no definition fails naming it, an action with no handler names the action, and Email jobs still run', async () => {
    const user = await currentUser();
    const q = async (sql: string, values: unknown[] = []) => (await db.pool.query<{ id: number }>(sql, values)).rows[0]!.id;
    // Submitted before any daemon runs, so the rows are seen as the ERP left them.
    // 6 arguments (report, to, subject, body, filename, scheduled); 7 (report, from, to, subject, body, filename,
    // scheduled): the meanings of xTuple's callers (docs/xtuple.md).
    const r6 = await q(`SELECT xtbatch.submitReportToBatch('Invoice', 'cust@example.com', '', 'Your invoice', '', NULL) AS id`);
    const r7 = await q(`SELECT xtbatch.submitReportToBatch('Statement', 'billing@example.com', 'cust@example.com', 'Your statement', 'See attached', 'ST-1001.pdf', NULL) AS id`);
    const r8 = await q(`SELECT xtbatch.submitReportToBatch('PackingList', 'ship@example.com', 'dock@example.com', '', NULL, 'List', NULL, (localtimestamp - interval '5 minutes')::timestamp) AS id`);
    const r9 = await q(`SELECT xtbatch.submitReportToBatch('Quote', 'sales@example.com', 'prospect@example.com', '', 'Quote Q-7', '<p>Quote</p>', '', NULL::timestamp, true) AS id`);
    const action = await q(`SELECT xtbatch.submitActionToBatch('TransmitInvoice', 'notify@example.com', NULL::timestamp) AS id`);
    await db.pool.query(
      `INSERT INTO xtbatch.batchparam (batchparam_batch_id, batchparam_order, batchparam_name, batchparam_value, batchparam_type)
       VALUES ($1, 1, 'invchead_id', '60096', 'int'), ($1, 2, 'title', 'Invoice', 'QString'), ($2, 1, 'invchead_id', '60096', 'int')`,
      [r6, action],
    );
    const mail = await q(`SELECT xtbatch.submitEmailToBatch('a@example.com', 'b@example.com', '', 'still runs', 'text', '', NULL::timestamp, false) AS id`);

    const before = new Map<number, Awaited<ReturnType<typeof jobRow>>>();
    for (const id of [r6, r7, r8, r9, action]) before.set(id, await jobRow(db, id));
    for (const id of [r6, r7, r8, r9]) {
      const r = before.get(id)!;
      expect(r.batch_action).toBe('RunReport');
      expect(r.batch_user).toBe(user);
      expect(r.batch_submitted).not.toBeNull();
      expect(r.batch_started).toBeNull();
      expect(r.batch_completed).toBeNull();
    }
    const cols = (id: number) => {
      const r = before.get(id)!;
      return [r.batch_parameter, r.batch_fromemail, r.batch_email, r.batch_cc, r.batch_subject, r.batch_responsebody, r.batch_filename, r.batch_emailhtml];
    };
    expect(cols(r6)).toEqual(['Invoice', null, 'cust@example.com', null, 'Invoice', 'Your invoice', 'Invoice.pdf', false]);
    expect(cols(r7)).toEqual(['Statement', 'billing@example.com', 'cust@example.com', null, 'Your statement', 'See attached', 'ST-1001.pdf', false]);
    expect(cols(r8)).toEqual(['PackingList', 'ship@example.com', 'dock@example.com', '', 'PackingList', 'List', 'PackingList.pdf', false]);
    expect(cols(r9)).toEqual(['Quote', 'sales@example.com', 'prospect@example.com', '', 'Quote Q-7', '<p>Quote</p>', 'Quote.pdf', true]);
    expect(before.get(r8)!.batch_scheduled < before.get(r8)!.batch_submitted!).toBe(true);
    const a = before.get(action)!;
    expect([a.batch_action, a.batch_email, a.batch_user, a.batch_parameter]).toEqual(['TransmitInvoice', 'notify@example.com', user, null]);

    const { smtp } = await smtpAndDaemon();
    const rows = await allFinished(db, [r6, r7, r8, r9, action, mail]);
    for (const r of rows.slice(0, 4)) {
      // No definitions in this database: each report job fails at once, naming the report it looked for.
      expect(r.batch_exitstatus).toContain(`no report named "${r.batch_parameter}"`);
      expect(r.batch_attempts).toBe(1);
    }
    expect(rows[4]!.batch_exitstatus).toContain('no handler for action "TransmitInvoice"');
    expect(rows[4]!.batch_attempts).toBe(1);
    expect(rows[5]!.batch_exitstatus).toBe('');
    expect(messagesFor(smtp, mail)).toHaveLength(1);
    expect(smtp.messages).toHaveLength(1);
  });
});

describe('DefaultBatchFromEmailAddress', () => {
  it('is the sender when batch_fromemail is empty, and a change is used by the running daemon for the next job', async () => {
    await db.pool.query(`SELECT xtbatch.setsetting('DefaultBatchFromEmailAddress', 'Batch Manager <first@example.com>')`);
    const { smtp, d } = await smtpAndDaemon();
    expect(d.daemon.currentSettings.defaultFrom).toBe('Batch Manager <first@example.com>');

    const submit = async (from: string | null) =>
      (await db.pool.query<{ id: number }>(
        `SELECT xtbatch.submitEmailToBatch($1, 'to@example.com', '', 'hello', 'text', '', NULL::timestamp, false) AS id`, [from])).rows[0]!.id;

    const first = await submit('');
    expect((await finished(db, first)).batch_exitstatus).toBe('');
    expect(messagesFor(smtp, first)[0]?.parsed.from?.value).toEqual([{ address: 'first@example.com', name: 'Batch Manager' }]);
    expect(messagesFor(smtp, first)[0]?.envelope.from).toBe('first@example.com');

    // Changed the way the ERP's setup screen does it, while the daemon runs; the very next job uses it.
    await db.pool.query(`SELECT xtbatch.setsetting('DefaultBatchFromEmailAddress', 'second@example.com')`);
    const second = await submit(null);
    expect((await finished(db, second)).batch_exitstatus).toBe('');
    expect(messagesFor(smtp, second)[0]?.parsed.from?.value[0]?.address).toBe('second@example.com');
    expect(messagesFor(smtp, second)[0]?.envelope.from).toBe('second@example.com');

    // A job with its own sender is not affected by the default.
    const own = await submit('own@example.com');
    await finished(db, own);
    expect(messagesFor(smtp, own)[0]?.parsed.from?.value[0]?.address).toBe('own@example.com');
  });

  it('a default that is not an address fails the job naming DefaultBatchFromEmailAddress', async () => {
    await db.pool.query(`SELECT xtbatch.setsetting('DefaultBatchFromEmailAddress', 'batch-manager')`);
    const { smtp } = await smtpAndDaemon();
    const id = await insertJob(db.pool, { batch_fromemail: '', batch_email: 'to@example.com' });
    const row = await finished(db, id);
    expect(row.batch_exitstatus).toBe(`job ${id}: DefaultBatchFromEmailAddress holds "batch-manager", which is not a valid email address`);
    expect(row.batch_attempts).toBe(1);
    expect(smtp.messages).toHaveLength(0);
  });
});

describe('EnableBatchManager', () => {
  it('when off, submit functions refuse with a clear message and a running daemon claims nothing; turned on, the waiting job runs', async () => {
    const { smtp, d } = await smtpAndDaemon();
    expect(d.daemon.currentSettings.enabled).toBe(true);
    await db.pool.query(`SELECT xtbatch.setsetting('EnableBatchManager', 'f')`);
    await waitFor('the daemon to see EnableBatchManager off', () => d.daemon.currentSettings.enabled === false);

    const calls = [
      `SELECT xtbatch.submitEmailToBatch('a@example.com', 'b@example.com', '', 's', 'b', '', NULL::timestamp, false)`,
      `SELECT xtbatch.submitEmailToBatch('a@example.com', 'b@example.com', '', 's', 'b', '', NULL::timestamp, false, '', '')`,
      `SELECT xtbatch.submitReportToBatch('Invoice', 'a@example.com', 'b@example.com', '', '', NULL)`,
      `SELECT xtbatch.submitActionToBatch('TransmitInvoice', 'b@example.com', NULL::timestamp)`,
    ];
    for (const sql of calls) {
      const err = await db.pool.query(sql).then(() => null, (e: Error & { hint?: string }) => e);
      expect(err?.message).toMatch(/xTuple Connect is not enabled/);
      expect(err?.hint).toMatch(/EnableBatchManager/);
    }
    expect((await db.pool.query('SELECT count(*)::int AS n FROM xtbatch.batch')).rows[0].n).toBe(0);

    // A row written directly (not through the functions) waits while the manager is off.
    const id = await insertJob(db.pool, { batch_email: 'waiting@example.com' });
    const { rows: [{ t }] } = await db.pool.query<{ t: Date }>('SELECT now() AS t');
    // The daemon stays alive and says it is not claiming: two heartbeats (1 s apart) after the insert, during
    // which it polled every 200 ms and was woken by the insert's notification.
    await waitFor('two daemon heartbeats after the insert', async () =>
      (await db.pool.query(
        `SELECT 1 FROM xtbatch.daemon WHERE daemon_id = $1 AND NOT daemon_claiming AND daemon_heartbeat > $2::timestamptz + interval '1 second'`,
        [d.daemon.id, t])).rows[0]);
    const waiting = await jobRow(db, id);
    expect(waiting.batch_started).toBeNull();
    expect(waiting.batch_attempts).toBe(0);
    expect(d.daemon.stats.claimed).toBe(0);
    expect(smtp.messages).toHaveLength(0);

    await db.pool.query(`SELECT xtbatch.setsetting('EnableBatchManager', 't')`);
    const row = await finished(db, id);
    expect(row.batch_exitstatus).toBe('');
    expect(row.batch_attempts).toBe(1);
    expect(messagesFor(smtp, id)).toHaveLength(1);
    expect(d.daemon.currentSettings.enabled).toBe(true);
  });
});
