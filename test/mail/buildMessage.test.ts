/**
 * buildMessage (src/mail/buildMessage.ts) gives the bytes nodemailer's own MimeNode.build() gives, for the kinds
 * of message the daemon composes and more: text, HTML, both, attachments from files, buffers and strings,
 * alternatives, bodies ending in CR, LF or nothing, empty ones. Each message is compiled twice from the same
 * options (fixed date, Message-ID and boundary), once for each builder.
 */
import fs from 'node:fs';
import path from 'node:path';
import MailComposer from 'nodemailer/lib/mail-composer';
import type Mail from 'nodemailer/lib/mailer';
import { buildMessage } from '../../src/mail/buildMessage';
import { tempDir } from '../support/tempDirs';
import { rng } from '../support/rng';

const PIECES = ['a', 'Invoice', ' ', '\t', '\n', '\r\n', '\r', '.', '..', '=', 'é', 'Grüße', '中文', '😀', '\u00a0', 'From ', 'x'.repeat(90), 'word '.repeat(30)];

function text(r: () => number, max: number): string {
  let s = '';
  const n = Math.floor(r() * max);
  for (let i = 0; i < n; i++) s += PIECES[Math.floor(r() * PIECES.length)];
  return s;
}

function message(r: () => number, i: number, file: string): Mail.Options {
  const kind = r();
  const body = text(r, 40);
  const attachments: Mail.Attachment[] = [];
  if (r() < 0.3) attachments.push({ filename: 'invoice.pdf', path: file, contentType: 'application/pdf' });
  if (r() < 0.2) attachments.push({ filename: 'data.csv', content: text(r, 10) });
  if (r() < 0.1) attachments.push({ filename: 'blob.bin', content: Buffer.from([0, 1, 2, 0xff, 13, 10]) });
  return {
    from: { name: 'ERP', address: 'erp@ourco.example' },
    to: [{ name: text(r, 3).replace(/[\r\n]/g, ''), address: `c${i}@customer.example` }],
    subject: text(r, 8).replace(/[\r\n]/g, ''),
    ...(kind < 0.5 ? { text: body } : kind < 0.8 ? { html: `<p>${body}</p>` } : { text: body, html: `<b>${body}</b>` }),
    ...(r() < 0.1 ? { alternatives: [{ contentType: 'text/x-web-markdown', content: `**${body}**` }] } : {}),
    attachments,
    headers: { 'X-xtconnect-Batch-Id': String(i) },
    date: new Date(1_700_000_000_000 + i * 1000),
    messageId: `<m${i}@ourco.example>`,
    baseBoundary: `b${i}`.padEnd(16, '0'),
  };
}

describe('buildMessage', () => {
  it('200 generated messages: the same bytes as MimeNode.build()', async () => {
    const dir = tempDir('xtc-build-message-');
    const file = path.join(dir, 'invoice.pdf');
    fs.writeFileSync(file, Buffer.concat([Buffer.from('%PDF-1.4\n'), Buffer.alloc(5000, 0x41), Buffer.from([0xde, 0xad])]));
    const r = rng(Number(process.env.SEED ?? 99));
    let multipart = 0;
    for (let i = 0; i < 200; i++) {
      const m = message(r, i, file);
      const theirs = await new MailComposer({ ...m }).compile().build();
      const ours = await buildMessage(new MailComposer({ ...m }).compile());
      expect(ours.toString('latin1')).toBe(theirs.toString('latin1'));
      if (/boundary=/.test(ours.toString('latin1'))) multipart++;
    }
    expect(multipart).toBeGreaterThan(40);
  });

  it('empty bodies and bodies ending in CR, LF or neither end as build() ends them, with a line break', async () => {
    for (const body of ['', 'x\r', 'x\n', 'x']) {
      const m: Mail.Options = { from: 'a@ourco.example', to: 'b@customer.example', text: body, date: new Date(0), messageId: '<x@ourco.example>' };
      const theirs = await new MailComposer({ ...m }).compile().build();
      const ours = await buildMessage(new MailComposer({ ...m }).compile());
      expect(ours.toString('latin1')).toBe(theirs.toString('latin1'));
      expect(ours[ours.length - 1]).toBe(0x0a);
    }
  });

  it('an attachment that cannot be read fails the build with the file system\'s error', async () => {
    const missing = path.join(tempDir('xtc-build-missing-'), 'gone.pdf');
    const node = new MailComposer({ from: 'a@ourco.example', to: 'b@customer.example', text: 'x', attachments: [{ filename: 'gone.pdf', path: missing }] }).compile();
    await expect(buildMessage(node)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
