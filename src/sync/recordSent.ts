import { GroupedWriter } from '../db/groupedWriter';
import type { Pool } from '../db/pool';
import { distinctSentMail, SENT_MAIL_STATEMENT_BYTES, sentBytes, sentMailCtes, sentMailParams, type SentMail } from '../db/queries/sentMail';
import { errorMessage } from '../errors';
import type { Logger } from '../log';
import { recordFromComposed } from '../mail/sentRecord';
import type { ComposedFrom, OnSent, SendingJob, SentEnvelope } from '../mail/transport';
import { contactArgs, type ContactPolicy } from './contacts';
import { crmCatalog, type ContactTables } from './crmCatalog';
import { importMessage } from './importMessage';
import { parseEmail } from './parseMessage';
import { RecordsApart } from './recordsApart';
import { findReferences } from './references';

/**
 * The record's own statement (sentMailCtes), for a message sent outside a job's outcome (a done-notice, a record
 * the outcome's statement could not take) or by a caller outside the daemon.
 *
 * synchronous_commit off for this transaction only: a job's outcome written after this commit with a synchronous
 * one flushes the WAL up to its own record and so this one with it. (A done-notice is sent after its job's
 * outcome: its record alone could be lost by a database crash within the WAL writer's delay, a fraction of a
 * second.) The records of a job's own mail are written in its outcome's statement instead (finishMany).
 */
const STORE_SENT = `
WITH ${sentMailCtes(1)}
SELECT sent_e.eml_id, encode(sent_e.eml_hash, 'hex') AS hash, set_config('synchronous_commit', 'off', true) AS commit_mode FROM sent_e`;

/** Writes sent messages many per statement; resolves each to its new eml_id, or null when already recorded. */
async function storeSentRows(pool: Pool, items: SentMail[]): Promise<Array<number | null>> {
  const { rows, firstOf } = distinctSentMail(items);
  const { rows: out } = await pool.query<{ eml_id: number; hash: string }>({ name: 'xtconnect-record-sent', text: STORE_SENT, values: sentMailParams(rows) });
  const ids = new Map(out.map((r) => [r.hash, r.eml_id]));
  return items.map((it, i) => {
    const h = it.hash.toString('hex');
    return firstOf.get(h) === i ? ids.get(h) ?? null : null;
  });
}

/**
 * One GroupedWriter of records per pool and kind: records that arrive at the same time share a statement, of at
 * most SENT_MAIL_STATEMENT_BYTES of messages.
 */
function writersPerPool(write: (pool: Pool, items: SentMail[]) => Promise<Array<number | null>>): (pool: Pool) => GroupedWriter<SentMail, number | null> {
  const writers = new WeakMap<Pool, GroupedWriter<SentMail, number | null>>();
  return (pool) => {
    let w = writers.get(pool);
    if (!w) {
      w = new GroupedWriter((items) => write(pool, items), { weigh: (it) => it.raw.length, maxWeight: SENT_MAIL_STATEMENT_BYTES });
      writers.set(pool, w);
    }
    return w;
  };
}

const plainWriter = writersPerPool(storeSentRows);

