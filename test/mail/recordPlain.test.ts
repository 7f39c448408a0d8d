/**
 * Recording sent mail on a database without xTuple's contact tables: one statement writes eml (status O) and its
 * addresses (src/sync/recordSent.ts), from what the message was composed from. The stored message is the raw one
 * sent (the console's sent-mail view parses it), a second record of the same bytes is none, and a message naming
 * a document goes through xtbatch.emlsync_import as before.
 */
import { createMailer, type Mailer } from '../../src/mail/transport';
import { recordSent, sentRecorder } from '../../src/sync/recordSent';
import { crmCatalog } from '../../src/sync/crmCatalog';
import { captureLogger, smtpSection } from '../handlers/helpers';
import { databaseSuite } from '../support/suite';
import { startSmtp, type TestSmtp } from '../support/smtp';
import { tempDir } from '../support/tempDirs';
import { addressesOf, emlBySubject, emlRows, plain, RESET_SQL } from '../sync/helpers';

const suite = databaseSuite(RESET_SQL);
let smtp: TestSmtp;
const mailers: Mailer[] = [];

beforeEach(async () => {
  smtp = await startSmtp();
  suite.servers.push(smtp);
});
afterEach(() => {
  for (const m of mailers.splice(0)) m.close();
});

function mailer(): Mailer {
  const m = createMailer({ smtp: smtpSection(smtp.port), outboxDir: tempDir('xtc-record-plain-') }, { onSent: sentRecorder(suite.db.pool, captureLogger().log) });
  mailers.push(m);
  return m;
}

describe('sent mail recorded on a database without contact tables', () => {
  it('has no contact tables (the one-statement path is the one tested here)', async () => {
    expect((await crmCatalog(suite.db.pool)).contacts).toBeNull();
  });

  it('one eml row, status O, the raw bytes the server received, every address with Bcc from the envelope, in order', async () => {
    const info = await mailer().send({
      from: '"ERP, Inc." <erp@ourco.example>', to: ['"Jürgen Groß" <jg@customer.example>', 'b@customer.example'], cc: ['c@customer.example'],
      bcc: ['audit@ourco.example'], subject: 'Invoice 4711', text: 'Dear customer,\r\nthanks. Grüße', headers: { 'X-xtconnect-Batch-Id': '31' },
    }, 'batch-31');
    const [received] = await smtp.waitForMessages(1);
    const row = await emlBySubject(suite.db, 'Invoice 4711');
    expect(row.eml_status).toBe('O');
    expect(row.eml_body).toBe('Dear customer,\nthanks. Grüße');
    expect(received!.raw.toString('latin1').trimEnd()).toBe(row.eml_msg.toString('latin1').trimEnd());
    expect(row.eml_msg.toString('latin1')).toContain(`Message-ID: ${info.messageId}`);
    expect(row.eml_msg.toString('latin1')).not.toMatch(/^Bcc:/im);
    // The Date header, as the row's date.
    const header = /^Date: (.+)$/m.exec(row.eml_msg.toString('latin1'))![1]!;
    expect(new Date(row.eml_date).getTime()).toBe(new Date(header).getTime());
    expect(await addressesOf(suite.db, row.eml_id)).toEqual([
      'FROM erp@ourco.example (ERP, Inc.)', 'TO jg@customer.example (Jürgen Groß)', 'TO b@customer.example', 'CC c@customer.example', 'BCC audit@ourco.example',
    ]);
  });

  it('the same bytes recorded again make no second row; a message naming a document is recorded by emlsync_import', async () => {
    await mailer().send({ from: 'erp@ourco.example', to: 'a@customer.example', subject: 'once', text: 'x' }, 'batch-32');
    const row = await emlBySubject(suite.db, 'once');
    expect(await recordSent(suite.db.pool, row.eml_msg, { from: 'erp@ourco.example', to: ['a@customer.example'] })).toBeNull();
    await mailer().send({ from: 'erp@ourco.example', to: 'a@customer.example', subject: 'Order [xtref:S-1]', text: 'y' }, 'batch-33');
    const ref = await emlBySubject(suite.db, 'Order [xtref:S-1]');
    expect(ref.eml_status).toBe('O');
    expect(await addressesOf(suite.db, ref.eml_id)).toEqual(['FROM erp@ourco.example', 'TO a@customer.example']);
    expect(await emlRows(suite.db)).toHaveLength(2);
  });

  it('messages recorded at the same time share statements, each with its own row and addresses; the same bytes twice make one row', async () => {
    const spy = jest.spyOn(suite.db.pool, 'query');
    try {
      const raws = Array.from({ length: 12 }, (_, i) => plain({ subject: `batch ${i}`, to: `"R ${i}" <r${i}@customer.example>`, cc: `c${i}@customer.example` }));
      const twice = raws[3]!;
      const ids = await Promise.all([...raws, twice].map((raw, i) => recordSent(suite.db.pool, raw, { from: 'alice@customer.example', to: [`r${i % 12}@customer.example`, `c${i % 12}@customer.example`] })));
      const statements = spy.mock.calls.filter(([q]) => (q as { name?: string }).name === 'xtconnect-record-sent').length;
      // The first goes alone, the rest come while it is in flight: at most a few statements for 13 records.
      expect(statements).toBeGreaterThanOrEqual(2);
      expect(statements).toBeLessThan(6);
      expect(ids.filter((id) => id === null)).toHaveLength(1);
      expect(new Set(ids.filter((id) => id !== null)).size).toBe(12);
      expect(await emlRows(suite.db)).toHaveLength(12);
      for (let i = 0; i < 12; i++) {
        const row = await emlBySubject(suite.db, `batch ${i}`);
        expect(row.eml_id).toBe(ids[i]);
        // The messages travel one after the other in one parameter: each row holds exactly its own bytes.
        expect(row.eml_msg.equals(raws[i]!)).toBe(true);
        expect(await addressesOf(suite.db, row.eml_id)).toEqual([`FROM alice@customer.example (Alice Buyer)`, `TO r${i}@customer.example (R ${i})`, `CC c${i}@customer.example`]);
      }
    } finally {
      spy.mockRestore();
    }
  });
});
