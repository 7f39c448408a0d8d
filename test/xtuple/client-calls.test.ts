/**
 * Every call of ../shared/xtuple-client-calls.md §8, made the way xTuple's desktop client and database make it, in an
 * ERP session (login()'s search_path, standard_conforming_strings off) on xTuple's real 4.4 schema after migrate:
 * untyped NULLs and '' literals, CURRENT_TIMESTAMP / now() / bound Qt datetimes (timestamptz), unqualified names
 * through the search_path, result columns read by the names callers read.
 */
import type pg from 'pg';
import { claimDue } from '../../src/db/queries/batch';
import type { TestDatabase } from '../support/db';
import { createXtupleDatabase, erpSession } from '../support/xtupleDb';

let db: TestDatabase;
let s: pg.Client;
beforeAll(async () => {
  db = await createXtupleDatabase({ data: true, migrated: true });
  s = await erpSession(db.url);
  await s.query(`SELECT setMetric('EnableBatchManager', 't')`);
}, 180_000);
afterAll(async () => {
  await s?.end();
  await db?.drop();
});

interface Job {
  batch_id: number;
  batch_action: string;
  batch_parameter: string | null;
  batch_user: string;
  batch_fromemail: string | null;
  batch_email: string | null;
  batch_cc: string | null;
  batch_bcc: string | null;
  batch_replyto: string | null;
  batch_subject: string | null;
  batch_responsebody: string | null;
  batch_filename: string | null;
  batch_emailhtml: boolean;
  scheduled: string;
  due_now: boolean;
  settles: boolean;
}

async function job(id: number): Promise<Job> {
  const { rows } = await db.pool.query<Job>(
    `SELECT batch_id, batch_action, batch_parameter, batch_user, batch_fromemail, batch_email, batch_cc, batch_bcc,
            batch_replyto, batch_subject, batch_responsebody, batch_filename, batch_emailhtml,
            to_char(batch_scheduled, 'YYYY-MM-DD HH24:MI:SS') AS scheduled,
            batch_scheduled <= localtimestamp AS due_now, batch_settle_until IS NOT NULL AS settles
       FROM xtbatch.batch WHERE batch_id = $1`, [id]);
  return rows[0]!;
}

describe('overloads as the catalog holds them', () => {
  it('has exactly one function per name and argument count, each taking timestamptz', async () => {
    const { rows } = await db.pool.query(`
      SELECT proname, pronargs, count(*)::int AS n, string_agg(pg_get_function_identity_arguments(oid), ' | ') AS args
        FROM pg_proc WHERE pronamespace = 'xtbatch'::regnamespace
         AND proname IN ('submitemailtobatch', 'submitreporttobatch', 'submitactiontobatch', 'cancelbatchitem', 'reschedulebatchitem')
       GROUP BY 1, 2 ORDER BY 1, 2`);
    expect(rows.map((r) => [r.proname, r.pronargs, r.n])).toEqual([
      ['cancelbatchitem', 1, 1],
      ['reschedulebatchitem', 2, 1],
      ['submitactiontobatch', 3, 1],
      ['submitemailtobatch', 8, 1],
      ['submitemailtobatch', 10, 1],
      ['submitreporttobatch', 6, 1],
      ['submitreporttobatch', 7, 1],
      ['submitreporttobatch', 8, 1],
      ['submitreporttobatch', 9, 1],
    ]);
    for (const r of rows.filter((x) => x.proname !== 'cancelbatchitem')) expect(r.args).toMatch(/timestamp with time zone/);
  });
});