function storeSent(pool: Pool, mail: SentMail): Promise<number | null> {
  return plainWriter(pool).submit(mail);
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
 *
 * With `job` (a message a job sent) the record is handed to the job instead and written with its outcome (issue 17:
 * in the outcomes' statement on a plain database, one statement fewer per group of jobs finishing together; by the
 * Completer right before it when it needs xTuple's import), and retried with the outcome while the database is
 * away; null is returned then.
 */
export async function recordSent(pool: Pool, raw: Buffer, envelope: SentEnvelope, composed?: ComposedFrom, job?: SendingJob): Promise<number | null> {
  const mail = await sentMailOf(pool, raw, envelope, composed);
  if (job) {
    job.recordWithOutcome(mail);
    return null;
  }
  return mail.links ? importLinked(pool, mail) : storeSent(pool, mail);
}

/** The record of a sent message: its fields, and the links to make when xTuple's contacts or a reference call for them. */
async function sentMailOf(pool: Pool, raw: Buffer, envelope: SentEnvelope, composed?: ComposedFrom): Promise<SentMail> {
  const parsed = (composed && recordFromComposed(raw, composed, envelope.to)) || (await parseEmail(raw, new Date(), envelope.to));
  const catalog = await crmCatalog(pool);
  let mail: SentMail = { raw, ...parsed };
  if (catalog.contacts || findReferences(parsed.subject, parsed.body).length > 0) {
    // The sender's own addresses are never linked as contacts.
    const own = new Set<string>();
    if (envelope.from) own.add(envelope.from.toLowerCase());
    for (const a of parsed.addresses) if (a.type === 'FROM') own.add(a.addr.toLowerCase());
    mail = { ...mail, links: { own: [...own] } };
  }
  return mail;
}

/** Sending links existing contacts and never makes one; the sender's own addresses are never linked. */
function sendingPolicy(mail: SentMail): ContactPolicy {
  return { create: false, exclusions: [], own: new Set(mail.links?.own ?? []) };
}

/**
 * A record with contact or document links, by xtbatch.emlsync_import (one transaction per message). Durable false:
 * the outcome of the job that sent it is committed after this (by the Completer, src/daemon/completer.ts) and
 * flushes the WAL up to both.
 */
async function importLinked(pool: Pool, mail: SentMail): Promise<number | null> {
  const catalog = await crmCatalog(pool);
  const contacts = catalog.contacts ? sendingPolicy(mail) : null;
  const out = await importMessage(pool, mail.raw, { ...mail, addresses: [...mail.addresses] }, { catalog, contacts, durable: false });
  return out.emlId;
}

/** sql/0034: emlsync_import for each message, in one statement. */
const IMPORT_SENT = `SELECT o_msg, o_eml_id FROM xtbatch.emlsync_import_sent($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`;

/** Records linked to contacts (no document references), many in one statement; each message's eml_id or null. */
async function importSentRows(pool: Pool, tables: ContactTables, mails: readonly SentMail[]): Promise<Array<number | null>> {
  const addrs = mails.flatMap((m, i) => m.addresses.map((a) => ({ msg: i + 1, ...a })));
  const contacts = mails.flatMap((m, i) =>
    contactArgs([...m.addresses], sendingPolicy(m), tables).addrs.map((addr) => ({ msg: i + 1, addr })));
  const { rows } = await pool.query<{ o_msg: number; o_eml_id: number | null }>({
    name: 'xtconnect-emlsync-import-sent',
    text: IMPORT_SENT,
    values: [mails.map((m) => m.hash), mails.map((m) => m.date), mails.map((m) => m.subject), mails.map((m) => m.body), mails.map((m) => m.raw.length),
      sentBytes(mails),
      addrs.map((a) => a.msg), addrs.map((a) => a.type), addrs.map((a) => a.addr), addrs.map((a) => a.name),
      contacts.map((c) => c.msg), contacts.map((c) => c.addr), JSON.stringify(contactArgs([], sendingPolicy(mails[0]!), tables).options)],
  });
  const ids = new Map(rows.map((r) => [r.o_msg, r.o_eml_id]));
  return mails.map((_, i) => ids.get(i + 1) ?? null);
}

/**
 * Records with links, as many as possible in one statement: those linked to contacts only share one call of
 * emlsync_import_sent, of at most SENT_MAIL_STATEMENT_BYTES of messages each (grouped by a GroupedWriter, which
 * writes a refused group again one record at a time); a message naming documents needs its references read first
 * and goes alone through importMessage. Settles one result per mail, in order.
 */
async function importLinkedMany(pool: Pool, mails: readonly SentMail[]): Promise<Array<PromiseSettledResult<unknown>>> {
  const tables = (await crmCatalog(pool)).contacts;
  const grouped = mails.map((m) => tables !== null && findReferences(m.subject, m.body).length === 0);
  const together = linkedWriter(pool).submitMany(mails.filter((_, i) => grouped[i]));
  let next = 0;
  return Promise.allSettled(mails.map((m, i) => (grouped[i] ? together[next++]! : importLinked(pool, m))));
}

// The contact tables are read from the catalog (cached per pool) at each write, not kept from the first one.
const linkedWriter = writersPerPool(async (pool, items) => {
  const tables = (await crmCatalog(pool)).contacts;
  if (!tables) throw new Error('xTuple\'s contact tables are no longer in this database');
  return importSentRows(pool, tables, items);
});

/**
 * The mailer's onSent hook (createMailer(cfg, { onSent: sentRecorder(pool, log) })). It never throws: a record that
 * cannot be written is logged, and the mail stays sent. With `apart` (the daemon's SentMailWriters.apart), the
 * record of mail sent outside a job is handed there, to be tried again while the database is away.
 */
export function sentRecorder(pool: Pool, log: Logger, apart?: (mails: readonly SentMail[]) => void): OnSent {
  return async (raw, envelope, info, composed, job) => {
    try {
      if (apart && !job) apart([await sentMailOf(pool, raw, envelope, composed)]);
      else await recordSent(pool, raw, envelope, composed, job);
    } catch (err) {
      log.warn(`mail ${info.messageId} was sent, but recording it in xtbatch.eml failed: ${errorMessage(err)}`, { scope: 'mail' });
    }
  };
}

function logRecordFailed(log: Logger, m: SentMail, err: unknown): void {
  log.warn(`a sent mail ("${m.subject}", ${m.date.toISOString()}) could not be recorded in xtbatch.eml: ${errorMessage(err)}`, { scope: 'mail' });
}

/** How the daemon writes the records of its jobs' mail that do not go in the outcomes' statement. */
export interface SentMailWriters {
  /**
   * Records that were to go with a job's outcome but cannot: the job has no outcome to write (its lease was lost),
   * or the outcomes' statement was refused with them (it is written again without); and the records of mail sent
   * outside jobs (done-notices). Kept and tried again while the database is away (RecordsApart); each record that
   * cannot be written is logged; the mail stays sent.
   */
  apart(mails: readonly SentMail[]): void;
  /** Waits up to `ms` for the records written apart (the daemon's stop); true when none is left. */
  drainApart(ms: number): Promise<boolean>;
  /** No more tries: each record still waiting is logged as not recorded. */
  stopApart(): void;
  /**
   * Records with links (xTuple's contacts, documents), written by the Completer right before their jobs' outcomes.
   * One result per mail, rejected as the database refused it; the caller retries them with the outcomes while the
   * database is away.
   */
  linked(mails: readonly SentMail[]): Promise<Array<PromiseSettledResult<unknown>>>;
  /** Logs a record that will not be written. */
  failed(mail: SentMail, err: unknown): void;
}

/** `retryDelayMs`: the wait before the next try of records written apart, after `failures` failed tries in a row. */
export function sentMailWriters(pool: Pool, log: Logger, retryDelayMs: (failures: number) => number): SentMailWriters {
  const failed = (m: SentMail, err: unknown): void => logRecordFailed(log, m, err);
  const apart = new RecordsApart({ write: (m) => (m.links ? importLinked(pool, m) : storeSent(pool, m)), failed, log, delayMs: retryDelayMs });
  return {
    apart: (mails) => apart.add(mails),
    drainApart: (ms) => apart.drain(ms),
    stopApart: () => apart.stop(),
    linked: (mails) => importLinkedMany(pool, mails),
    failed,
  };
}
