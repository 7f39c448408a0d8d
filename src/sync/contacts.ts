import { matchesAny } from '../settings/patterns';
import type { ContactTables } from './crmCatalog';
import type { ContactArgs } from './emlStore';
import type { MessageAddress } from './parseMessage';

export interface ContactPolicy {
  /** EmailSyncCreateContacts: make a contact for an address no contact has. */
  create: boolean;
  /** "Exclude Contacts Matching" patterns: such addresses never become contacts. */
  exclusions: readonly string[];
  /** Lower-cased addresses that are ours (DefaultBatchFromEmailAddress, the mailbox's own): never contacts, never linked. */
  own: ReadonlySet<string>;
}

/** "Smith, Bob" and "Bob Smith" → Bob / Smith; no name → the address's mailbox part as the last name. */
export function splitName(display: string, address: string): { first: string; last: string } {
  const name = display.replace(/^["']+|["']+$/g, '').replace(/\s+/g, ' ').trim();
  if (!name || name.toLowerCase() === address.toLowerCase()) return { first: '', last: address.split('@')[0] ?? address };
  const comma = /^([^,]+),\s*(.+)$/.exec(name);
  if (comma) return { first: comma[2]!.trim(), last: comma[1]!.trim() };
  const words = name.split(' ');
  if (words.length === 1) return { first: '', last: name };
  return { first: words.slice(0, -1).join(' '), last: words[words.length - 1]! };
}

/**
 * The message's addresses as contact arguments for xtbatch.emlsync_import: each distinct address once (the From
 * entry first, so its display name names a new contact), our own addresses left out, and whether a contact may be
 * made for it (the setting is on and no exclusion pattern matches).
 */
export function contactArgs(addresses: readonly MessageAddress[], policy: ContactPolicy, t: ContactTables): ContactArgs {
  const out: ContactArgs = { addrs: [], create: [], first: [], last: [],
    options: { email_column: t.hasEmailColumn, notes_column: t.hasNotesColumn, numbered: t.numberedByFunction } };
  for (const a of addresses) {
    const key = a.addr.toLowerCase();
    if (policy.own.has(key) || out.addrs.includes(key)) continue;
    const { first, last } = splitName(a.name, a.addr);
    out.addrs.push(key);
    out.create.push(policy.create && !matchesAny(key, policy.exclusions));
    out.first.push(first);
    out.last.push(last);
  }
  return out;
}