describe('submitEmailToBatch', () => {
  it('hasAlarms()\'s 10-argument call with untyped NULLs, qualified, unqualified and in any letter case; column submitemailtobatch', async () => {
    const calls = [
      `SELECT xtbatch.submitEmailToBatch('erp@example.com', 'bob@example.com', '', 'To-Do: Call', 'Alarm reminder for To-Do Item.', NULL, CURRENT_TIMESTAMP, FALSE, NULL, NULL)`,
      `SELECT submitEmailToBatch('erp@example.com', 'bob@example.com', '', 'To-Do: Call', 'Alarm reminder for To-Do Item.', NULL, CURRENT_TIMESTAMP, FALSE, NULL, NULL)`,
      `SELECT xtbatch.submitemailtobatch('erp@example.com', 'bob@example.com', '', 'To-Do: Call', 'Alarm reminder for To-Do Item.', NULL, CURRENT_TIMESTAMP, FALSE, NULL, NULL)`,
      `SELECT XTBATCH.SUBMITEMAILTOBATCH('erp@example.com', 'bob@example.com', '', 'To-Do: Call', 'Alarm reminder for To-Do Item.', NULL, CURRENT_TIMESTAMP, FALSE, NULL, NULL)`,
    ];
    for (const sql of calls) {
      const r = await s.query(sql);
      expect(r.fields.map((f) => f.name)).toEqual(['submitemailtobatch']);
      const j = await job(r.rows[0].submitemailtobatch);
      expect(j).toMatchObject({ batch_action: 'Email', batch_fromemail: 'erp@example.com', batch_email: 'bob@example.com', batch_cc: '',
        batch_subject: 'To-Do: Call', batch_responsebody: 'Alarm reminder for To-Do Item.', batch_filename: null, batch_emailhtml: false,
        batch_replyto: null, batch_bcc: null, due_now: true, settles: false });
    }
  });

  it('a PL/pgSQL caller assigns the result to an integer, as hasAlarms() does', async () => {
    const r = await s.query(`DO $$ DECLARE _batchId INTEGER; BEGIN
        _batchId := xtbatch.submitEmailToBatch(NULL, 'bob@example.com', '', 's', 'b', NULL, CURRENT_TIMESTAMP, FALSE, NULL, NULL);
        IF _batchId IS NULL OR _batchId < 1 THEN RAISE EXCEPTION 'no id'; END IF; END $$`);
    expect(r.command).toBe('DO');
  });

  it('plv8 sendediprofileemail: bound parameters, CURRENT_TIMESTAMP, result read as [0].submitemailtobatch', async () => {
    const r = await s.query(`SELECT xtbatch.submitEmailToBatch($1, $2, $3, $4, $5, $6, CURRENT_TIMESTAMP, $7, $8, $9)`,
      ['erp@example.com', 'ap@acme.example', '', 'Invoice 60096', 'Attached', 'IN60096.pdf', true, 'reply@example.com', 'audit@example.com']);
    const j = await job(r.rows[0].submitemailtobatch);
    expect(j).toMatchObject({ batch_filename: 'IN60096.pdf', batch_emailhtml: true, batch_replyto: 'reply@example.com', batch_bcc: 'audit@example.com' });
  });

  it('the 8-argument form (purchase approvals, old deliverEmail): NULL cc and filename, now(), false', async () => {
    const a = await s.query(`SELECT xtbatch.submitEmailtoBatch('buyer@example.com', 'buyer@example.com', null, 'PO approval', 'Please approve', null, now(), false)`);
    expect(await job(a.rows[0].submitemailtobatch)).toMatchObject({ batch_cc: null, batch_filename: null, batch_subject: 'PO approval' });
    // deliverEmail: unqualified, :fileName never bound (NULL), read AS batch_id.
    const b = await s.query(`SELECT submitEmailToBatch($1, $2, $3, $4, $5, $6, CURRENT_TIMESTAMP, $7) AS batch_id`,
      ['me@example.com', 'you@example.com', 'cc@example.com', 'Hi', 'Body', null, false]);
    expect(await job(b.rows[0].batch_id)).toMatchObject({ batch_cc: 'cc@example.com', batch_subject: 'Hi' });
  });
});

