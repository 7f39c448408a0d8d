import addressparser from 'nodemailer/lib/addressparser';
import type Mail from 'nodemailer/lib/mailer';
import { htmlToText, messageHash, type AddressType, type MessageAddress, type ParsedEmail } from '../sync/parseMessage';
import type { ComposedFrom } from './transport';

/**
 * Options whose effect on subject, body, addresses and date is known exactly. Anything else (a raw message,
 * alternatives, a calendar event, AMP, ...) sends the record through the parser.
 */
const KNOWN_OPTIONS: ReadonlySet<string> = new Set([
  'from', 'to', 'cc', 'bcc', 'replyTo', 'subject', 'text', 'html', 'attachments', 'headers', 'date', 'messageId',
  'inReplyTo', 'references', 'priority', 'textEncoding', 'envelope', 'signal', 'baseBoundary',
]);

/** Headers given in `headers` that would change what the record reads. */
const RECORDED_HEADERS: ReadonlySet<string> = new Set([
  'from', 'to', 'cc', 'bcc', 'subject', 'date', 'content-type', 'content-transfer-encoding', 'content-disposition', 'mime-version', 'sender',
]);

interface Entry {
  name?: string;
  address?: string;
  group?: Entry[];
}

/** PostgreSQL text cannot hold NUL (as parseMessage.ts). */
const clean = (s: string | undefined | null): string => (s ?? '').replace(/\u0000/g, '');

/**
 * An address field as the message's header carries it: every address with its display name, in order. null when
 * it holds anything the header could show otherwise: a group, a non-ASCII address (written in punycode or
 * SMTPUTF8), an encoded-word lookalike in a name, a value that is not a string or {name, address}.
 */
function addressField(type: AddressType, value: unknown): MessageAddress[] | null {
  if (value === undefined || value === null) return [];
  const items = Array.isArray(value) ? value : [value];
  const out: MessageAddress[] = [];
  for (const item of items) {
    let entries: Entry[];
    if (typeof item === 'string') entries = addressparser(item) as unknown as Entry[];
    else if (item && typeof item === 'object' && typeof (item as Entry).address === 'string') entries = [item as Entry];
    else return null;
    for (const e of entries) {
      if (e.group) return null;
      const addr = clean(e.address).trim();
      const name = clean(e.name).trim();
      if (!/^[\x21-\x7e]*$/.test(addr) || name.includes('=?') || /[\r\n]/.test(name)) return null;
      // As parseMessage.ts: entries without an address are not addresses.
      if (!addr.includes('@')) continue;
      out.push({ type, addr, name });
    }
  }
  return out;
}

/**
 * Line breaks as imported mail has them (\n). The parser's reading of the sent part differs from this only in
 * its encoding's leftover: a line break it adds after a single-part message.
 */
const lines = (s: string): string => s.replace(/\r\n/g, '\n');

/**
 * The record of a message this daemon composed (src/mail/transport.ts), read from what it was composed from
 * rather than by parsing the bytes again: the same subject, addresses (Bcc from the envelope when the headers do
 * not show it) and date that parseEmail() reads from those bytes, and the body as it was given (line breaks as
 * \n), at a fraction of the cost. test/mail/sentRecord.test.ts holds the two side by side over many messages.
 * null when the options hold anything this does not reproduce: the caller parses the bytes then.
 */
export function recordFromComposed(raw: Buffer, composed: ComposedFrom, envelopeTo: readonly string[]): ParsedEmail | null {
  const o = composed.options as Mail.Options & Record<string, unknown>;
  for (const key of Object.keys(o)) if (o[key] !== undefined && !KNOWN_OPTIONS.has(key)) return null;
  const subject = o.subject ?? '';
  const text = o.text;
  const html = o.html;
  if (typeof subject !== 'string' || (text !== undefined && typeof text !== 'string') || (html !== undefined && typeof html !== 'string')) return null;
  // An ASCII subject holding "=?" would be read back as encoded words; a long one is folded, and folding can take
  // a blank out of a run of them or make other white space (a tab, a no-break space) a plain space.
  if (subject.includes('=?') || (subject.length > 50 && /\s\s|[^\S ]/.test(subject))) return null;
  // A lone CR (not allowed in mail) is kept or made a line break depending on the part's encoding, and HTML
  // with CRs becomes text with other blank space: left to the parser.
  if ((text !== undefined && /\r(?!\n)/.test(text)) || (html !== undefined && html.includes('\r'))) return null;
  if (o.headers !== undefined) {
    if (typeof o.headers !== 'object' || Array.isArray(o.headers)) return null;
    for (const k of Object.keys(o.headers)) if (RECORDED_HEADERS.has(k.toLowerCase())) return null;
  }
  // Attachments never become the body: only plain attachments (no inline text parts, no raw parts).
  for (const a of (o.attachments ?? []) as Array<Record<string, unknown>>) {
    if (a.raw !== undefined || (a.contentDisposition !== undefined && a.contentDisposition !== 'attachment')) return null;
  }

  const fields: Array<[AddressType, unknown]> = [['FROM', o.from], ['TO', o.to], ['CC', o.cc]];
  if (composed.keepBcc) fields.push(['BCC', o.bcc]);
  const addresses: MessageAddress[] = [];
  for (const [type, value] of fields) {
    const list = addressField(type, value);
    if (!list) return null;
    addresses.push(...list);
  }
  // Recipients no header shows (Bcc over SMTP) come from the envelope, as parseEmail's extraBcc.
  const shown = new Set(addresses.map((a) => a.addr.toLowerCase()));
  for (const addr of envelopeTo) {
    if (!shown.has(addr.toLowerCase())) {
      shown.add(addr.toLowerCase());
      addresses.push({ type: 'BCC', addr, name: '' });
    }
  }

  const when = composed.date.getTime();
  if (!Number.isFinite(when)) return null;
  const plain = text !== undefined ? lines(text) : undefined;
  const body = plain !== undefined && plain.trim() !== '' ? plain : html !== undefined ? htmlToText(html) : '';
  return {
    hash: messageHash(raw),
    // The Date header holds whole seconds.
    date: new Date(Math.floor(when / 1000) * 1000),
    subject: clean(subject.replace(/\r?\n|\r/g, ' ').trim()),
    body: clean(body),
    addresses,
  };
}
