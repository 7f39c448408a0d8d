import pg from 'pg';
import type { Queryable } from './emlStore';

/** Where a reference type's documents live: `[xtref:S-012345]` → cohead.cohead_number = '012345'. */
export interface DocumentTable {
  /** The emlassc_type written (xTuple's document type code). */
  type: string;
  description: string;
  /** Quoted, schema-qualified; built only from catalog names. */
  table: string;
  idColumn: string;
  numberColumn: string;
  /** The number column is an integer (incidents): "00042" and "42" name the same document. */
  numeric: boolean;
}

export interface ContactTables {
  /** xTuple 4.x keeps a primary address in cntct_email as well (its trigger copies it into cntcteml). */
  hasEmailColumn: boolean;
  hasNotesColumn: boolean;
  /** xTuple numbers contacts with fetchNextNumber('ContactNumber'); without it, cntct_number's default applies. */
  numberedByFunction: boolean;
}

/** What the database offers email sync, read from the catalog once per pool. */
export interface CrmCatalog {
  /** null: no xTuple contact tables (cntct with cntct_active, cntcteml); contact linking is off. */
  contacts: ContactTables | null;
  /** Reference type code as written in `[xtref:CODE-number]` (upper case) → its table, for tables that exist. */
  documents: Map<string, DocumentTable>;
}

interface Candidate {
  codes: string[];
  type: string;
  description: string;
  table: string;
  id: string;
  number: string;
}

/**
 * Reference types, with xTuple's document type codes (the ones xtbatch.emlassc accepts). PO is accepted for P.
 * Invoices have no emlassc type in xTuple, so `[xtref:I-...]` / `[xtref:INV-...]` are reported, not linked.
 */
const CANDIDATES: Candidate[] = [
  { codes: ['S'], type: 'S', description: 'sales order', table: 'cohead', id: 'cohead_id', number: 'cohead_number' },
  { codes: ['Q'], type: 'Q', description: 'quote', table: 'quhead', id: 'quhead_id', number: 'quhead_number' },
  { codes: ['INCDT'], type: 'INCDT', description: 'incident', table: 'incdt', id: 'incdt_id', number: 'incdt_number' },
  { codes: ['J'], type: 'J', description: 'project', table: 'prj', id: 'prj_id', number: 'prj_number' },
  { codes: ['CRMA'], type: 'CRMA', description: 'account', table: 'crmacct', id: 'crmacct_id', number: 'crmacct_number' },
  { codes: ['T'], type: 'T', description: 'contact', table: 'cntct', id: 'cntct_id', number: 'cntct_number' },
  { codes: ['P', 'PO'], type: 'P', description: 'purchase order', table: 'pohead', id: 'pohead_id', number: 'pohead_number' },
  { codes: ['C'], type: 'C', description: 'customer', table: 'custinfo', id: 'cust_id', number: 'cust_number' },
  { codes: ['V'], type: 'V', description: 'vendor', table: 'vendinfo', id: 'vend_id', number: 'vend_number' },
  { codes: ['EMP'], type: 'EMP', description: 'employee', table: 'emp', id: 'emp_id', number: 'emp_code' },
  { codes: ['OPP'], type: 'OPP', description: 'opportunity', table: 'ophead', id: 'ophead_id', number: 'ophead_number' },
  { codes: ['TO'], type: 'TO', description: 'transfer order', table: 'tohead', id: 'tohead_id', number: 'tohead_number' },
  { codes: ['RA'], type: 'RA', description: 'return authorization', table: 'rahead', id: 'rahead_id', number: 'rahead_number' },
];

/** Codes people write that name something xtbatch.emlassc cannot hold; said in the log instead of "unknown". */
export const UNLINKABLE: Record<string, string> = {
  I: 'invoices have no association type in xtbatch.emlassc',
  INV: 'invoices have no association type in xtbatch.emlassc',
};

const SCHEMA = 'public';

async function readCatalog(q: Queryable): Promise<CrmCatalog> {
  const tables = [...new Set([...CANDIDATES.map((c) => c.table), 'cntct', 'cntcteml'])];
  const { rows } = await q.query<{ t: string; c: string; type: string }>(
    `SELECT c.relname AS t, a.attname AS c, format_type(a.atttypid, NULL) AS type
       FROM pg_attribute a
       JOIN pg_class c ON c.oid = a.attrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relname = ANY ($2::text[]) AND c.relkind IN ('r', 'p', 'v')
        AND a.attnum > 0 AND NOT a.attisdropped`,
    [SCHEMA, tables],
  );
  const columns = new Map<string, Map<string, string>>();
  for (const r of rows) {
    if (!columns.has(r.t)) columns.set(r.t, new Map());
    columns.get(r.t)!.set(r.c, r.type);
  }
  const has = (t: string, ...cols: string[]): boolean => cols.every((c) => columns.get(t)?.has(c));

  const documents = new Map<string, DocumentTable>();
  for (const c of CANDIDATES) {
    if (!has(c.table, c.id, c.number)) continue;
    const doc: DocumentTable = {
      type: c.type,
      description: c.description,
      table: `${pg.escapeIdentifier(SCHEMA)}.${pg.escapeIdentifier(c.table)}`,
      idColumn: pg.escapeIdentifier(c.id),
      numberColumn: pg.escapeIdentifier(c.number),
      numeric: /^(integer|bigint|smallint|numeric)/.test(columns.get(c.table)!.get(c.number)!),
    };
    for (const code of c.codes) documents.set(code, doc);
  }

  let contacts: ContactTables | null = null;
  if (has('cntct', 'cntct_id', 'cntct_number', 'cntct_first_name', 'cntct_last_name', 'cntct_active') && has('cntcteml', 'cntcteml_cntct_id', 'cntcteml_email')) {
    const fn = await q.query<{ present: boolean }>(
      `SELECT EXISTS (SELECT 1 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                       WHERE n.nspname = $1 AND p.proname = 'fetchnextnumber') AS present`,
      [SCHEMA],
    );
    contacts = {
      hasEmailColumn: has('cntct', 'cntct_email'),
      hasNotesColumn: has('cntct', 'cntct_notes'),
      numberedByFunction: Boolean(fn.rows[0]?.present),
    };
  }
  return { contacts, documents };
}

const cache = new WeakMap<object, Promise<CrmCatalog>>();

/**
 * The catalog as the pool's database has it, read on first use. xTuple's tables do not come and go while a daemon
 * runs; a restart picks up an ERP installed later.
 */
export function crmCatalog(pool: Queryable): Promise<CrmCatalog> {
  let p = cache.get(pool);
  if (!p) {
    p = readCatalog(pool);
    cache.set(pool, p);
    // A failed read (database down) is not remembered.
    p.catch(() => cache.delete(pool));
  }
  return p;
}