describe('submitReportToBatch', () => {
  it('the client\'s "Schedule Report" ASAP call: 7 arguments, subject \'\', body 5th, filename \'\', read AS batch_id', async () => {
    const r = await s.query(`SELECT submitReportToBatch($1, $2, $3, '', $4, '', CURRENT_TIMESTAMP) AS batch_id`,
      ['TimePhasedOpenAPItems', 'me@example.com', 'boss@example.com', 'Here is the aging.']);
    expect(r.fields.map((f) => f.name)).toEqual(['batch_id']);
    expect(await job(r.rows[0].batch_id)).toMatchObject({
      batch_action: 'RunReport', batch_parameter: 'TimePhasedOpenAPItems', batch_fromemail: 'me@example.com',
      batch_email: 'boss@example.com', batch_cc: null, batch_subject: 'TimePhasedOpenAPItems',
      batch_responsebody: 'Here is the aging.', batch_filename: 'TimePhasedOpenAPItems.pdf', due_now: true, settles: true,
    });
  });

  it('the "Scheduled" variant runs at the chosen local time, not at once (a bound QDateTime without offset)', async () => {
    const r = await s.query(`SELECT submitReportToBatch($1, $2, $3, '', $4, '', $5) AS batch_id`,
      ['APAging', 'me@example.com', 'boss@example.com', 'Later.', '2031-05-06T07:08:09']);
    const j = await job(r.rows[0].batch_id);
    expect(j).toMatchObject({ scheduled: '2031-05-06 07:08:09', due_now: false, batch_responsebody: 'Later.', batch_subject: 'APAging' });
    const claimed = await claimDue(db.pool, 'test', 100, 60, [], []);
    expect(claimed.map((c) => c.batch_id)).not.toContain(j.batch_id);
  });

  it('the 9-argument deliver* and old hasAlarms form, the 8-argument form and the 6-argument OpenMFG form', async () => {
    const nine = await s.query(`SELECT submitReportToBatch('TodoItem', 'f@example.com', 'r@example.com', '', 'Call ACME', 'Alarm reminder for To-Do Item.  Please see attached for details.', 'TODOALARM', CURRENT_TIMESTAMP, FALSE) AS batch_id`);
    expect(await job(nine.rows[0].batch_id)).toMatchObject({ batch_parameter: 'TodoItem', batch_fromemail: 'f@example.com', batch_email: 'r@example.com',
      batch_subject: 'Call ACME', batch_filename: 'TODOALARM', batch_emailhtml: false });
    const bound = await s.query(`SELECT submitReportToBatch(:reportname, :fromEmail, :emailAddress, :ccAddress, :subject, :emailBody, :fileName, CURRENT_TIMESTAMP, :emailHTML) AS batch_id`
      .replace(/:[a-zA-Z]+/g, (() => { let i = 0; return () => `$${++i}`; })()),
    ['Invoice', 'ar@example.com', 'ap@acme.example', 'cc@acme.example', 'Invc 60096', 'Attached', 'Invc60096.pdf', true]);
    expect(await job(bound.rows[0].batch_id)).toMatchObject({ batch_cc: 'cc@acme.example', batch_emailhtml: true, batch_filename: 'Invc60096.pdf' });
    const eight = await s.query(`SELECT xtbatch.submitReportToBatch('PurchaseOrder', 'a@example.com', 'v@example.com', NULL, 'PO', 'Body', 'PO.pdf', now()) AS batch_id`);
    expect(await job(eight.rows[0].batch_id)).toMatchObject({ batch_parameter: 'PurchaseOrder', batch_cc: null, batch_filename: 'PO.pdf' });
    const six = await s.query(`SELECT submitReportToBatch('UOMs', 'to@example.com', 'Units', 'Body', '', CURRENT_TIMESTAMP) AS batch_id`);
    expect(await job(six.rows[0].batch_id)).toMatchObject({ batch_fromemail: null, batch_email: 'to@example.com', batch_subject: 'Units', batch_filename: 'UOMs.pdf' });
  });

  it('batchparam rows as the callers insert them: unqualified and qualified, with and without a type, ints, NULL flags, gaps', async () => {
    const r = await s.query(`SELECT submitReportToBatch('Invoice', 'a@example.com', 'b@example.com', '', 'x', '', CURRENT_TIMESTAMP) AS batch_id`);
    const id = r.rows[0].batch_id as number;
    await s.query(`INSERT INTO batchparam (batchparam_batch_id, batchparam_order, batchparam_name, batchparam_type, batchparam_value) VALUES ($1, 1, 'report_name', 'QString', 'Invoice')`, [id]);
    await s.query(`INSERT INTO batchparam (batchparam_batch_id, batchparam_order, batchparam_name, batchparam_value) VALUES ($1, 2, 'invchead_id', 60096)`, [id]);
    await s.query(`INSERT INTO xtbatch.batchparam (batchparam_batch_id, batchparam_order, batchparam_name, batchparam_type, batchparam_value) VALUES ($1, 3, 'period_id_list', 'QVariantList', '"int":"12","int":"13"')`, [id]);
    await s.query(`INSERT INTO batchparam (batchparam_batch_id, batchparam_order, batchparam_name, batchparam_type, batchparam_value) VALUES ($1, 4, 'inventoryUnits', NULL, NULL)`, [id]);
    await s.query(`INSERT INTO batchparam (batchparam_batch_id, batchparam_order, batchparam_name, batchparam_value) VALUES ($1, 6, 'title', 'Emailed Customer Copy')`, [id]);
    await s.query(`INSERT INTO xtbatch.batchparam (batchparam_batch_id, batchparam_order, batchparam_name, batchparam_value, batchparam_type) VALUES ($1, 7, 'uuid', 'x', '')`, [id]);
    const p = await db.pool.query(`SELECT batchparam_order AS o, batchparam_name AS n, batchparam_value AS v, batchparam_type AS t
                                     FROM xtbatch.batchparam WHERE batchparam_batch_id = $1 ORDER BY 1`, [id]);
    expect(p.rows).toEqual([
      { o: 1, n: 'report_name', v: 'Invoice', t: 'QString' },
      { o: 2, n: 'invchead_id', v: '60096', t: null },
      { o: 3, n: 'period_id_list', v: '"int":"12","int":"13"', t: 'QVariantList' },
      { o: 4, n: 'inventoryUnits', v: null, t: null },
      { o: 6, n: 'title', v: 'Emailed Customer Copy', t: null },
      { o: 7, n: 'uuid', v: 'x', t: '' },
    ]);
  });

  it('refuses a job while xTuple Connect is off, as the seed says, and takes it again once on', async () => {
    await s.query(`SELECT setMetric('EnableBatchManager', 'f')`);
    try {
      await expect(s.query(`SELECT submitReportToBatch('Invoice', 'a@example.com', 'b@example.com', '', 'x', '', CURRENT_TIMESTAMP) AS batch_id`))
        .rejects.toThrow(/not enabled/);
    } finally {
      await s.query(`SELECT setMetric('EnableBatchManager', 't')`);
    }
  });
});

