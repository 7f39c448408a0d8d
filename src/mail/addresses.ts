import addressparser from 'nodemailer/lib/addressparser';
import { JobInputError } from '../errors';

// Deliberately plain: one @, no spaces or brackets, a dotted or single-label domain (intranet relays).
const ADDRESS = /^[^\s@<>(),;:"\\[\]]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*$/;

export interface ParsedAddress {
  name: string;
  address: string;
}

/**
 * Parses an address field as xTuple stores it ("a@x.com, Bob <b@y.com>", commas or semicolons). Every entry
 * must be a valid address; a bad one fails the job with the field and the address named.
 */
export function parseAddressList(batchId: number, field: string, value: string | null | undefined): ParsedAddress[] {
  if (!value || !value.trim()) return [];
  const parsed = addressparser(value.replace(/;/g, ','), { flatten: true });
  const out: ParsedAddress[] = [];
  for (const a of parsed) {
    const address = (a.address ?? '').trim();
    if (!ADDRESS.test(address)) {
      const shown = address || a.name || value;
      throw new JobInputError(batchId, field, `holds "${shown}", which is not a valid email address`);
    }
    out.push({ name: a.name ?? '', address });
  }
  if (out.length === 0) throw new JobInputError(batchId, field, `holds ${JSON.stringify(value)}, which has no email address in it`);
  return out;
}

export function formatAddressList(list: ParsedAddress[]): string[] {
  return list.map((a) => (a.name ? `"${a.name.replace(/"/g, "'")}" <${a.address}>` : a.address));
}
