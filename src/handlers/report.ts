import path from 'node:path';
import { JobInputError } from '../errors';
import { parseDelimiter } from '../reports/csv';
import { loadReport } from '../reports/definitions';
import { checkDeliveryOptions, deliver, planDelivery, type Delivered } from '../reports/deliver';
import { outputFileName, outputFormat, type OutputFormat } from '../reports/filename';
import { reportParams } from '../reports/params';
import { renderToFile } from '../reports/renderFile';
import type { Handler } from './types';

export interface ReportResult {
  report: string;
  grade: number;
  /** Which table the definition came from: public.report or xtbatch.xtconnect_report. */
  definition: string;
  format: OutputFormat;
  file: string;
  bytes: number;
  pages?: number;
  rows?: number;
  query?: string;
  delivered: Delivered[];
}

function csvHeader(batchId: number, v: string | null | undefined): boolean {
  if (v === undefined || v === null || v.trim() === '') return true;
  const s = v.trim().toLowerCase();
  if (['true', 't', '1', 'yes', 'on'].includes(s)) return true;
  if (['false', 'f', '0', 'no', 'off'].includes(s)) return false;
  throw new JobInputError(batchId, 'parameter "xtconnect_csv_header"', `is "${v}" but must be true or false`);
}

/**
 * RunReport: batch_parameter names the report; its parameters are the job's batchparam rows (xtconnect_* rows
 * are delivery options). The output is rendered into the spool folder (<spoolDir>/<batch_id>/<file name>),
 * where it stays for the record and for an Email job that names it, then delivered.
 */
export const runReportHandler: Handler = async (ctx): Promise<ReportResult> => {
  const { job, cfg } = ctx;
  const id = job.batch_id;
  const reportName = job.batch_parameter?.trim();
  if (!reportName) {
    throw new JobInputError(id, 'batch_parameter', 'is empty: a RunReport job names the report to run there (report_name in report or xtbatch.xtconnect_report)');
  }
  const { report: params, delivery: options } = reportParams(id, job.params);
  checkDeliveryOptions(id, options);
  const format = outputFormat(id, options.get('format'), job.batch_filename);
  const delimiterSpec = options.get('csv_delimiter');
  const delimiter = delimiterSpec ? parseDelimiter(delimiterSpec) : ',';
  if (!delimiter) {
    throw new JobInputError(id, 'parameter "xtconnect_csv_delimiter"', `is ${JSON.stringify(delimiterSpec)} but must be one of , ; | or tab`);
  }
  const header = csvHeader(id, options.get('csv_header'));

  const loaded = await loadReport(ctx.pool, reportName, (message) => new JobInputError(id, 'batch_parameter', `names no report that can be run: ${message}`));
  const name = outputFileName({ batchId: id, reportName, pattern: job.batch_filename, params, format });
  const plan = await planDelivery(ctx, reportName, options);

  const target = path.join(cfg.spoolDir, String(id), name);
  const out = await renderToFile({
    pool: ctx.pool, def: loaded.def, params, format, queryTimeoutSeconds: cfg.reports.queryTimeoutSeconds, fonts: cfg.reports.fonts,
    csv: { delimiter, header, query: options.get('query')?.trim() || null }, signal: ctx.signal, log: ctx.log,
  }, target);
  ctx.log.info(`rendered report ${reportName} to ${out.file} (${out.bytes} bytes` +
    (out.pages !== undefined ? `, ${out.pages} pages` : '') + (out.rows !== undefined ? `, ${out.rows} rows` : '') + ')');

  const delivered = await deliver(ctx, plan, out.file, name, format === 'pdf' ? 'application/pdf' : 'text/csv; charset=utf-8');
  return {
    report: reportName, grade: loaded.stored.grade, definition: loaded.stored.origin, format, file: name, bytes: out.bytes,
    ...(out.pages !== undefined ? { pages: out.pages } : {}),
    ...(out.rows !== undefined ? { rows: out.rows, query: out.query } : {}),
    delivered,
  };
};