describe('submitActionToBatch, cancelBatchItem, rescheduleBatchItem and direct inserts', () => {
  it('submitActionToBatch qualified (current client) and unqualified (2007 client), ASAP and scheduled', async () => {
    const a = await s.query(`SELECT xtbatch.submitActionToBatch($1, $2, CURRENT_TIMESTAMP) AS batch_id`, ['PostGLSeries', 'gl@example.com']);
    expect(await job(a.rows[0].batch_id)).toMatchObject({ batch_action: 'PostGLSeries', batch_email: 'gl@example.com', due_now: true, settles: true });
    await s.query(`INSERT INTO xtbatch.batchparam (batchparam_batch_id, batchparam_order, batchparam_name, batchparam_type, batchparam_value) VALUES ($1, 1, 'action_name', 'QString', 'PostGLSeries')`, [a.rows[0].batch_id]);
    await s.query(`INSERT INTO xtbatch.batchparam (batchparam_batch_id, batchparam_order, batchparam_name, batchparam_type, batchparam_value) VALUES ($1, 2, 'glseries_sequence', 'int', 42)`, [a.rows[0].batch_id]);
    const b = await s.query(`SELECT submitActionToBatch(:action, :emailAddress, :scheduled) AS batch_id`.replace(/:[a-zA-Z]+/g, (() => { let i = 0; return () => `$${++i}`; })()),
      ['CreateRecurringInvoices', 'ar@example.com', '2030-02-03T04:05:06']);
    expect(await job(b.rows[0].batch_id)).toMatchObject({ batch_action: 'CreateRecurringInvoices', scheduled: '2030-02-03 04:05:06', due_now: false });
  });

  it('cancelBatchItem(int) and rescheduleBatchItem with the row\'s own timestamp (Retry) or a timestamptz, results ignored', async () => {
    const r = await s.query(`SELECT xtbatch.submitEmailToBatch('a@example.com', 'b@example.com', '', 's', 'b', NULL, '2035-01-01 00:00', FALSE, NULL, NULL) AS id`);
    const id = r.rows[0].id as number;
    const c = await s.query(`SELECT xtbatch.cancelBatchItem(:batch_id) AS result`.replace(':batch_id', '$1'), [id]);
    expect(c.rows[0].result).toBe(1);
    const retry = await s.query(`SELECT xtbatch.rescheduleBatchItem(batch_id, batch_scheduled) AS result FROM xtbatch.batch WHERE batch_id=$1`, [id]);
    expect(retry.rows[0].result).toBe(1);
    expect(await job(id)).toMatchObject({ scheduled: '2035-01-01 00:00:00', due_now: false });
    await s.query(`SELECT xtbatch.rescheduleBatchItem($1, CURRENT_TIMESTAMP) AS result`, [id]);
    expect(await job(id)).toMatchObject({ due_now: true, settles: false });
    // The console's reschedule dialog: a direct UPDATE with a date and a time.
    await s.query(`UPDATE xtbatch.batch SET batch_scheduled = CAST($1 AS DATE) + CAST($2 AS TIME), batch_started=NULL, batch_completed=NULL,
                   batch_recurring_batch_id=NULL WHERE batch_id=$3`, ['2036-07-08', '09:10:11', id]);
    expect(await job(id)).toMatchObject({ scheduled: '2036-07-08 09:10:11' });
  });

  it('direct INSERT ... RETURNING batch_id (workflow print) and the console\'s list query', async () => {
    const w = await s.query(`INSERT INTO xtbatch.batch (batch_action, batch_parameter, batch_user, batch_submitted, batch_email, batch_scheduled)
                             VALUES ('RunReport', 'Invoice', CURRENT_USER, CURRENT_TIMESTAMP, 'a@example.com', CURRENT_TIMESTAMP) RETURNING batch_id`);
    expect(w.rows[0].batch_id).toBeGreaterThan(0);
    const list = await s.query(`SELECT batch_id, *, CASE WHEN batch_started IS NULL THEN 'Scheduled' WHEN batch_completed IS NULL THEN 'In-Process' ELSE 'Done' END AS runstatus,
                                       firstLine(batch_exitstatus) AS exitstatus, date(batch_scheduled) AS d, CAST(batch_scheduled AS TIME) AS t
                                  FROM xtbatch.batch WHERE (true) AND batch_user = CURRENT_USER ORDER BY batch_scheduled, batch_completed`);
    expect(list.rows.find((x) => x.batch_id === w.rows[0].batch_id)).toMatchObject({ runstatus: 'Scheduled' });
  });
});

