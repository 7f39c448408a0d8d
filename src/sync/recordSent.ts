import { GroupedWriter } from '../db/groupedWriter';
import type { Pool } from '../db/pool';
import { errorMessage } from '../errors';
import type { Logger } from '../log';
import { recordFromComposed } from '../mail/sentRecord';
import type { ComposedFrom, OnSent, SentEnvelope } from '../mail/transport';
import { crmCatalog } from './crmCatalog';
import { importMessage } from './importMessage';
import { parseEmail, type ParsedEmail } from './parseMessage';
import { findReferences } from './references';

/**
 * The eml rows and their addresses of several sent messages in one statement, for a database without xTuple's
 * contact tables and messages that name no document: what xtbatch.emlsync_import does then, without the
 * function's other statements. The rows are written with status O at once (the function's I then O happen in one
 * transaction, which nobody sees in between). A message already recorded (same hash) gives no row. `$6` numbers
 * each address with its message's place (1-based) in `$1`..`$5`; the addresses keep their order.
 *
 * synchronous_commit off for this transaction only: each job's outcome, written after this commit with a
 * synchronous one, flushes the WAL up to its own record and so this one with it. A crash before that loses the
 * record together with the job's "done", and the job runs again (docs/reliability.md); the record is never
 * missing for a job recorded done. (A done-notice is sent after its job's outcome: its record alone could be
 * lost by a database crash within the WAL writer's delay, a fraction of a second.)
 */
const STORE_SENT = `
WITH m AS (
  -- The messages travel as one binary parameter ($10, their bytes one after the other) with their lengths ($5):
  -- an array of bytea would be sent as hex text, twice the size, built and escaped by the client for each message.
  SELECT hash, date, subj, body, substring($10::bytea FROM (sum(len) OVER (ORDER BY o) - len + 1)::int FOR len) AS msg, o
    FROM unnest($1::bytea[], $2::timestamptz[], $3::text[], $4::text[], $5::int[]) WITH ORDINALITY AS m (hash, date, subj, body, len, o)
), e AS (
  INSERT INTO xtbatch.eml (eml_hash, eml_date, eml_subj, eml_body, eml_msg, eml_status)
  SELECT hash, date, subj, body, msg, 'O' FROM m ORDER BY o
  ON CONFLICT (eml_hash) DO NOTHING
  RETURNING eml_id, eml_hash
), a AS (
  INSERT INTO xtbatch.emladdr (emladdr_eml_id, emladdr_type, emladdr_addr, emladdr_name)
  SELECT e.eml_id, x.t, x.a, x.n
    FROM unnest($6::int[], $7::text[], $8::text[], $9::text[]) WITH ORDINALITY AS x (msg, t, a, n, o)
    JOIN m ON m.o = x.msg
    JOIN e ON e.eml_hash = m.hash
   ORDER BY x.o
)
SELECT e.eml_id, encode(e.eml_hash, 'hex') AS hash, set_config('synchronous_commit', 'off', true) AS commit_mode FROM e`;

interface SentRow {
  raw: Buffer;
  parsed: ParsedEmail;
}

/** Writes sent messages many per statement; resolves each to its new eml_id, or null when already recorded. */
async function storeSentRows(pool: Pool, items: SentRow[]): Promise<Array<number | null>> {
  // The same bytes twice in one statement: only the first can be new (the second would have the same hash).
  const hashes = items.map((it) => it.parsed.hash.toString('hex'));
  const first = new Map<string, number>();
  hashes.forEach((h, i) => {
    if (!first.has(h)) first.set(h, i);
  });
  const rows = [...first.values()].map((i) => items[i]!.parsed);
  const raws = [...first.values()].map((i) => items[i]!.raw);
  const addrs = rows.flatMap((m, i) => m.addresses.map((a) => ({ msg: i + 1, ...a })));
  const { rows: out } = await pool.query<{ eml_id: number; hash: string }>({
    name: 'xtconnect-record-sent',
    text: STORE_SENT,
    values: [rows.map((m) => m.hash), rows.map((m) => m.date), rows.map((m) => m.subject), rows.map((m) => m.body), raws.map((r) => r.length),
      addrs.map((a) => a.msg), addrs.map((a) => a.type), addrs.map((a) => a.addr), addrs.map((a) => a.name),
      raws.length === 1 ? raws[0]! : Buffer.concat(raws)],
  });
  const ids = new Map(out.map((r) => [r.hash, r.eml_id]));
  return hashes.map((h, i) => (first.get(h) === i ? ids.get(h) ?? null : null));
}

/**
 * One writer per pool: the records of messages sent at the same time by the daemon's job slots share a statement
 * (issue 17: one statement per message was a third of the daemon's statements for mail), and each message's record
 * is still committed before its job's outcome is written, since the handler waits for it. A statement holds at
 * most about 4 MB of messages (a bigger one goes alone): the client and the server each hold the whole statement
 * in memory, and it stays far below the server's 1 GB limit for one value.
 */
const GROUP_BYTES = 4 * 1024 * 1024;

const writers = new WeakMap<Pool, GroupedWriter<SentRow, number | null>>();

function storeSent(pool: Pool, raw: Buffer, parsed: ParsedEmail): Promise<number | null> {
  let w = writers.get(pool);
  if (!w) {
    w = new GroupedWriter((items) => storeSentRows(pool, items), { weigh: (it) => it.raw.length, maxWeight: GROUP_BYTES });
    writers.set(pool, w);
  }
  return w.submit({ raw, parsed });
}

/**
 * Records a message the daemon sent as an xtbatch.eml row (status O) with its addresses, as xTuple's batch manager
 * did; Bcc recipients come from the envelope, since the sent headers do not show them. Existing contacts of the
 * recipients are linked and [xtref:...] references too, but sending never creates contacts. A message already
 * recorded (same bytes) is left alone. Returns the new eml_id, or null for a duplicate.
 *
 * The stored message is the raw bytes sent. Its subject, body, addresses and date are taken from what it was
 * composed from when `composed` is given and holds nothing unusual (src/mail/sentRecord.ts), else parsed from the
 * bytes as imported mail is: the same fields either way, without a MIME parse per sent message.
 */
export async function recordSent(pool: Pool, raw: Buffer, envelope: SentEnvelope, composed?: ComposedFrom): Promise<number | null> {
  const parsed = (composed && recordFromComposed(raw, composed, envelope.to)) || (await parseEmail(raw, new Date(), envelope.to));
  const catalog = await crmCatalog(pool);
  if (!catalog.contacts && findReferences(parsed.subject, parsed.body).length === 0) return storeSent(pool, raw, parsed);
  const own = new Set<string>();
  if (envelope.from) own.add(envelope.from.toLowerCase());
  for (const a of parsed.addresses) if (a.type === 'FROM') own.add(a.addr.toLowerCase());
  // durable false: as STORE_SENT, the job's outcome commits after this and flushes it.
  const out = await importMessage(pool, raw, parsed, { catalog, contacts: catalog.contacts ? { create: false, exclusions: [], own } : null, durable: false });
  return out.emlId;
}

/**
 * The mailer's onSent hook (createMailer(cfg, { onSent: sentRecorder(pool, log) })). It never throws: a record that
 * cannot be written is logged, and the mail stays sent.
 */
export function sentRecorder(pool: Pool, log: Logger): OnSent {
  return async (raw, envelope, info, composed) => {
    try {
      await recordSent(pool, raw, envelope, composed);
    } catch (err) {
      log.warn(`mail ${info.messageId} was sent, but recording it in xtbatch.eml failed: ${errorMessage(err)}`, { scope: 'mail' });
    }
  };
}
