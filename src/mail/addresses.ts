import addressparser from 'nodemailer/lib/addressparser';
import { JobInputError } from '../errors';

// Deliberately plain: one @, no spaces or brackets, a dotted or single-label domain (intranet relays).
const ADDRESS = /^[^\s@<>(),;:"\\[\]]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*$/;

/** Fields that name the one sender of a message: a list there is a mistake, not "the first one". */
const SINGLE_ADDRESS_FIELDS: ReadonlySet<string> = new Set(['batch_fromemail', 'DefaultBatchFromEmailAddress']);

export interface ParsedAddress {
  name: string;
  address: string;
}

interface ParserEntry {
  name?: string;
  address?: string;
  group?: ParserEntry[];
}

/** The text with quoted strings and (comments) taken out: what is left holds every address the writer meant. */
function outsideQuotesAndComments(value: string): string {
  let out = '';
  let depth = 0;
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    if (c === '\\' && (quoted || depth > 0)) {
      i++;
      continue;
    }
    if (quoted) {
      if (c === '"') quoted = false;
    } else if (depth > 0) {
      if (c === '(') depth++;
      else if (c === ')') depth--;
    } else if (c === '"') {
      quoted = true;
    } else if (c === '(') {
      depth = 1;
    } else {
      out += c;
    }
  }
  return out;
}

/**
 * Parses an address field as xTuple stores it ("a@x.com, Bob <b@y.com>", commas or semicolons) and accepts it only
 * when it is exactly a list of addresses: no line breaks or other control characters (header injection: "x@a\r\nBcc:
 * v@evil"), no group syntax ("team: a@x, b@y;"), every entry a plain valid address, and as many addresses parsed as
 * the text holds (a parser reading "a@x b@y" as one address named "b@y" would drop a recipient silently). The
 * result, formatted and parsed again, must give the same addresses. Anything else fails the job naming the field:
 * nothing is ever sent to an address that is not in the row, and nobody in the row is silently left out.
 */
export function parseAddressList(batchId: number, field: string, value: string | null | undefined): ParsedAddress[] {
  if (!value || !value.trim()) return [];
  // The same sender (DefaultBatchFromEmailAddress) is read for every job: a field read before gives the same list.
  // Only good fields are kept (a refusal names the job); a fresh array each time, of entries nobody may change.
  const key = `${SINGLE_ADDRESS_FIELDS.has(field) ? 1 : 0}${value}`;
  const known = parsedFields.get(key);
  if (known) return [...known];
  const list = readAddressList(batchId, field, value);
  if (parsedFields.size >= PARSED_FIELDS_KEPT) parsedFields.clear();
  parsedFields.set(key, list);
  return [...list];
}

/** Good address fields read so far, by field kind and text (parseAddressList): at most this many, then forgotten. */
const PARSED_FIELDS_KEPT = 256;
const parsedFields = new Map<string, readonly ParsedAddress[]>();

function readAddressList(batchId: number, field: string, value: string): readonly ParsedAddress[] {
  const bad = (problem: string): never => {
    throw new JobInputError(batchId, field, problem);
  };
  // Tab is whitespace and harmless; every other control character has no place in an address field.
  const control = /[\x00-\x08\x0a-\x1f\x7f]/.exec(value);
  if (control) {
    const what = control[0] === '\r' || control[0] === '\n' ? 'a line break' : `a control character (U+${control[0].charCodeAt(0).toString(16).padStart(4, '0').toUpperCase()})`;
    bad(`holds ${what} (${JSON.stringify(value)}): an address field is one line of addresses separated by commas`);
  }
  const parsed = addressparser(value.replace(/;/g, ',')) as unknown as ParserEntry[];
  const out: ParsedAddress[] = [];
  for (const a of parsed) {
    if (a.group?.length === 0) bad(`holds ${JSON.stringify(value)}, which has no email address in it`);
    if (a.group) bad(`holds group syntax ("${a.name ?? ''}: ..."), in ${JSON.stringify(value)}: list the addresses themselves, separated by commas`);
    const address = (a.address ?? '').trim();
    if (!ADDRESS.test(address)) {
      const shown = address || a.name || value;
      bad(`holds "${shown}", which is not a valid email address`);
    }
    out.push({ name: (a.name ?? '').trim(), address });
  }
  if (out.length === 0) bad(`holds ${JSON.stringify(value)}, which has no email address in it`);

  const written = (outsideQuotesAndComments(value).match(/@/g) ?? []).length;
  const lower = value.toLowerCase();
  if (written !== out.length || out.some((a) => !lower.includes(a.address.toLowerCase()))) {
    bad(`holds ${JSON.stringify(value)}, which does not read as exactly ${written === 1 ? 'one address' : `${written} addresses`} ` +
      `(it parses as ${out.map((a) => a.address).join(', ')}): separate addresses with commas and put names in quotes, as "Name" <address>`);
  }
  // Round trip: what will be written into the headers must name exactly these addresses again.
  const again = addressparser(formatAddressList(out).join(', '), { flatten: true }) as unknown as ParserEntry[];
  if (again.length !== out.length || again.some((a, i) => a.address !== out[i]!.address)) {
    bad(`holds ${JSON.stringify(value)}, whose addresses do not survive being written into a header (${again.map((a) => a.address ?? '').join(', ')})`);
  }
  if (SINGLE_ADDRESS_FIELDS.has(field) && out.length > 1) {
    bad(`holds ${out.length} addresses (${out.map((a) => a.address).join(', ')}): a message has one sender`);
  }
  // The entries as that round trip read them: the names and addresses nodemailer would read from the header
  // text, so the mail can be given these objects (mailAddresses) and nothing parses the field a third time.
  return again.map((a) => Object.freeze({ name: a.name ?? '', address: a.address ?? '' }));
}

/**
 * Addresses for nodemailer's from/to/cc/bcc/replyTo: {name, address} objects, which it takes as they are. They
 * are what it would read from formatAddressList's text (parseAddressList returns the round trip's reading), so
 * the headers are the same bytes, without parsing each field again (issue 17: address parsing was a visible part
 * of a message's cost). The sent-mail record reads them the same way (src/mail/sentRecord.ts).
 */
export function mailAddresses(list: readonly ParsedAddress[]): Array<{ name: string; address: string }> {
  return list.map((a) => ({ name: a.name, address: a.address }));
}

export function formatAddressList(list: ParsedAddress[]): string[] {
  return list.map((a) => (a.name ? `"${a.name.replace(/["\\]/g, "'")}" <${a.address}>` : a.address));
}