describe('as an ordinary ERP user (a member of xtrole, not a superuser)', () => {
  const role = `xt_erp_${process.pid}`;
  afterAll(async () => {
    await db.pool.query(`DROP OWNED BY ${role}`).catch(() => undefined);
    await db.pool.query(`DROP ROLE IF EXISTS ${role}`).catch(() => undefined);
  });

  it('queues alarm mail, schedules a report with its parameters, lists EDI profiles and cancels its job', async () => {
    await db.pool.query(`CREATE ROLE ${role} LOGIN IN ROLE xtrole`);
    const u = new URL(db.url);
    u.username = role;
    const user = await erpSession(u.toString());
    try {
      expect((await user.query(`SELECT current_user AS u, current_setting('search_path') AS p`)).rows[0]).toEqual({ u: role, p: 'xtbatch,public,api' });
      const mail = await user.query(`SELECT xtbatch.submitEmailToBatch(NULL, 'bob@example.com', '', 's', 'b', NULL, CURRENT_TIMESTAMP, FALSE, NULL, NULL)`);
      expect(await job(mail.rows[0].submitemailtobatch)).toMatchObject({ batch_user: role, settles: false });
      const r = await user.query(`SELECT submitReportToBatch($1, $2, $3, '', $4, '', CURRENT_TIMESTAMP) AS batch_id`, ['APAging', 'me@example.com', 'boss@example.com', 'x']);
      const id = r.rows[0].batch_id as number;
      await user.query(`INSERT INTO batchparam (batchparam_batch_id, batchparam_order, batchparam_name, batchparam_type, batchparam_value) VALUES ($1, 1, 'relDate', 'QDate', '2026-12-04')`, [id]);
      expect(await job(id)).toMatchObject({ batch_user: role, settles: true });
      expect((await user.query(`SELECT ediprofile_id, ediprofile_name FROM xtbatch.ediprofile WHERE ediprofile_type='email'`)).rows).toEqual([]);
      expect((await user.query(`SELECT getEdiProfileName(1) AS n`)).rows[0].n).toBeNull();
      expect((await user.query(`SELECT xtbatch.cancelBatchItem($1) AS result`, [id])).rows[0].result).toBe(1);
      // A direct insert naming batch_scheduled NULL is due at once (sql/0037), with the rights of an ERP user.
      const n = await user.query(`INSERT INTO batch (batch_action, batch_user, batch_email, batch_scheduled) VALUES ('Email', CURRENT_USER, 'a@example.com', NULL) RETURNING batch_id`);
      expect(await job(n.rows[0].batch_id)).toMatchObject({ batch_user: role, due_now: true });
      expect((await user.query(`SELECT fetchMetricText('Application') AS a`)).rows[0].a).toBe('PostBooks');
    } finally {
      await user.end();
    }
  });
});
