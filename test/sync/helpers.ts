import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Settings } from '../../src/db/queries/settings';
import { parseMailboxes } from '../../src/config';
import type { Mailbox } from '../../src/sync/mailboxes';
import type { TestDatabase } from '../support/db';
import { IMAP_PASSWORD, IMAP_USER, type TestImap } from './imapServer';

/** xTuple's contact and document tables (test/fixtures/xtuple-crm.sql), read when asked for (the bench runs from dist-bench/). */
export function crmFixture(): string {
  return fs.readFileSync(path.join(__dirname, '..', 'fixtures', 'xtuple-crm.sql'), 'utf8');
}

/** Empties what the sync tests write; the contact tables only where the fixture made them. */
export const RESET_SQL = `TRUNCATE xtbatch.batch, xtbatch.batchparam, xtbatch.eml, xtbatch.emladdr, xtbatch.emlassc, xtbatch.emlsync_folder, xtbatch.xtconnect_emlsync_failed CASCADE;
  DELETE FROM xtbatch.contact_exclusion;
  DO $$ BEGIN IF to_regclass('public.cntct') IS NOT NULL THEN TRUNCATE public.cntct, public.cntcteml CASCADE; END IF; END $$;`;

/** A mailbox entry as the config file would give it (so parseMailboxes' defaults apply), pointed at the test server. */
export function mailboxFor(imap: TestImap, over: Record<string, unknown> = {}): Mailbox {
  const [mb] = parseMailboxes(
    [{ name: 'sales', host: '127.0.0.1', port: imap.port, security: 'none', user: IMAP_USER, password: IMAP_PASSWORD, timeoutMs: 5000, ...over }],
    'test',
    {},
  );
  return mb!;
}

export function settings(over: Partial<Settings> = {}): Settings {
  return { enabled: true, defaultFrom: 'Batch Manager <erp@ourco.example>', purgeDays: null, createContacts: true, exclusions: [], ...over };
}

export interface MessageSpec {
  from?: string;
  to?: string;
  cc?: string;
  subject?: string;
  body?: string;
  date?: string;
  messageId?: string;
  headers?: string[];
}

let counter = 0;

/** A plain text message (UTF-8, 8bit). Each gets its own Message-ID, so no two are byte-identical unless asked. */
export function plain(spec: MessageSpec = {}): Buffer {
  counter++;
  const lines = [
    `From: ${spec.from ?? 'Alice Buyer <alice@customer.example>'}`,
    `To: ${spec.to ?? 'Sales <sync@example.net>'}`,
    ...(spec.cc ? [`Cc: ${spec.cc}`] : []),
    `Subject: ${spec.subject ?? `hello ${counter}`}`,
    `Date: ${spec.date ?? 'Tue, 03 Nov 2026 10:15:00 +0100'}`,
    `Message-ID: ${spec.messageId ?? `<${counter}.${crypto.randomBytes(6).toString('hex')}@customer.example>`}`,
    'MIME-Version: 1.0',
    ...(spec.headers ?? ['Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: 8bit']),
    '',
    spec.body ?? `Body of message ${counter}.`,
    '',
  ];
  return Buffer.from(lines.join('\r\n'), 'utf8');
}

/** multipart/mixed: a text part and a PDF attachment. */
export function multipart(attachment: Buffer, spec: MessageSpec = {}): Buffer {
  const b = `b-${crypto.randomBytes(8).toString('hex')}`;
  const head = plain({ ...spec, body: '', headers: [`Content-Type: multipart/mixed; boundary="${b}"`] }).toString('utf8').replace(/\r\n$/, '');
  const b64 = attachment.toString('base64').replace(/.{76}/g, '$&\r\n');
  return Buffer.from([
    head,
    `--${b}`,
    'Content-Type: text/plain; charset=utf-8',
    '',
    spec.body ?? 'Please find the order attached.',
    `--${b}`,
    'Content-Type: application/pdf; name="order.pdf"',
    'Content-Disposition: attachment; filename="order.pdf"',
    'Content-Transfer-Encoding: base64',
    '',
    b64,
    `--${b}--`,
    '',
  ].join('\r\n'), 'utf8');
}

export function htmlOnly(html: string, spec: MessageSpec = {}): Buffer {
  return plain({ ...spec, body: html, headers: ['Content-Type: text/html; charset=utf-8', 'Content-Transfer-Encoding: 8bit'] });
}

/** ISO-8859-1 throughout: 8-bit body bytes, and encoded words in Subject and From. */
export function latin1(spec: MessageSpec = {}): Buffer {
  const text = plain({
    from: '=?ISO-8859-1?Q?Ren=E9_M=FCller?= <rene@lieferant.example>',
    subject: '=?ISO-8859-1?Q?Bestellung_f=FCr_B=FCro?=',
    ...spec,
    body: spec.body ?? 'Grüße aus Köln, café crème',
    headers: ['Content-Type: text/plain; charset=ISO-8859-1', 'Content-Transfer-Encoding: 8bit'],
  }).toString('utf8');
  return Buffer.from(text, 'latin1');
}

export interface EmlRow {
  eml_id: number;
  eml_subj: string;
  eml_body: string;
  eml_status: string;
  eml_msg: Buffer;
  eml_hash: Buffer;
  eml_date: Date;
}

export async function emlRows(db: TestDatabase): Promise<EmlRow[]> {
  return (await db.pool.query<EmlRow>(`SELECT * FROM xtbatch.eml ORDER BY eml_id`)).rows;
}

/**
 * Subjects of every eml row, in natural order ("m2" before "m10"): messages of one batch are imported side by side,
 * so eml_id order is arrival order only up to the import window.
 */
export async function subjects(db: TestDatabase): Promise<string[]> {
  return (await emlRows(db)).map((r) => r.eml_subj).sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
}

export async function emlBySubject(db: TestDatabase, subject: string): Promise<EmlRow> {
  const { rows } = await db.pool.query<EmlRow>(`SELECT * FROM xtbatch.eml WHERE eml_subj = $1`, [subject]);
  if (rows.length !== 1) throw new Error(`expected one eml row with subject ${JSON.stringify(subject)}, found ${rows.length}`);
  return rows[0]!;
}

export async function addressesOf(db: TestDatabase, emlId: number): Promise<string[]> {
  const { rows } = await db.pool.query<{ t: string; a: string; n: string }>(
    `SELECT emladdr_type AS t, emladdr_addr AS a, emladdr_name AS n FROM xtbatch.emladdr WHERE emladdr_eml_id = $1 ORDER BY emladdr_id`,
    [emlId],
  );
  return rows.map((r) => `${r.t} ${r.a}${r.n ? ` (${r.n})` : ''}`);
}

export async function linksOf(db: TestDatabase, emlId: number): Promise<string[]> {
  const { rows } = await db.pool.query<{ t: string; id: number }>(
    `SELECT emlassc_type AS t, emlassc_assc_id AS id FROM xtbatch.emlassc WHERE emlassc_eml_id = $1 ORDER BY emlassc_type, emlassc_assc_id`,
    [emlId],
  );
  return rows.map((r) => `${r.t}:${r.id}`);
}

export async function contactEmails(db: TestDatabase): Promise<string[]> {
  const { rows } = await db.pool.query<{ e: string }>(`SELECT lower(cntcteml_email) AS e FROM public.cntcteml ORDER BY 1`);
  return rows.map((r) => r.e);
}
