/**
 * What an Email job row may hold: malformed rows fail alone with a message naming the job and the field,
 * attachments come from batch_filename, and with no SMTP server configured mail goes to the outbox folder.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { simpleParser } from 'mailparser';
import type { TestDatabase } from '../support/db';
import { databaseSuite } from '../support/suite';
import { startDaemon, type RunningDaemon } from '../support/daemon';
import { startSmtp, type TestSmtp } from '../support/smtp';
import { addressesOf, allFinished, configMaker, finished, insertJob, messagesFor, smtpSection, type EmailFields, type Queryable } from './helpers';

const { config, cleanup } = configMaker();
const suite = databaseSuite(`TRUNCATE xtbatch.batch, xtbatch.batchparam, xtbatch.daemon CASCADE; SELECT xtbatch.setsetting('DefaultBatchFromEmailAddress', '')`);
const daemons = suite.daemons;
const servers = suite.servers;
let db: TestDatabase;
beforeAll(() => {
  db = suite.db;
});
const tmpDirs: string[] = [];
afterAll(() => {
  cleanup();
  for (const d of tmpDirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

async function smtpAndDaemon(): Promise<{ smtp: TestSmtp; d: RunningDaemon; cfg: ReturnType<typeof config> }> {
  const smtp = await startSmtp();
  servers.push(smtp);
  const cfg = config(db.url, { smtp: smtpSection(smtp.port) });
  const d = await startDaemon(cfg);
  daemons.push(d);
  return { smtp, d, cfg };
}

/** Runs `fn` in one transaction, so every row it inserts becomes visible to the daemons at the same moment. */
async function inTransaction<T>(fn: (c: Queryable) => Promise<T>): Promise<T> {
  const c = await db.pool.connect();
  try {
    await c.query('BEGIN');
    const out = await fn(c);
    await c.query('COMMIT');
    return out;
  } catch (err) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    c.release();
  }
}

