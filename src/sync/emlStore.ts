import type pg from 'pg';
import type { FolderState } from './folderState';
import type { ParsedEmail } from './parseMessage';

/** A pool or a client. */
export type Queryable = Pick<pg.ClientBase, 'query'>;

/** Who the message's addresses are, as xtbatch.emlsync_import takes them: one entry per distinct address. */
export interface ContactArgs {
  /** Lower-cased. */
  addrs: string[];
  /** May a contact be made for this address when none has it? */
  create: boolean[];
  first: string[];
  last: string[];
  /** Which optional cntct columns this database has. */
  options: { email_column: boolean; notes_column: boolean; numbered: boolean };
}

export interface StoreArgs {
  message: ParsedEmail;
  raw: Buffer;
  /** null: no contact linking (no contact tables). */
  contacts: ContactArgs | null;
  documents: ReadonlyArray<{ type: string; id: number }>;
  progress: { mailbox: string; folder: string; state: FolderState } | null;
  durable: boolean;
}

export interface StoreResult {
  /** null: the message was already there (same SHA-1). */
  emlId: number | null;
  contactsLinked: number;
  contactsCreated: string[];
  documentsLinked: number;
}

/**
 * One message into xtbatch.eml/emladdr/emlassc with its folder progress, by xtbatch.emlsync_import (sql/0008): one
 * round trip and one transaction. A prepared statement, so the server plans it once per connection.
 */
export async function storeMessage(q: Queryable, a: StoreArgs): Promise<StoreResult> {
  const m = a.message;
  const c = a.contacts;
  const { rows } = await q.query<{ o_eml_id: number | null; o_contacts_linked: number; o_contacts_created: string[]; o_docs_linked: number }>({
    name: 'xtconnect-emlsync-import',
    text: `SELECT * FROM xtbatch.emlsync_import($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)`,
    values: [
      m.hash, m.date, m.subject, m.body, a.raw,
      m.addresses.map((x) => x.type), m.addresses.map((x) => x.addr), m.addresses.map((x) => x.name),
      c?.addrs ?? null, c?.create ?? null, c?.first ?? null, c?.last ?? null, c ? JSON.stringify(c.options) : null,
      a.documents.map((d) => d.type), a.documents.map((d) => d.id),
      a.progress?.mailbox ?? null, a.progress?.folder ?? null, a.progress?.state.uidValidity ?? null, a.progress?.state.lastUid ?? null,
      a.durable,
    ],
  });
  const r = rows[0]!;
  return { emlId: r.o_eml_id, contactsLinked: r.o_contacts_linked, contactsCreated: r.o_contacts_created ?? [], documentsLinked: r.o_docs_linked };
}
