/**
 * The record of a sent message is read from what it was composed from (src/mail/sentRecord.ts) instead of parsing
 * the sent bytes with mailparser. These tests hold the two side by side: for every message, through the real
 * mailers (a real SMTP server on loopback, the outbox), recordFromComposed() must give exactly what parseEmail()
 * reads from the bytes sent, or null (the recorder then parses).
 */
import fs from 'node:fs';
import path from 'node:path';
import type Mail from 'nodemailer/lib/mailer';
import { recordFromComposed } from '../../src/mail/sentRecord';
import { createMailer, type ComposedFrom, type Mailer, type SentEnvelope } from '../../src/mail/transport';
import { parseEmail } from '../../src/sync/parseMessage';
import { smtpSection } from '../handlers/helpers';
import { startSmtp, type TestSmtp } from '../support/smtp';
import { tempDir } from '../support/tempDirs';
import { rng } from '../support/rng';

interface Sent {
  raw: Buffer;
  envelope: SentEnvelope;
  composed: ComposedFrom;
}

/** A mailer whose onSent keeps what it is given. */
function capturing(kind: 'smtp' | 'outbox', smtp?: TestSmtp): { mailer: Mailer; sent: Sent[] } {
  const sent: Sent[] = [];
  const outboxDir = tempDir('xtc-sent-record-');
  const mailer = createMailer(
    { smtp: kind === 'smtp' ? smtpSection(smtp!.port, { maxConnections: 2 }) : null, outboxDir },
    { onSent: async (raw, envelope, _info, composed) => void sent.push({ raw, envelope, composed }) },
  );
  return { mailer, sent };
}

/**
 * The body as the parser reads it carries its encoding's leftover: a line break added after a single-part
 * message. The record has the text as given with its line breaks as \n. Compared after this; nothing else is
 * adjusted.
 */
const body = (b: string) => b.replace(/\n$/, '');

/**
 * What the fast path leaves to the parser among generated messages: a lone CR in the text, any CR in HTML, a long
 * subject with white space that folding may change.
 */
const forParser = (o: Mail.Options) => (typeof o.text === 'string' && /\r(?!\n)/.test(o.text)) || (typeof o.html === 'string' && o.html.includes('\r')) ||
  (typeof o.subject === 'string' && o.subject.length > 50 && /\s\s|[^\S ]/.test(o.subject));

/** What the recorder used to store (mailparser) beside what it stores now. */
async function both(s: Sent) {
  const fast = recordFromComposed(s.raw, s.composed, s.envelope.to);
  const parsed = await parseEmail(s.raw, new Date(0), s.envelope.to);
  return { fast, parsed, same: (f: NonNullable<typeof fast>) => ({ ...f, body: body(f.body) }), parsedSame: { ...parsed, body: body(parsed.body) } };
}

const PIECES = ['a', 'Zz', 'Invoice', ' ', '  ', '\t', '\n', '\r\n', '\r', '\n\n', '.', '..', '=', '=20', 'é', 'ß', 'Grüße', '中文',
  '😀', '\u00a0', '-', '"', "'", ',', ';', ':', '<', '>', '&', '&amp;', 'From ', 'x'.repeat(90), 'word '.repeat(30), '1234567890'];

function text(r: () => number, max: number): string {
  let s = '';
  const n = Math.floor(r() * max);
  for (let i = 0; i < n; i++) s += PIECES[Math.floor(r() * PIECES.length)];
  return s;
}

const NAMES = ['', 'Ann', 'Ann Buyer', 'Buyer, Ann', 'Jürgen Groß', '中村', 'O\'Brien', 'A & B Ltd.', 'x@y.example', 'Dept. (Sales)'];

function person(r: () => number, i: number): string {
  const name = NAMES[Math.floor(r() * NAMES.length)]!;
  const addr = `u${i}.${Math.floor(r() * 1000)}@host${Math.floor(r() * 3)}.example`;
  return name ? `"${name.replace(/["\\]/g, "'")}" <${addr}>` : addr;
}

function message(r: () => number, i: number): Mail.Options {
  const kind = r();
  const body = text(r, 40);
  const tos = Array.from({ length: 1 + Math.floor(r() * 3) }, (_, k) => person(r, i * 10 + k));
  return {
    from: person(r, i),
    to: tos,
    cc: r() < 0.4 ? [person(r, i * 10 + 7)] : undefined,
    bcc: r() < 0.4 ? [person(r, i * 10 + 8), person(r, i * 10 + 9)] : undefined,
    replyTo: r() < 0.2 ? person(r, i * 10 + 6) : undefined,
    subject: text(r, 12),
    ...(kind < 0.6 ? { text: body } : kind < 0.9 ? { html: `<p>${body}</p><br>${text(r, 5)}<div>x &lt; y</div>` } : { text: body, html: `<b>${body}</b>` }),
    headers: { 'X-xtconnect-Batch-Id': String(i) },
  };
}

let smtp: TestSmtp;
beforeAll(async () => {
  smtp = await startSmtp();
});
afterAll(async () => {
  await smtp.close();
});

