import crypto from 'node:crypto';
import type { AddressObject, EmailAddress } from 'mailparser';
import { decodeHeaderWords } from './encodedWords';

export type AddressType = 'FROM' | 'TO' | 'CC' | 'BCC';

export interface MessageAddress {
  type: AddressType;
  /** As written in the message; compared without case. */
  addr: string;
  /** The display name, decoded; '' when there is none (xTuple's column is NOT NULL). */
  name: string;
}

/** What xtbatch.eml and emladdr hold of one message. The raw bytes stay with the caller. */
export interface ParsedEmail {
  /** SHA-1 of the raw message, as xTuple computes eml_hash. */
  hash: Buffer;
  date: Date;
  subject: string;
  /** Readable text: the text part, else text derived from the HTML part. */
  body: string;
  addresses: MessageAddress[];
}

export function messageHash(raw: Buffer): Buffer {
  return crypto.createHash('sha1').update(raw).digest();
}

/** PostgreSQL text cannot hold NUL, which broken mailers do send. */
function clean(s: string | undefined | null): string {
  return (s ?? '').replace(/\u0000/g, '');
}

function flatten(list: EmailAddress[]): EmailAddress[] {
  return list.flatMap((a) => (a.group ? flatten(a.group) : [a]));
}

function addressesOf(type: AddressType, field: AddressObject | AddressObject[] | undefined, rawNames: ReadonlyMap<string, string>): MessageAddress[] {
  if (!field) return [];
  const objects = Array.isArray(field) ? field : [field];
  return flatten(objects.flatMap((o) => o.value))
    .filter((a) => a.address && a.address.includes('@'))
    .map((a) => {
      const addr = clean(a.address).trim();
      return { type, addr, name: clean(rawNames.get(addr.toLowerCase()) ?? a.name).trim() };
    });
}

/**
 * The unfolded text of a header that occurs once, when it is plain ASCII with encoded words in it: the one case in
 * which the strict decoder (encodedWords.ts) replaces mailparser's, which turns a broken word into garbage.
 */
function rawHeader(lines: ReadonlyArray<{ key: string; line: string }>, key: string): string | null {
  const found = lines.filter((h) => h.key === key);
  if (found.length !== 1) return null;
  const v = found[0]!.line.replace(/\r?\n(?=[ \t])/g, '').replace(/^[^:]*:[ \t]*/, '');
  return v.includes('=?') && /^[\x20-\x7e\t]*$/.test(v) ? v : null;
}

/** Display names of one address header, decoded strictly, by lower-cased address. */
function strictNames(lines: ReadonlyArray<{ key: string; line: string }>, key: string): Map<string, string> {
  const out = new Map<string, string>();
  const v = rawHeader(lines, key);
  if (v === null) return out;
  // nodemailer's parser leaves encoded words as they are; each name is then decoded here.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const addressparser = require('nodemailer/lib/addressparser') as (s: string, o: { flatten: true }) => Array<{ name: string; address: string }>;
  for (const a of addressparser(v, { flatten: true })) {
    if (a.address && a.name && !out.has(a.address.toLowerCase())) out.set(a.address.toLowerCase(), decodeHeaderWords(a.name));
  }
  return out;
}

/**
 * Reads one raw message: decoded subject and names (encoded words, any charset mailparser knows), the readable body,
 * and every From/To/Cc/Bcc address (groups flattened). `fallbackDate` (the server's arrival time) stands in for a
 * missing or unreadable Date header; `extraBcc` adds envelope recipients that no header shows (mail we sent with Bcc).
 */
export async function parseEmail(raw: Buffer, fallbackDate: Date = new Date(), extraBcc: string[] = []): Promise<ParsedEmail> {
  // Only text is kept: no HTML made from text, no text made by html-to-text (the small converter below is several
  // times cheaper and enough for a readable body), no checksums of attachments (they stay in the raw message).
  // Loaded on first use, like imapflow: only daemons that import mail pay for the MIME parser.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { simpleParser } = require('mailparser') as typeof import('mailparser');
  const mail = await simpleParser(raw, { skipTextToHtml: true, skipImageLinks: true, skipTextLinks: true, skipHtmlToText: true, checksumAlgo: false });
  const addresses = [
    ...addressesOf('FROM', mail.from, strictNames(mail.headerLines, 'from')),
    ...addressesOf('TO', mail.to, strictNames(mail.headerLines, 'to')),
    ...addressesOf('CC', mail.cc, strictNames(mail.headerLines, 'cc')),
    ...addressesOf('BCC', mail.bcc, strictNames(mail.headerLines, 'bcc')),
  ];
  const rawSubject = rawHeader(mail.headerLines, 'subject');
  const shown = new Set(addresses.map((a) => a.addr.toLowerCase()));
  for (const addr of extraBcc) {
    if (!shown.has(addr.toLowerCase())) {
      shown.add(addr.toLowerCase());
      addresses.push({ type: 'BCC', addr, name: '' });
    }
  }
  const date = mail.date && !Number.isNaN(mail.date.getTime()) ? mail.date : fallbackDate;
  const body = typeof mail.text === 'string' && mail.text.trim() !== '' ? mail.text : typeof mail.html === 'string' ? htmlToText(mail.html) : '';
  const subject = rawSubject !== null ? decodeHeaderWords(rawSubject).trim() : mail.subject;
  return { hash: messageHash(raw), date, subject: clean(subject), body: clean(body), addresses };
}

/** Readable text from an HTML body: block ends become line breaks, tags, scripts and styles go, entities are decoded. */
export function htmlToText(html: string): string {
  return html
    .replace(/<(script|style)[^>]*>[\s\S]*?<\/\1>/gi, '')
    .replace(/<br\s*\/?>|<\/(p|div|li|tr|h\d)>/gi, '\n')
    .replace(/<[^>]+>/g, '')
    .replace(/&nbsp;/g, ' ')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;|&apos;/g, "'")
    .replace(/&#(\d+);/g, (_, n: string) => String.fromCodePoint(Math.min(Number(n), 0x10ffff)))
    .replace(/&#x([0-9a-f]+);/gi, (_, n: string) => String.fromCodePoint(Math.min(parseInt(n, 16), 0x10ffff)))
    .replace(/&amp;/g, '&')
    .replace(/[ \t]+\n/g, '\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}
