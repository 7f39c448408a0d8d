/**
 * The record of a sent message in xtbatch.eml and xtbatch.emladdr, as SQL that several statements share: the
 * record's own statement (src/sync/recordSent.ts) and the job outcome's statement that carries the records of the
 * mail its jobs sent (finishMany in src/db/queries/batch.ts).
 */

/**
 * Bytes of messages one statement carries at most (a bigger message goes alone): the client and the server each
 * hold the whole statement in memory, and it stays far below the server's 1 GB limit for one value.
 */
export const SENT_MAIL_STATEMENT_BYTES = 4 * 1024 * 1024;

/** One sent message as its record stores it: the bytes sent, and what xtbatch.eml and emladdr hold of them. */
export interface SentMail {
  raw: Buffer;
  /** SHA-1 of `raw`, as xTuple computes eml_hash. */
  hash: Buffer;
  date: Date;
  subject: string;
  body: string;
  addresses: ReadonlyArray<{ type: 'FROM' | 'TO' | 'CC' | 'BCC'; addr: string; name: string }>;
  /**
   * Set when the record needs xTuple's import (xtbatch.emlsync_import): the database has xTuple's contact tables,
   * or the message names a document. `own`: the sender's addresses, never linked as contacts. Such a record is
   * written in its own transaction, not in the outcomes' statement (src/daemon/completer.ts).
   */
  links?: { own: string[] };
}

/**
 * CTEs `sent_m`, `sent_e` (the eml rows, RETURNING eml_id and eml_hash) and `sent_a` (their addresses), reading
 * the ten parameters from `$first` on (sentMailParams). For a database without xTuple's contact tables and
 * messages that name no document: what xtbatch.emlsync_import does then, without the function's other statements.
 * The rows are written with status O at once (the function's I then O happen in one transaction, which nobody
 * sees in between). A message already recorded (same hash) gives no row. The address rows number their message by
 * its place (1-based) in the message parameters, and keep their order.
 *
 * A data-modifying CTE runs to completion whether or not the statement's query reads it, so a statement may add
 * these to its own work and ignore their output.
 */
export function sentMailCtes(first: number): string {
  const p = (i: number): string => `$${first + i}`;
  return `sent_m AS (
  -- The messages travel as one binary parameter (their bytes one after the other) with their lengths: an array
  -- of bytea would be sent as hex text, twice the size, built and escaped by the client for each message.
  SELECT hash, date, subj, body, substring(${p(9)}::bytea FROM (sum(len) OVER (ORDER BY o) - len + 1)::int FOR len) AS msg, o
    FROM unnest(${p(0)}::bytea[], ${p(1)}::timestamptz[], ${p(2)}::text[], ${p(3)}::text[], ${p(4)}::int[]) WITH ORDINALITY AS m (hash, date, subj, body, len, o)
), sent_e AS (
  INSERT INTO xtbatch.eml (eml_hash, eml_date, eml_subj, eml_body, eml_msg, eml_status)
  SELECT hash, date, subj, body, msg, 'O' FROM sent_m ORDER BY o
  ON CONFLICT (eml_hash) DO NOTHING
  RETURNING eml_id, eml_hash
), sent_a AS (
  INSERT INTO xtbatch.emladdr (emladdr_eml_id, emladdr_type, emladdr_addr, emladdr_name)
  SELECT sent_e.eml_id, x.t, x.a, x.n
    FROM unnest(${p(5)}::int[], ${p(6)}::text[], ${p(7)}::text[], ${p(8)}::text[]) WITH ORDINALITY AS x (msg, t, a, n, o)
    JOIN sent_m ON sent_m.o = x.msg
    JOIN sent_e ON sent_e.eml_hash = sent_m.hash
   ORDER BY x.o
)`;
}

/** The same bytes twice: only the first can be new (the second has the same hash), so only the first is sent. */
export function distinctSentMail(items: readonly SentMail[]): { rows: SentMail[]; firstOf: Map<string, number> } {
  const firstOf = new Map<string, number>();
  items.forEach((it, i) => {
    const h = it.hash.toString('hex');
    if (!firstOf.has(h)) firstOf.set(h, i);
  });
  return { rows: [...firstOf.values()].map((i) => items[i]!), firstOf };
}

/** The ten parameters of sentMailCtes for messages whose hashes differ (distinctSentMail). */
export function sentMailParams(rows: readonly SentMail[]): unknown[] {
  const addrs = rows.flatMap((m, i) => m.addresses.map((a) => ({ msg: i + 1, ...a })));
  return [rows.map((m) => m.hash), rows.map((m) => m.date), rows.map((m) => m.subject), rows.map((m) => m.body), rows.map((m) => m.raw.length),
    addrs.map((a) => a.msg), addrs.map((a) => a.type), addrs.map((a) => a.addr), addrs.map((a) => a.name),
    sentBytes(rows)];
}

/** The messages' bytes one after the other, as one binary parameter (their lengths travel beside it). */
export function sentBytes(rows: readonly SentMail[]): Buffer {
  return rows.length === 1 ? rows[0]!.raw : Buffer.concat(rows.map((m) => m.raw));
}