describe('malformed Email jobs', () => {
  it('each fails at once with a message naming the job and the field, while good jobs in the same batch are delivered', async () => {
    const { smtp, cfg } = await smtpAndDaemon();
    const bad: Array<{ fields: EmailFields; param?: [string, string, string]; notice?: boolean; expect: (id: number) => string | RegExp }> = [
      { fields: { batch_email: null }, expect: (id) => `job ${id}: batch_email is empty: an Email job needs at least one recipient` },
      { fields: { batch_email: '  ' }, expect: (id) => `job ${id}: batch_email is empty: an Email job needs at least one recipient` },
      { fields: { batch_email: 'not-an-address' }, expect: (id) => `job ${id}: batch_email holds "not-an-address", which is not a valid email address` },
      { fields: { batch_email: 'ok@example.com, a@' }, expect: (id) => `job ${id}: batch_email holds "a@", which is not a valid email address` },
      { fields: { batch_email: 'ok@example.com', batch_cc: 'carol@example.net; bob at example.org' }, expect: (id) => `job ${id}: batch_cc holds "bob at example.org", which is not a valid email address` },
      { fields: { batch_email: 'ok@example.com', batch_bcc: 'audit@' }, expect: (id) => `job ${id}: batch_bcc holds "audit@", which is not a valid email address` },
      { fields: { batch_email: 'ok@example.com', batch_replyto: 'undisclosed-recipients:;' }, expect: (id) => `job ${id}: batch_replyto holds "undisclosed-recipients:;", which has no email address in it` },
      { fields: { batch_email: 'ok@example.com', batch_fromemail: null }, expect: (id) => new RegExp(`^job ${id}: batch_fromemail is empty and DefaultBatchFromEmailAddress is not set`) },
      { fields: { batch_email: 'ok@example.com', batch_fromemail: 'sales@' }, expect: (id) => `job ${id}: batch_fromemail holds "sales@", which is not a valid email address` },
      { fields: { batch_email: 'ok@example.com' }, param: ['copies', 'abc', 'int'], expect: (id) => `job ${id}: parameter "copies" has type int but its value "abc" is not a whole number` },
      // Not an Email job: its batch_email is the submitter, who gets xTuple's "failed" notice.
      { fields: { batch_email: 'ok@example.com', batch_action: 'FrobnicateWidgets' }, notice: true, expect: () => /^no handler for action "FrobnicateWidgets" in this xtconnect \(it handles: (.*, )?Email(, .*)?\)$/ },
      { fields: { batch_email: 'ok@example.com', batch_filename: 'IN60096.pdf' }, expect: (id) => `job ${id}: batch_filename names "IN60096.pdf" but there is no such file (looked in ${path.join(cfg.spoolDir, String(id), 'IN60096.pdf')}, ${path.join(cfg.spoolDir, 'IN60096.pdf')})` },
      { fields: { batch_email: 'ok@example.com', batch_filename: '/nonexistent/xtconnect/IN1.pdf' }, expect: (id) => `job ${id}: batch_filename names "/nonexistent/xtconnect/IN1.pdf" but there is no such file (looked in /nonexistent/xtconnect/IN1.pdf)` },
    ];
    const { goodIds, badIds } = await inTransaction(async (c) => {
      const goodIds: number[] = [];
      const badIds: number[] = [];
      goodIds.push(await insertJob(c, { batch_email: 'good1@example.com', batch_subject: 'good 1' }));
      for (const b of bad) {
        const id = await insertJob(c, b.fields);
        if (b.param) {
          await c.query(
            `INSERT INTO xtbatch.batchparam (batchparam_batch_id, batchparam_order, batchparam_name, batchparam_value, batchparam_type)
             VALUES ($1, 1, $2, $3, $4)`, [id, ...b.param]);
        }
        badIds.push(id);
      }
      goodIds.push(await insertJob(c, { batch_email: 'good2@example.com', batch_cc: 'good3@example.com', batch_subject: 'good 2' }));
      return { goodIds, badIds };
    });

    const goodRows = await allFinished(db, goodIds);
    const badRows = await allFinished(db, badIds);
    const notices = bad.filter((b) => b.notice).length;
    await smtp.waitForMessages(goodIds.length + notices);
    for (const r of goodRows) {
      expect(r.batch_exitstatus).toBe('');
      expect(messagesFor(smtp, r.batch_id)).toHaveLength(1);
    }
    expect(addressesOf(messagesFor(smtp, goodIds[1]!)[0]!.parsed.cc)).toEqual(['good3@example.com']);
    badRows.forEach((r, i) => {
      const want = bad[i]!.expect(r.batch_id);
      if (typeof want === 'string') expect(r.batch_exitstatus).toBe(want);
      else expect(r.batch_exitstatus).toMatch(want);
      expect(r.batch_attempts).toBe(1);
      const got = messagesFor(smtp, r.batch_id);
      if (bad[i]!.notice) {
        expect(got.map((m) => m.parsed.subject)).toEqual([`xTuple Connect: FrobnicateWidgets (job ${r.batch_id}) failed`]);
      } else {
        expect(got).toHaveLength(0);
      }
    });
    expect(smtp.messages).toHaveLength(goodIds.length + notices);
  });
});

