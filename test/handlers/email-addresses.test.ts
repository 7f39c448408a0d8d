/**
 * Address fields are ERP users' free text. A field that is not exactly a list of addresses (line breaks that would
 * add headers, group syntax, two addresses without a comma, a list where one sender belongs) fails the job naming
 * the field, and nothing is sent; a good field reaches exactly its addresses. Checked against a real SMTP server:
 * the envelope recipients it received are compared with the row.
 */
import type { TestDatabase } from '../support/db';
import { startDaemon } from '../support/daemon';
import { databaseSuite } from '../support/suite';
import { startSmtp, type TestSmtp } from '../support/smtp';
import MailComposer from 'nodemailer/lib/mail-composer';
import { formatAddressList, mailAddresses, parseAddressList } from '../../src/mail/addresses';
import { allFinished, configMaker, insertJob, messagesFor, smtpSection, type EmailFields } from './helpers';

const { config, cleanup } = configMaker();
const suite = databaseSuite(`TRUNCATE xtbatch.batch, xtbatch.batchparam, xtbatch.daemon CASCADE`);
let db: TestDatabase;
beforeAll(() => {
  db = suite.db;
});
afterAll(() => cleanup());

async function smtpAndDaemon(): Promise<TestSmtp> {
  const smtp = await startSmtp();
  suite.servers.push(smtp);
  suite.daemons.push(await startDaemon(config(db.url, { smtp: smtpSection(smtp.port) })));
  return smtp;
}

const BAD: Array<[string, EmailFields, string, RegExp]> = [
  ['CR/LF and a Bcc line in batch_email', { batch_email: 'x@example.test\r\nBcc: v@evil.test' }, 'batch_email', /holds a line break/],
  ['a bare LF in batch_cc', { batch_cc: 'c@example.test\nv@evil.test' }, 'batch_cc', /holds a line break/],
  ['CR/LF in batch_fromemail', { batch_fromemail: 'sales@example.test\r\nBcc: v@evil.test' }, 'batch_fromemail', /holds a line break/],
  ['a vertical tab in batch_replyto', { batch_replyto: 'r@example.test\u000bv@evil.test' }, 'batch_replyto', /holds a control character \(U\+000B\)/],
  ['group syntax in batch_email', { batch_email: 'team: a@example.test, v@evil.test;' }, 'batch_email', /holds group syntax \("team: \.\.\."\)/],
  ['group syntax in batch_bcc', { batch_bcc: 'audit: v@evil.test;' }, 'batch_bcc', /holds group syntax/],
  ['two addresses without a comma', { batch_email: 'a@example.test b@example.test' }, 'batch_email', /does not read as exactly 2 addresses \(it parses as a@example\.test\)/],
  ['an address after a named one without a comma', { batch_cc: 'Bob <b@example.test> c@example.test' }, 'batch_cc', /does not read as exactly 2 addresses/],
  ['an address as an unquoted display name', { batch_email: 'a@example.test <v@evil.test>' }, 'batch_email', /does not read as exactly 2 addresses/],
  ['two senders', { batch_fromemail: 'sales@example.test, v@evil.test' }, 'batch_fromemail', /holds 2 addresses \(sales@example\.test, v@evil\.test\): a message has one sender/],
];

describe('a broken address field fails the job, naming the field, and nothing is sent', () => {
  it.each(BAD)('%s', async (_what, fields, field, says) => {
    const smtp = await smtpAndDaemon();
    const id = await insertJob(db.pool, { batch_email: 'to@example.test', batch_max_attempts: 5, ...fields });
    const [row] = await allFinished(db, [id]);
    expect(row!.batch_attempts).toBe(1);
    expect(row!.batch_exitstatus).toMatch(new RegExp(`^job ${id}: ${field} `));
    expect(row!.batch_exitstatus).toMatch(says);
    expect(smtp.messages).toEqual([]);
  });
});

