import fs from 'node:fs';
import { Writable } from 'node:stream';
import winston from 'winston';
import type { Config } from '../../src/config';
import type { Logger } from '../../src/log';
import { testConfig } from '../support/config';
import type { TestDatabase } from '../support/db';
import type { Received, TestSmtp } from '../support/smtp';
import { waitFor } from '../support/wait';

type SmtpSection = NonNullable<Config['smtp']>;

/** The smtp section for a loopback test server: plain SMTP, no login unless given. */
export function smtpSection(port: number, over: Partial<SmtpSection> = {}): SmtpSection {
  return {
    host: '127.0.0.1',
    port,
    security: 'none',
    user: null,
    password: null,
    rejectUnauthorized: false,
    maxConnections: 2,
    connectionTimeoutMs: 2000,
    ...over,
  };
}

/**
 * testConfig, remembering the temporary data folder it makes so that the file's afterAll can remove it.
 */
export function configMaker(): { config: (...args: Parameters<typeof testConfig>) => Config; cleanup: () => void } {
  const dirs: string[] = [];
  return {
    config(url, over) {
      const cfg = testConfig(url, over);
      dirs.push(cfg.dataDir);
      return cfg;
    },
    cleanup() {
      for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
    },
  };
}

export interface JobRow {
  batch_id: number;
  batch_action: string;
  batch_parameter: string | null;
  batch_user: string | null;
  batch_email: string | null;
  batch_cc: string | null;
  batch_bcc: string | null;
  batch_replyto: string | null;
  batch_fromemail: string | null;
  batch_subject: string | null;
  batch_responsebody: string | null;
  batch_filename: string | null;
  batch_emailhtml: boolean | null;
  batch_submitted: string | null;
  batch_scheduled: string;
  batch_started: string | null;
  batch_completed: string | null;
  batch_exitstatus: string | null;
  batch_attempts: number;
  batch_last_error: string | null;
  batch_locked_by: string | null;
  batch_result: {
    messageId?: string;
    accepted?: string[];
    rejected?: string[];
    deliveredTo?: string;
    attachment?: string;
  } | null;
}

export async function jobRow(db: TestDatabase, id: number): Promise<JobRow> {
  const { rows } = await db.pool.query<JobRow>(`SELECT * FROM xtbatch.batch WHERE batch_id = $1`, [id]);
  if (!rows[0]) throw new Error(`job ${id} does not exist`);
  return rows[0];
}

/** Waits until the job has batch_completed set (done or failed), and returns its row. */
export async function finished(db: TestDatabase, id: number, timeoutMs = 15_000): Promise<JobRow> {
  return waitFor(`job ${id} to finish`, async () => {
    const r = await jobRow(db, id);
    return r.batch_completed !== null ? r : null;
  }, timeoutMs);
}

/** Waits until every job has finished; returns the rows in the order of `ids`. */
export async function allFinished(db: TestDatabase, ids: number[], timeoutMs = 15_000): Promise<JobRow[]> {
  return waitFor(`jobs ${ids.join(', ')} to finish`, async () => {
    const { rows } = await db.pool.query<JobRow>(
      `SELECT * FROM xtbatch.batch WHERE batch_id = ANY ($1::int[]) AND batch_completed IS NOT NULL`, [ids]);
    if (rows.length !== ids.length) return null;
    const byId = new Map(rows.map((r) => [r.batch_id, r]));
    return ids.map((id) => byId.get(id)!);
  }, timeoutMs);
}

export function batchIdOf(m: Received): string | undefined {
  const v = m.parsed.headers.get('x-xtconnect-batch-id');
  return typeof v === 'string' ? v : undefined;
}

/** The messages the server received for one job (by its X-xtconnect-Batch-Id header). */
export function messagesFor(smtp: TestSmtp, id: number): Received[] {
  return smtp.messages.filter((m) => batchIdOf(m) === String(id));
}

/** Addresses of a parsed To/Cc/Reply-To header, lower-cased, in order. */
export function addressesOf(field: Received['parsed']['to']): string[] {
  if (!field) return [];
  const list = Array.isArray(field) ? field : [field];
  return list.flatMap((a) => a.value.map((v) => (v.address ?? '').toLowerCase()));
}

/** A logger that keeps every line (JSON, debug level and up) in `lines`. */
export function captureLogger(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer | string, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  const log = winston.createLogger({
    level: 'debug',
    format: winston.format.json(),
    transports: [new winston.transports.Stream({ stream })],
  });
  return { log, lines };
}

export interface EmailFields {
  batch_action?: string;
  batch_email?: string | null;
  batch_cc?: string | null;
  batch_bcc?: string | null;
  batch_replyto?: string | null;
  batch_fromemail?: string | null;
  batch_subject?: string | null;
  batch_responsebody?: string | null;
  batch_filename?: string | null;
  batch_emailhtml?: boolean | null;
  batch_timeout_seconds?: number | null;
  batch_max_attempts?: number | null;
}

/** Something to run SQL on: the test pool, or a client holding a transaction. */
export interface Queryable {
  query(text: string, values?: unknown[]): Promise<{ rows: Array<Record<string, unknown>> }>;
}

/** Inserts a job row directly (as ERP code or a person with psql would); `q` may be a transaction's client. */
export async function insertJob(q: Queryable, fields: EmailFields): Promise<number> {
  const all: EmailFields = { batch_action: 'Email', batch_fromemail: 'sender@example.com', batch_subject: 'test', batch_responsebody: 'body', ...fields };
  const cols = Object.keys(all);
  const values = Object.values(all);
  const { rows } = await q.query(
    `INSERT INTO xtbatch.batch (${cols.join(', ')}) VALUES (${cols.map((_, i) => `$${i + 1}`).join(', ')}) RETURNING batch_id`,
    values,
  );
  return Number(rows[0]!.batch_id);
}
