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
  const again = (addressparser(formatAddressList(out).join(', '), { flatten: true }) as unknown as ParserEntry[]).map((a) => a.address ?? '');
  if (again.length !== out.length || again.some((a, i) => a !== out[i]!.address)) {
    bad(`holds ${JSON.stringify(value)}, whose addresses do not survive being written into a header (${again.join(', ')})`);
  }
  if (SINGLE_ADDRESS_FIELDS.has(field) && out.length > 1) {
    bad(`holds ${out.length} addresses (${out.map((a) => a.address).join(', ')}): a message has one sender`);
  }
  return out;
}

export function formatAddressList(list: ParsedAddress[]): string[] {
  return list.map((a) => (a.name ? `"${a.name.replace(/["\\]/g, "'")}" <${a.address}>` : a.address));
}