describe('a good field reaches exactly its addresses', () => {
  it('To, Cc, Bcc and Reply-To as written (names, quotes, comments, semicolons): the envelope holds exactly the row\'s recipients', async () => {
    const smtp = await smtpAndDaemon();
    const rows: EmailFields[] = [
      { batch_email: '"Smith, John" <John@Example.test>; alice@example.test', batch_cc: 'carol@example.test (Carol)', batch_bcc: 'audit@example.test' },
      { batch_email: '<only@example.test>', batch_replyto: '"Desk" <desk@example.test>', batch_fromemail: '"Sales" <sales@example.test>' },
      { batch_email: '"john@example.test" <john@example.test>, b@example.test,' },
    ];
    const ids = [];
    for (const r of rows) ids.push(await insertJob(db.pool, r));
    const done = await allFinished(db, ids);
    for (const r of done) expect(r.batch_exitstatus).toBe('');
    await smtp.waitForMessages(3);
    const envelope = (id: number) => [...messagesFor(smtp, id)[0]!.envelope.to].map((a) => a.toLowerCase()).sort();
    expect(envelope(ids[0]!)).toEqual(['alice@example.test', 'audit@example.test', 'carol@example.test', 'john@example.test']);
    expect(envelope(ids[1]!)).toEqual(['only@example.test']);
    expect(envelope(ids[2]!)).toEqual(['b@example.test', 'john@example.test']);
    const m1 = messagesFor(smtp, ids[1]!)[0]!;
    expect(m1.envelope.from).toBe('sales@example.test');
    expect(m1.parsed.replyTo?.value).toEqual([{ address: 'desk@example.test', name: 'Desk' }]);
    // Bcc is in the envelope only.
    expect(messagesFor(smtp, ids[0]!)[0]!.raw.toString('latin1')).not.toMatch(/^bcc:/im);
  });

  it('parseAddressList on its own: names survive the round trip, one sender stays one', () => {
    expect(parseAddressList(1, 'batch_email', 'a@x.test; "O\'Brien, Pat" <pat@x.test>\t, c@x.test (Cee)')).toEqual([
      { name: '', address: 'a@x.test' }, { name: "O'Brien, Pat", address: 'pat@x.test' }, { name: 'Cee', address: 'c@x.test' }]);
    expect(parseAddressList(1, 'batch_fromemail', 'Sales <s@x.test>')).toEqual([{ name: 'Sales', address: 's@x.test' }]);
  });

  it('mailAddresses gives nodemailer the same headers and envelope as the formatted text, and a field read again is the same list', async () => {
    const fields = [
      'a@x.test; "O\'Brien, Pat" <pat@x.test>\t, c@x.test (Cee)',
      '"Smith, John" <John@Example.test>; alice@example.test',
      '"Müller, Jürgen" <j@x.test>, "日本 太郎" <taro@x.test>',
      '"say \\"hi\\"" <q@x.test>, Back\\slash <b@x.test>',
      '<only@example.test>',
      '"john@example.test" <john@example.test>, b@example.test,',
      '  Spaced   Name   <s@x.test> ',
      '"=?utf-8?q?x?=" <e@x.test>',
    ];
    const headers = async (to: unknown, from: unknown) => {
      const node = new MailComposer({ from, to, cc: to, replyTo: to, subject: 's', text: 't' } as ConstructorParameters<typeof MailComposer>[0]).compile();
      const raw = (await node.build()).toString('latin1');
      const head = raw.slice(0, raw.indexOf('\r\n\r\n')).replace(/\r\n[ \t]+/g, ' ');
      return { lines: head.split('\r\n').filter((l) => /^(from|to|cc|reply-to):/i.test(l)), envelope: node.getEnvelope() };
    };
    const sender = parseAddressList(1, 'batch_fromemail', '"Sales Ü" <sales@x.test>');
    for (const f of fields) {
      const list = parseAddressList(1, 'batch_email', f);
      const asText = await headers(formatAddressList(list), formatAddressList(sender)[0]);
      const asObjects = await headers(mailAddresses(list), mailAddresses(sender)[0]);
      expect(asObjects).toEqual(asText);
      expect(asText.lines).toHaveLength(4);
      // Read again (from the kept list): equal, a fresh array, and its entries cannot be changed by a caller.
      const again = parseAddressList(2, 'batch_email', f);
      expect(again).toEqual(list);
      expect(again).not.toBe(list);
      expect(Object.isFrozen(again[0])).toBe(true);
    }
    // A field refused once is refused again with the second job's id (refusals are not kept).
    expect(() => parseAddressList(7, 'batch_email', 'a@x.test b@x.test')).toThrow(/^job 7: batch_email /);
    expect(() => parseAddressList(8, 'batch_email', 'a@x.test b@x.test')).toThrow(/^job 8: batch_email /);
    // One sender: the same text read for a list field is accepted, for the sender field refused.
    expect(parseAddressList(3, 'batch_email', 'a@x.test, b@x.test')).toHaveLength(2);
    expect(() => parseAddressList(3, 'batch_fromemail', 'a@x.test, b@x.test')).toThrow(/a message has one sender/);
  });
});
