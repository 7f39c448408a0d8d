/**
 * The Message-ID and the multipart boundary of each composed message come from randomUUID() (src/mail/transport.ts
 * compose, issue 17) instead of nodemailer's six crypto.randomBytes() calls: the same forms, unique per message,
 * and nodemailer's own Message-ID where the sender's domain is not plain ASCII. Through the real outbox mailer:
 * the files written are what would have gone over SMTP.
 */
import fs from 'node:fs';
import path from 'node:path';
import type Mail from 'nodemailer/lib/mailer';
import { createMailer } from '../../src/mail/transport';
import { tempDir } from '../support/tempDirs';

async function sendAll(messages: Mail.Options[]): Promise<Array<{ raw: string; messageId: string }>> {
  const outboxDir = tempDir('xtc-message-ids-');
  const mailer = createMailer({ smtp: null, outboxDir });
  const out: Array<{ raw: string; messageId: string }> = [];
  try {
    for (const [i, m] of messages.entries()) {
      const info = await mailer.send(m, `batch-${i}`);
      out.push({ raw: fs.readFileSync(info.deliveredTo, 'latin1'), messageId: info.messageId });
    }
  } finally {
    mailer.close();
  }
  return out;
}

const header = (raw: string, name: string) => new RegExp(`^${name}: (.+)$`, 'mi').exec(raw)?.[1];

describe('Message-ID and boundary of composed messages', () => {
  it('each message has its own <uuid@sender domain> and its own boundary, as the header and the send result say', async () => {
    const dir = tempDir('xtc-message-ids-att-');
    const file = path.join(dir, 'invoice.pdf');
    fs.writeFileSync(file, '%PDF-1.4\n');
    const messages: Mail.Options[] = Array.from({ length: 40 }, (_, i) => ({
      from: i % 2 ? { name: 'ERP', address: 'erp@OurCo.example' } : '"ERP, Inc." <erp@ourco.example>',
      to: `c${i}@customer.example`, subject: `Invoice ${i}`, text: 'Attached.',
      attachments: [{ filename: 'invoice.pdf', path: file, contentType: 'application/pdf' }],
    }));
    const sent = await sendAll(messages);
    const ids = sent.map((s) => header(s.raw, 'Message-ID'));
    for (const [i, s] of sent.entries()) {
      expect(ids[i]).toMatch(/^<[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}@ourco\.example>$/);
      expect(s.messageId).toBe(ids[i]);
    }
    expect(new Set(ids).size).toBe(40);
    const boundaries = sent.map((s) => /boundary="([^"]+)"/.exec(s.raw)?.[1]);
    for (const b of boundaries) expect(b).toMatch(/^--_NmP-[0-9a-f]{16}-Part_1$/);
    expect(new Set(boundaries).size).toBe(40);
    // The parts are delimited by that boundary.
    expect(sent[0]!.raw).toContain(`\r\n--${boundaries[0]}--`);
  });

  it('a sender domain that is not plain ASCII gets nodemailer\'s own Message-ID; a given Message-ID is kept', async () => {
    const [idn, given] = await sendAll([
      { from: 'erp@bücher.example', to: 'a@customer.example', subject: 's', text: 'x' },
      { from: 'erp@ourco.example', to: 'a@customer.example', subject: 's', text: 'x', messageId: '<order-7@erp.ourco.example>' },
    ]);
    expect(header(idn!.raw, 'Message-ID')).toMatch(/^<[0-9a-f-]{36}@xn--bcher-kva\.example>$/);
    expect(header(given!.raw, 'Message-ID')).toBe('<order-7@erp.ourco.example>');
  });
});
