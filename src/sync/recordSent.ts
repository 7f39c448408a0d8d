import type { Pool } from '../db/pool';
import { errorMessage } from '../errors';
import type { Logger } from '../log';
import type { OnSent, SentEnvelope } from '../mail/transport';
import { crmCatalog } from './crmCatalog';
import { importMessage } from './importMessage';
import { parseEmail } from './parseMessage';

/**
 * Records a message the daemon sent as an xtbatch.eml row (status O) with its addresses, as xTuple's batch manager
 * did; Bcc recipients come from the envelope, since the sent headers do not show them. Existing contacts of the
 * recipients are linked and [xtref:...] references too, but sending never creates contacts. A message already
 * recorded (same bytes) is left alone. Returns the new eml_id, or null for a duplicate.
 */
export async function recordSent(pool: Pool, raw: Buffer, envelope: SentEnvelope): Promise<number | null> {
  const parsed = await parseEmail(raw, new Date(), envelope.to);
  const catalog = await crmCatalog(pool);
  const own = new Set<string>();
  if (envelope.from) own.add(envelope.from.toLowerCase());
  for (const a of parsed.addresses) if (a.type === 'FROM') own.add(a.addr.toLowerCase());
  const out = await importMessage(pool, raw, parsed, { catalog, contacts: catalog.contacts ? { create: false, exclusions: [], own } : null });
  return out.emlId;
}

/**
 * The mailer's onSent hook (createMailer(cfg, { onSent: sentRecorder(pool, log) })). It never throws: a record that
 * cannot be written is logged, and the mail stays sent.
 */
export function sentRecorder(pool: Pool, log: Logger): OnSent {
  return async (raw, envelope, info) => {
    try {
      await recordSent(pool, raw, envelope);
    } catch (err) {
      log.warn(`mail ${info.messageId} was sent, but recording it in xtbatch.eml failed: ${errorMessage(err)}`, { scope: 'mail' });
    }
  };
}
