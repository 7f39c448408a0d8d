import { contactArgs, type ContactPolicy } from './contacts';
import type { CrmCatalog } from './crmCatalog';
import { storeMessage, type Queryable } from './emlStore';
import type { FolderState } from './folderState';
import type { ParsedEmail } from './parseMessage';
import { findReferences, resolveReferences } from './references';

export interface ImportOptions {
  catalog: CrmCatalog;
  /** null: contacts are not linked. */
  contacts: ContactPolicy | null;
  /** Saved in the message's own transaction, so the progress and the message commit together. */
  progress?: { mailbox: string; folder: string; state: FolderState };
  /**
   * false: commit without waiting for the WAL flush (synchronous_commit off). Safe for the import because the
   * progress is in the same transaction: if PostgreSQL itself crashes, the last few messages and their progress
   * vanish together and are fetched again. The caller commits durably before anything outside the database
   * (an IMAP move or flag) depends on it. Default true.
   */
  durable?: boolean;
}

export interface ImportOutcome {
  emlId: number | null;
  duplicate: boolean;
  contactsLinked: number;
  contactsCreated: string[];
  referencesLinked: number;
  unresolvedReferences: string[];
}

/**
 * Imports one message as xTuple did, in one transaction: skip it if its hash is already in xtbatch.eml, else insert
 * eml (status I), one emladdr per address, the contact and document links, then status O; the folder progress
 * commits with it, so after a crash the message is either fully there and counted, or neither. References are
 * looked up first (reads only); the rest is one call of xtbatch.emlsync_import.
 */
export async function importMessage(q: Queryable, raw: Buffer, m: ParsedEmail, opts: ImportOptions): Promise<ImportOutcome> {
  const refs = findReferences(m.subject, m.body);
  const resolved = refs.length ? await resolveReferences(q, opts.catalog, refs) : { links: [], unresolved: [] };
  const r = await storeMessage(q, {
    message: m,
    raw,
    contacts: opts.contacts && opts.catalog.contacts ? contactArgs(m.addresses, opts.contacts, opts.catalog.contacts) : null,
    documents: resolved.links,
    progress: opts.progress ?? null,
    durable: opts.durable ?? true,
  });
  const duplicate = r.emlId === null;
  return {
    emlId: r.emlId,
    duplicate,
    contactsLinked: r.contactsLinked,
    contactsCreated: r.contactsCreated,
    referencesLinked: r.documentsLinked,
    unresolvedReferences: duplicate ? [] : resolved.unresolved,
  };
}
