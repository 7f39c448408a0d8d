import fs from 'node:fs';
import { createMailer, type Mailer } from '../../src/mail/transport';
import { recordSent, sentRecorder } from '../../src/sync/recordSent';
import { captureLogger, smtpSection } from '../handlers/helpers';
import { testConfig } from '../support/config';
import { databaseSuite } from '../support/suite';
import { startSmtp, type TestSmtp } from '../support/smtp';
import { addressesOf, contactEmails, crmFixture, emlBySubject, emlRows, linksOf, RESET_SQL } from './helpers';

const suite = databaseSuite(RESET_SQL + ' TRUNCATE public.cohead CASCADE;');
let smtp: TestSmtp;
const mailers: Mailer[] = [];

beforeAll(async () => {
  await suite.db.pool.query(crmFixture());
});
beforeEach(async () => {
  smtp = await startSmtp();
  suite.servers.push(smtp);
});
afterEach(() => {
  for (const m of mailers.splice(0)) m.close();
});

function smtpMailer(onSent: Parameters<typeof createMailer>[1]): Mailer {
  const m = createMailer({ ...testConfig(suite.db.url), smtp: smtpSection(smtp.port) }, onSent);
  mailers.push(m);
  return m;
}

describe('mail the daemon sends is recorded in xtbatch.eml', () => {
  it('through SMTP: the bytes the server received, status O, every address (Bcc from the envelope), contact and document links', async () => {
    const { rows } = await suite.db.pool.query(`INSERT INTO public.cohead (cohead_number) VALUES ('50123') RETURNING cohead_id AS id`);
    const { rows: c } = await suite.db.pool.query(
      `INSERT INTO public.cntct (cntct_number, cntct_first_name, cntct_last_name, cntct_email) VALUES ('C1', 'Ann', 'Buyer', 'ann@customer.example') RETURNING cntct_id AS id`);
    const { log } = captureLogger();
    const mailer = smtpMailer({ onSent: sentRecorder(suite.db.pool, log), log });
    const info = await mailer.send({
      from: 'ERP <erp@ourco.example>', to: ['Ann <ANN@customer.example>'], cc: ['boss@customer.example'], bcc: ['audit@ourco.example'],
      subject: 'Your order [xtref:S-50123]', text: 'Confirmed: grüße', headers: { 'X-xtconnect-Batch-Id': '7' },
    }, 'batch-7');
    const [received] = await smtp.waitForMessages(1);
    const row = await emlBySubject(suite.db, 'Your order [xtref:S-50123]');
    expect(row.eml_status).toBe('O');
    expect(row.eml_body.trim()).toBe('Confirmed: grüße');
    expect(row.eml_msg.toString('latin1')).toContain(`Message-ID: ${info.messageId}`);
    expect(received!.raw.toString('latin1').trimEnd()).toBe(row.eml_msg.toString('latin1').trimEnd());
    expect(row.eml_msg.toString('latin1')).not.toMatch(/^Bcc:/im);
    expect(await addressesOf(suite.db, row.eml_id)).toEqual([
      'FROM erp@ourco.example (ERP)', 'TO ANN@customer.example (Ann)', 'CC boss@customer.example', 'BCC audit@ourco.example',
    ]);
    expect((await linksOf(suite.db, row.eml_id)).sort()).toEqual([`S:${rows[0].id}`, `T:${c[0].id}`].sort());
    // Sending never creates contacts.
    expect(await contactEmails(suite.db)).toEqual(['ann@customer.example']);
  });

  it('a recorder that fails never fails the send; the failure is logged', async () => {
    const { log, lines } = captureLogger();
    const mailer = smtpMailer({ onSent: async () => { throw new Error('database is down'); }, log });
    const info = await mailer.send({ from: 'erp@ourco.example', to: ['x@customer.example'], subject: 's', text: 't' }, 'batch-8');
    expect(info.accepted).toEqual(['x@customer.example']);
    await smtp.waitForMessages(1);
    expect(lines.join('')).toContain(`mail ${info.messageId} was sent, but recording it failed: database is down`);
  });

  it('sentRecorder itself logs and swallows a database failure', async () => {
    const { log, lines } = captureLogger();
    const broken = { connect: async () => { throw new Error('connection refused'); }, query: async () => { throw new Error('connection refused'); } };
    const mailer = smtpMailer({ onSent: sentRecorder(broken as never, log) });
    const info = await mailer.send({ from: 'erp@ourco.example', to: ['y@customer.example'], subject: 's2', text: 't' }, 'batch-9');
    expect(lines.join('')).toContain(`mail ${info.messageId} was sent, but recording it in xtbatch.eml failed: connection refused`);
  });

  it('a failed send is not recorded', async () => {
    smtp.mode = 'reject';
    const mailer = smtpMailer({ onSent: sentRecorder(suite.db.pool, captureLogger().log) });
    await expect(mailer.send({ from: 'erp@ourco.example', to: ['z@customer.example'], subject: 'refused', text: 't' }, 'batch-10'))
      .rejects.toMatchObject({ name: 'PermanentError' });
    expect(await emlRows(suite.db)).toEqual([]);
  });

  it('through the outbox: the .eml file is what is recorded, Bcc included, and the same message twice is one row', async () => {
    const cfg = testConfig(suite.db.url);
    const mailer = createMailer(cfg, { onSent: sentRecorder(suite.db.pool, captureLogger().log) });
    const info = await mailer.send({ from: 'erp@ourco.example', to: ['a@customer.example'], bcc: ['audit@ourco.example'], subject: 'to outbox', text: 'x' }, 'batch-11');
    const row = await emlBySubject(suite.db, 'to outbox');
    expect(fs.readFileSync(info.deliveredTo).equals(row.eml_msg)).toBe(true);
    expect(await addressesOf(suite.db, row.eml_id)).toEqual(['FROM erp@ourco.example', 'TO a@customer.example', 'BCC audit@ourco.example']);
    expect(await recordSent(suite.db.pool, row.eml_msg, { from: 'erp@ourco.example', to: ['a@customer.example'] })).toBeNull();
    expect(await emlRows(suite.db)).toHaveLength(1);
  });
});
