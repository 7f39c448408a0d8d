import type { Config } from '../../src/config';
import type { BatchParamRow, BatchRow } from '../../src/db/queries/batch';
import type { JobContext, Services } from '../../src/handlers/types';
import { parseParams } from '../../src/jobs/params';
import { silentLogger } from '../../src/log';
import { createMailer } from '../../src/mail/transport';
import type { TestDatabase } from '../support/db';

let nextId = 900_000;

/** A RunReport job row as submitReportToBatch writes it, for calling the handler without a daemon. */
export function reportJob(report: string | null, over: Partial<BatchRow> = {}, params: Array<[string, string | null, string?]> = []): BatchRow {
  const rows: BatchParamRow[] = params.map(([name, value, type], i) => ({ order: i + 1, name, value, type: type ?? 'QString' }));
  return {
    batch_id: nextId++, batch_action: 'RunReport', batch_parameter: report, batch_user: 'test', batch_email: null,
    batch_submitted: null, batch_scheduled: '2026-01-01 00:00:00', batch_started: null, batch_responsebody: null,
    batch_subject: null, batch_filename: null, batch_fromemail: null, batch_reschedinterval: null, batch_cc: null,
    batch_bcc: null, batch_replyto: null, batch_emailhtml: false, batch_recurring_batch_id: null, batch_priority: 0,
    batch_attempts: 1, batch_max_attempts: null, batch_timeout_seconds: null, params: rows, ...over,
  };
}

/** The JobContext the executor would build for `job`. */
export function jobContext(db: TestDatabase, cfg: Config, job: BatchRow, opts: { signal?: AbortSignal; services?: Services; defaultFrom?: string | null } = {}): JobContext {
  return {
    job,
    params: parseParams(job.batch_id, job.params),
    log: silentLogger(),
    signal: opts.signal ?? new AbortController().signal,
    pool: db.pool,
    settings: { enabled: true, defaultFrom: opts.defaultFrom === undefined ? 'reports@example.com' : opts.defaultFrom, purgeDays: null, createContacts: false, exclusions: [] },
    cfg,
    services: opts.services ?? { mailer: createMailer(cfg) },
  };
}