describe('attachments', () => {
  function binary(n: number): Buffer {
    return crypto.randomBytes(n);
  }

  it('attaches a file named by an absolute path', async () => {
    const { smtp } = await smtpAndDaemon();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xtconnect-attach-'));
    tmpDirs.push(dir);
    const file = path.join(dir, 'IN60096.pdf');
    const content = binary(20_000);
    fs.writeFileSync(file, content);
    const { rows } = await db.pool.query<{ id: number }>(
      `SELECT xtbatch.submitEmailToBatch('billing@example.com', 'cust@example.com', '', 'Invoice 60096', 'attached', $1, NULL::timestamp, false) AS id`, [file]);
    const id = rows[0]!.id;
    const row = await finished(db, id);
    expect(row.batch_exitstatus).toBe('');
    expect(row.batch_result?.attachment).toBe('IN60096.pdf');
    const m = messagesFor(smtp, id)[0]!;
    expect(m.parsed.attachments.map((a) => a.filename)).toEqual(['IN60096.pdf']);
    expect(m.parsed.attachments[0]!.contentType).toBe('application/pdf');
    expect(Buffer.compare(m.parsed.attachments[0]!.content, content)).toBe(0);
    expect(m.parsed.text?.trim()).toBe('attached');
  });

  it('finds a relative name in <spoolDir>/<batch_id>/, and also directly in the spool folder', async () => {
    const { smtp, cfg } = await smtpAndDaemon();
    const inJobDir = binary(5000);
    const inSpool = Buffer.from('statement,total\n1001,42.00\n');
    const [a, b] = await inTransaction(async (c) => {
      const a = await insertJob(c, { batch_email: 'cust@example.com', batch_filename: 'IN60097.pdf' });
      fs.mkdirSync(path.join(cfg.spoolDir, String(a)), { recursive: true });
      fs.writeFileSync(path.join(cfg.spoolDir, String(a), 'IN60097.pdf'), inJobDir);
      const b = await insertJob(c, { batch_email: 'cust@example.com', batch_filename: 'statement.csv' });
      fs.writeFileSync(path.join(cfg.spoolDir, 'statement.csv'), inSpool);
      return [a, b];
    });
    const rows = await allFinished(db, [a, b]);
    expect(rows.map((r) => r.batch_exitstatus)).toEqual(['', '']);
    const ma = messagesFor(smtp, a)[0]!;
    expect(ma.parsed.attachments.map((x) => x.filename)).toEqual(['IN60097.pdf']);
    expect(Buffer.compare(ma.parsed.attachments[0]!.content, inJobDir)).toBe(0);
    const mb = messagesFor(smtp, b)[0]!;
    expect(mb.parsed.attachments.map((x) => x.filename)).toEqual(['statement.csv']);
    expect(mb.parsed.attachments[0]!.content.toString()).toBe(inSpool.toString());
  });

  it('refuses a batch_filename with ".." even when the file it points at exists', async () => {
    const { smtp, cfg } = await smtpAndDaemon();
    // A real file just outside the spool folder: a name climbing to it must not reach it.
    fs.mkdirSync(cfg.spoolDir, { recursive: true });
    fs.writeFileSync(path.join(cfg.dataDir, 'secret.txt'), 'not for mailing');
    const names = ['../secret.txt', 'reports/../../secret.txt', '..\\secret.txt'];
    const ids = await inTransaction(async (c) => {
      const out: number[] = [];
      for (const n of names) out.push(await insertJob(c, { batch_email: 'cust@example.com', batch_filename: n }));
      return out;
    });
    const rows = await allFinished(db, ids);
    rows.forEach((r, i) => {
      expect(r.batch_exitstatus).toBe(`job ${r.batch_id}: batch_filename "${names[i]}" may not contain "..": name a file in the spool folder or give an absolute path`);
      expect(r.batch_attempts).toBe(1);
    });
    expect(smtp.messages).toHaveLength(0);
  });
});

describe('outbox mode (no SMTP server configured)', () => {
  it('writes each message as <outboxDir>/batch-<id>.eml, a complete message, leaving no temporary file', async () => {
    const cfg = config(db.url);
    expect(cfg.smtp).toBeNull();
    daemons.push(await startDaemon(cfg));
    const html = '<p>Your <i>order</i> shipped</p>';
    const ids: number[] = [];
    for (let i = 0; i < 3; i++) {
      const { rows } = await db.pool.query<{ id: number }>(
        `SELECT xtbatch.submitEmailToBatch('Shipping <ship@example.com>', $1, 'cc@example.com', $2, $3, '', NULL::timestamp, true, 'reply@example.com', 'bcc@example.com') AS id`,
        [`cust${i}@example.com`, `Order ${i} shipped`, html]);
      ids.push(rows[0]!.id);
    }
    const rows = await allFinished(db, ids);
    expect(fs.readdirSync(cfg.outboxDir).sort()).toEqual(ids.map((id) => `batch-${id}.eml`).sort());
    for (const [i, id] of ids.entries()) {
      const row = rows[i]!;
      const file = path.join(cfg.outboxDir, `batch-${id}.eml`);
      expect(row.batch_exitstatus).toBe('');
      expect(row.batch_result?.deliveredTo).toBe(file);
      const parsed = await simpleParser(fs.readFileSync(file));
      expect(parsed.messageId).toBe(row.batch_result?.messageId);
      expect(parsed.headers.get('x-xtconnect-batch-id')).toBe(String(id));
      expect(parsed.from?.value).toEqual([{ address: 'ship@example.com', name: 'Shipping' }]);
      expect(addressesOf(parsed.to)).toEqual([`cust${i}@example.com`]);
      expect(addressesOf(parsed.cc)).toEqual(['cc@example.com']);
      expect(parsed.replyTo?.value[0]?.address).toBe('reply@example.com');
      expect(parsed.subject).toBe(`Order ${i} shipped`);
      expect(parsed.html).toContain('<p>Your <i>order</i> shipped</p>');
      expect([...(row.batch_result?.accepted ?? [])].sort()).toEqual(['bcc@example.com', 'cc@example.com', `cust${i}@example.com`]);
    }
  });
});
