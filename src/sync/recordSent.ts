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
 * The eml row and its addresses in one statement, for a database without xTuple's contact tables and a message
 * that names no document: what xtbatch.emlsync_import does then, without the function's other statements. The
 * row is written with status O at once (the function's I then O happen in one transaction, which nobody sees
 * in between). A message already recorded (same hash) gives no row.
 *
 * synchronous_commit off for this transaction only: the job's outcome, written after this commit with a
 * synchronous one, flushes the WAL up to its own record and so this one with it. A crash before that loses the
 * record together with the job's "done", and the job runs again (docs/reliability.md); the record is never
 * missing for a job recorded done. (A done-notice is sent after its job's outcome: its record alone could be
 * lost by a database crash within the WAL writer's delay, a fraction of a second.)
 */
const STORE_SENT = `
WITH e AS (
  INSERT INTO xtbatch.eml (eml_hash, eml_date, eml_subj, eml_body, eml_msg, eml_status)
  VALUES ($1, $2, $3, $4, $5, 'O')
  ON CONFLICT (eml_hash) DO NOTHING
  RETURNING eml_id
), a AS (
  INSERT INTO xtbatch.emladdr (emladdr_eml_id, emladdr_type, emladdr_addr, emladdr_name)
  SELECT e.eml_id, x.t, x.a, x.n
    FROM e, unnest($6::text[], $7::text[], $8::text[]) WITH ORDINALITY AS x (t, a, n, o)
   ORDER BY x.o
)
SELECT e.eml_id, set_config('synchronous_commit', 'off', true) AS commit_mode FROM e`;

async function storeSent(pool: Pool, raw: Buffer, m: ParsedEmail): Promise<number | null> {
  const { rows } = await pool.query<{ eml_id: number }>({
    name: 'xtconnect-record-sent',
    text: STORE_SENT,
    values: [m.hash, m.date, m.subject, m.body, raw, m.addresses.map((a) => a.type), m.addresses.map((a) => a.addr), m.addresses.map((a) => a.name)],
  });
  return rows[0]?.eml_id ?? null;
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
