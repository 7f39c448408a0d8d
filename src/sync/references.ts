import { UNLINKABLE, type CrmCatalog } from './crmCatalog';
import type { Queryable } from './emlStore';

export interface Reference {
  /** Upper-cased type code as written: S, Q, INCDT, ... */
  code: string;
  number: string;
  /** As it appeared, for the log. */
  text: string;
}

const REF = /\[xtref:([A-Za-z]{1,10})-([A-Za-z0-9][A-Za-z0-9._\/-]{0,63})\]/gi;

/** Every distinct `[xtref:TYPE-NUMBER]` in the texts, in order of appearance. */
export function findReferences(...texts: string[]): Reference[] {
  const out: Reference[] = [];
  const seen = new Set<string>();
  for (const t of texts) {
    for (const m of t.matchAll(REF)) {
      const code = m[1]!.toUpperCase();
      const key = `${code}-${m[2]}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push({ code, number: m[2]!, text: m[0] });
    }
  }
  return out;
}

export interface ResolvedReferences {
  /** The documents to link (emlassc type and id). */
  links: Array<{ type: string; id: number }>;
  /** References that link to nothing, each with the reason, for the log. */
  unresolved: string[];
}

/**
 * Finds the document each reference names. A reference to an unknown type, a table this database
 * lacks or a number no document has is reported back, never an error: the text is what a person wrote.
 */
export async function resolveReferences(q: Queryable, catalog: CrmCatalog, refs: readonly Reference[]): Promise<ResolvedReferences> {
  const out: ResolvedReferences = { links: [], unresolved: [] };
  for (const ref of refs) {
    const doc = catalog.documents.get(ref.code);
    if (!doc) {
      out.unresolved.push(`${ref.text}: ${UNLINKABLE[ref.code] ?? `"${ref.code}" is not a document type this database has`}`);
      continue;
    }
    const numeric = doc.numeric;
    if (numeric && !/^\d{1,9}$/.test(ref.number)) {
      out.unresolved.push(`${ref.text}: ${doc.description} numbers are whole numbers`);
      continue;
    }
    const { rows } = await q.query<{ id: number }>(
      `SELECT ${doc.idColumn} AS id FROM ${doc.table} WHERE ${doc.numberColumn} = $1${numeric ? '::integer' : ''} ORDER BY 1 LIMIT 1`,
      [ref.number],
    );
    if (!rows[0]) {
      out.unresolved.push(`${ref.text}: no ${doc.description} has number ${ref.number}`);
      continue;
    }
    out.links.push({ type: doc.type, id: rows[0].id });
  }
  return out;
}