describe('a sent message is recorded from what it was composed from', () => {
  it.each(['smtp', 'outbox'] as const)('through %s: 150 generated messages, each recorded exactly as parsing the sent bytes reads it', async (kind) => {
    const { mailer, sent } = capturing(kind, smtp);
    try {
      const r = rng(Number(process.env.SEED ?? (kind === 'smtp' ? 17 : 4711)));
      for (let i = 0; i < 150; i++) await mailer.send(message(r, i), `batch-${i}`);
    } finally {
      mailer.close();
    }
    expect(sent).toHaveLength(150);
    const r = rng(Number(process.env.SEED ?? (kind === 'smtp' ? 17 : 4711)));
    const given = Array.from({ length: 150 }, (_, i) => message(r, i));
    let fastPath = 0;
    for (const [i, s] of sent.entries()) {
      const { fast, parsed, same, parsedSame } = await both(s);
      expect(fast === null).toBe(forParser(given[i]!));
      if (fast === null) {
        expect(parsed.addresses.length).toBeGreaterThan(0);
        continue;
      }
      fastPath++;
      expect({ raw: s.raw.toString('latin1'), record: same(fast) }).toEqual({ raw: s.raw.toString('latin1'), record: parsedSame });
      // The hash is of the bytes sent, the body has no CR left.
      expect(fast.body).not.toContain('\r');
    }
    // A lone CR is one piece in twelve of the generator: a good part of them still take the fast path.
    expect(fastPath).toBeGreaterThan(40);
  });

  it('the Email handler\'s kind of message: names, Bcc from the envelope over SMTP and from the header in the outbox', async () => {
    const msg: Mail.Options = {
      from: '"ERP, Inc." <erp@ourco.example>', to: ['"Jürgen Groß" <JG@customer.example>', 'b@customer.example'], cc: ['c@customer.example'],
      bcc: ['"Audit" <audit@ourco.example>'], subject: '  Your order  [xtref:S-50123]\r\nsecond line ', text: 'Confirmed\r\nGrüße',
      headers: { 'X-xtconnect-Batch-Id': '7' },
    };
    for (const kind of ['smtp', 'outbox'] as const) {
      const { mailer, sent } = capturing(kind, smtp);
      await mailer.send(msg, 'batch-7').finally(() => mailer.close());
      const { fast, parsed, same, parsedSame } = await both(sent[0]!);
      expect(same(fast!)).toEqual(parsedSame);
      expect(fast!.subject).toBe('Your order  [xtref:S-50123] second line');
      expect(fast!.body).toBe('Confirmed\nGrüße');
      expect(parsed.body).toBe('Confirmed\nGrüße\n');
      expect(fast!.addresses).toEqual([
        { type: 'FROM', addr: 'erp@ourco.example', name: 'ERP, Inc.' },
        { type: 'TO', addr: 'JG@customer.example', name: 'Jürgen Groß' },
        { type: 'TO', addr: 'b@customer.example', name: '' },
        { type: 'CC', addr: 'c@customer.example', name: '' },
        // Over SMTP the headers do not show Bcc: the envelope does, without a name; the outbox file keeps the header.
        { type: 'BCC', addr: 'audit@ourco.example', name: kind === 'outbox' ? 'Audit' : '' },
      ]);
      // The Date header, to the second.
      expect(fast!.date.getTime() % 1000).toBe(0);
      expect(fast!.date.getTime()).toBe(parsed.date.getTime());
    }
  });

  it('a report with a PDF attachment: the attachment is not the body', async () => {
    const dir = tempDir('xtc-sent-attach-');
    const file = path.join(dir, 'invoice.pdf');
    fs.writeFileSync(file, '%PDF-1.4\n% not really a PDF, but bytes\n');
    const { mailer, sent } = capturing('smtp', smtp);
    await mailer.send({ from: 'erp@ourco.example', to: 'a@customer.example', subject: 'Invoice', text: 'Attached.',
      attachments: [{ filename: 'invoice.pdf', path: file, contentType: 'application/pdf' }] }, 'batch-8').finally(() => mailer.close());
    const { fast, same, parsedSame } = await both(sent[0]!);
    expect(fast).not.toBeNull();
    expect(same(fast!)).toEqual(parsedSame);
    expect(fast!.body).toBe('Attached.');
  });

  it.each<[string, Mail.Options]>([
    ['a subject holding an encoded-word lookalike', { subject: 'price =?utf-8?q?x?= list', text: 'x' }],
    ['a Subject given as a header', { subject: 's', text: 'x', headers: { Subject: 'other' } }],
    ['alternatives', { subject: 's', text: 'x', alternatives: [{ contentType: 'text/x-web-markdown', content: '**x**' }] }],
    ['a body that is not a string', { subject: 's', text: Buffer.from('x') }],
    ['an inline attachment', { subject: 's', text: 'x', attachments: [{ filename: 'a.txt', content: 'inline text', contentDisposition: 'inline' }] }],
    ['a group address', { subject: 's', text: 'x', to: 'team: a@customer.example, b@customer.example;' }],
  ])('%s: left to the parser (null), and the parser still records it', async (_what, over) => {
    const { mailer, sent } = capturing('outbox');
    await mailer.send({ from: 'erp@ourco.example', to: 'a@customer.example', ...over }, 'batch-9').finally(() => mailer.close());
    const { fast, parsed } = await both(sent[0]!);
    expect(fast).toBeNull();
    expect(parsed.addresses.length).toBeGreaterThan(0);
  });
});
