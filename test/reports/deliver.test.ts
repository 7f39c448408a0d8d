/**
 * RunReport end to end: the ERP's call (xtbatch.submitReportToBatch plus batchparam rows), a daemon with the
 * RunReport handler, and the report arriving where the job says: by mail through a real SMTP server, into a
 * folder, and onto a real FTP server.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../../src/config';
import { runReportHandler } from '../../src/handlers/report';
import { parseEndpoints } from '../../src/config';
import { startDaemon } from '../support/daemon';
import { databaseSuite } from '../support/suite';
import { pdfText } from '../support/pdfText';
import { startSmtp } from '../support/smtp';
import { tempDir } from '../support/tempDirs';
import { waitFor } from '../support/wait';
import { configMaker, smtpSection } from '../handlers/helpers';
import { filesUnder, startFtp, startSftp } from '../transfer/servers';
import { loadReportFixtures } from './dbFixtures';

const { config, cleanup } = configMaker();
const suite = databaseSuite(`TRUNCATE xtbatch.batch, xtbatch.batchparam, xtbatch.daemon CASCADE`);
beforeAll(async () => {
  await loadReportFixtures(suite.db.pool);
  await suite.db.pool.query(`SELECT xtbatch.setsetting('EnableBatchManager', 't')`);
});
afterAll(() => cleanup());

interface ReportRow {
  batch_id: number;
  batch_completed: string | null;
  batch_exitstatus: string | null;
  batch_result: {
    report: string; file: string; format: string; bytes: number; pages?: number; rows?: number; query?: string;
    delivered: Array<{ to: string; path?: string; endpoint?: string; remoteName?: string; accepted?: string[] }>;
  } | null;
}

interface Submit {
  report: string;
  from?: string | null;
  to?: string | null;
  cc?: string | null;
  subject?: string | null;
  body?: string | null;
  filename?: string | null;
  html?: boolean;
  params?: Array<[name: string, value: string, type?: string]>;
}

/** What the ERP does: submitReportToBatch, then the report's parameters, in one transaction. */
async function submitReport(s: Submit): Promise<number> {
  const c = await suite.db.pool.connect();
  try {
    await c.query('BEGIN');
    const { rows } = await c.query<{ id: number }>(
      `SELECT xtbatch.submitReportToBatch($1, $2, $3, $4, $5, $6, $7, NULL::timestamp, $8) AS id`,
      [s.report, s.from ?? null, s.to ?? null, s.cc ?? null, s.subject ?? null, s.body ?? null, s.filename ?? null, s.html ?? false]);
    const id = rows[0]!.id;
    for (const [i, [name, value, type]] of (s.params ?? []).entries()) {
      await c.query(`INSERT INTO xtbatch.batchparam (batchparam_batch_id, batchparam_order, batchparam_name, batchparam_value, batchparam_type)
                     VALUES ($1, $2, $3, $4, $5)`, [id, i + 1, name, value, type ?? 'QString']);
    }
    await c.query('COMMIT');
    return id;
  } catch (err) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    c.release();
  }
}

async function finished(id: number): Promise<ReportRow> {
  return waitFor(`job ${id} to finish`, async () => {
    const { rows } = await suite.db.pool.query<ReportRow>(
      `SELECT batch_id, batch_completed, batch_exitstatus, batch_result FROM xtbatch.batch WHERE batch_id = $1`, [id]);
    return rows[0]?.batch_completed ? rows[0] : null;
  }, 30_000);
}

async function daemon(cfg: Config): Promise<void> {
  suite.daemons.push(await startDaemon(cfg, { RunReport: runReportHandler }));
}

function expectInOrder(texts: string[], expected: string[]): void {
  const all = texts.join('\n');
  let at = 0;
  for (const want of expected) {
    const i = all.indexOf(want, at);
    if (i < 0) throw new Error(`"${want}" is missing after position ${at} in:\n${all.slice(at, at + 500)}`);
    at = i + want.length;
  }
}

it('mails the PDF, named from batch_filename, to the job\'s recipients', async () => {
  const smtp = await startSmtp();
  suite.servers.push(smtp);
  await daemon(config(suite.db.url, { smtp: smtpSection(smtp.port) }));
  const id = await submitReport({
    report: 'CreditMemo', from: 'Billing <billing@prodiem.example>', to: 'buyer@ttoys.example', cc: 'ap@ttoys.example',
    body: '<p>Your credit memo is attached.</p>', html: true, filename: 'CM-</docnumber>.pdf',
    params: [['cmhead_id', '1', 'int'], ['docnumber', '70001']],
  });
  const row = await finished(id);
  expect(row.batch_exitstatus ?? '').toBe('');
  const [mail] = await smtp.waitForMessages(1);
  expect(mail!.envelope.to.sort()).toEqual(['ap@ttoys.example', 'buyer@ttoys.example']);
  expect(mail!.parsed.subject).toBe('CreditMemo'); // submitReportToBatch's default subject: the report name
  expect(mail!.parsed.from?.text).toBe('"Billing" <billing@prodiem.example>');
  expect(mail!.parsed.html).toContain('Your credit memo is attached.');
  expect(mail!.parsed.attachments).toHaveLength(1);
  const att = mail!.parsed.attachments[0]!;
  expect(att.filename).toBe('CM-70001.pdf');
  expect(att.contentType).toBe('application/pdf');
  const { pages } = await pdfText(att.content);
  expectInOrder(pages.flat(), ['70001', 'Tremendous Toys Inc.', 'BTRUCK1', '50.00', 'WBASKET1', '12.50', '76.00']);
  expect(row.batch_result).toMatchObject({ report: 'CreditMemo', file: 'CM-70001.pdf', format: 'pdf', bytes: att.size, pages: pages.length });
  expect(row.batch_result!.delivered).toEqual([expect.objectContaining({ to: 'email', accepted: expect.arrayContaining(['buyer@ttoys.example']) })]);
});

it('copies into xtconnect_folder without replacing an earlier copy, and into reports.outputDir when nothing else is asked', async () => {
  const outputDir = tempDir('xtc-reports-out-');
  const folder = tempDir('xtc-reports-folder-');
  await daemon(config(suite.db.url, { reports: { outputDir, queryTimeoutSeconds: 30 } }));
  const first = await submitReport({ report: 'UOMs', params: [['xtconnect_folder', folder]] });
  const second = await submitReport({ report: 'UOMs', params: [['xtconnect_folder', folder]] });
  const plain = await submitReport({ report: 'UOMs' });
  const rows = await Promise.all([first, second, plain].map(finished));
  for (const r of rows) expect(r.batch_exitstatus ?? '').toBe('');
  expect(fs.readdirSync(folder).sort()).toEqual(['UOMs-1.pdf', 'UOMs.pdf']);
  expect(fs.readdirSync(outputDir)).toEqual(['UOMs.pdf']);
  const placed = rows.slice(0, 2).map((r) => r.batch_result!.delivered[0]!.path).sort();
  expect(placed).toEqual([path.join(folder, 'UOMs-1.pdf'), path.join(folder, 'UOMs.pdf')]);
  expectInOrder((await pdfText(path.join(outputDir, 'UOMs.pdf'))).pages.flat(), ['BX', 'Box', 'EA', 'Each', 'LB', 'Pound']);
});

it('refuses an xtconnect_folder outside the file roots', async () => {
  const cfg = config(suite.db.url, { daemon: { maxAttempts: 1 } });
  await daemon(cfg);
  const id = await submitReport({ report: 'UOMs', params: [['xtconnect_folder', '/etc']] });
  const row = await finished(id);
  expect(row.batch_exitstatus).toContain('parameter "xtconnect_folder" names "/etc", which is outside the folders jobs may use');
});

it('uploads to the FTP endpoint named by xtconnect_endpoint, as CSV when asked', async () => {
  const ftp = await startFtp();
  suite.servers.push(ftp);
  fs.mkdirSync(path.join(ftp.root, 'in'));
  const endpoints = parseEndpoints([{ name: 'partner', protocol: 'ftp', host: '127.0.0.1', port: ftp.port, user: ftp.user,
    password: ftp.password, timeoutMs: 5000 }], 'test config', {});
  await daemon({ ...config(suite.db.url), endpoints });
  const pdf = await submitReport({ report: 'PurchaseOrder', filename: 'PO-</docnumber>.pdf',
    params: [['pohead_id', '1', 'int'], ['title', 'Original'], ['showcosts', 'true', 'bool'], ['docnumber', '20055'], ['xtconnect_endpoint', 'partner']] });
  const csv = await submitReport({ report: 'UOMs', filename: 'uoms.csv',
    params: [['xtconnect_endpoint', 'partner'], ['xtconnect_remotedir', 'in'], ['xtconnect_csv_delimiter', ';']] });
  const [pdfRow, csvRow] = await Promise.all([finished(pdf), finished(csv)]);
  expect(pdfRow.batch_exitstatus ?? '').toBe('');
  expect(csvRow.batch_exitstatus ?? '').toBe('');
  const uploaded = path.join(ftp.root, 'PO-20055.pdf');
  expectInOrder((await pdfText(uploaded)).pages.flat(), ['20055', 'Acme Supply Co.', 'BTRUCK1', '82.50', '223.74']);
  expect(pdfRow.batch_result!.delivered).toEqual([expect.objectContaining({ to: 'endpoint', endpoint: 'partner', remoteName: 'PO-20055.pdf' })]);
  expect(fs.readFileSync(path.join(ftp.root, 'in', 'uoms.csv'), 'utf8')).toBe(
    'uom_name;uom_descrip\r\nBX;Box\r\nCS;Case\r\nEA;Each\r\nKG;Kilogram\r\nLB;Pound\r\n');
  expect(csvRow.batch_result).toMatchObject({ format: 'csv', rows: 5, query: 'detail', file: 'uoms.csv' });
  expect(fs.readdirSync(ftp.root).sort()).toEqual(['PO-20055.pdf', 'in']); // no temporary upload left behind
});

it('uploads to an SFTP endpoint (host key pinned by fingerprint)', async () => {
  const sftp = await startSftp();
  suite.servers.push(sftp);
  const endpoints = parseEndpoints([{ name: 'partner', protocol: 'sftp', host: '127.0.0.1', port: sftp.port, user: sftp.user,
    password: sftp.password, hostKey: { fingerprint: sftp.hostKey.fingerprint }, timeoutMs: 5000 }], 'test config', {});
  await daemon({ ...config(suite.db.url), endpoints });
  const id = await submitReport({ report: 'PurchaseOrder', filename: 'PO-</docnumber>.pdf',
    params: [['pohead_id', '1', 'int'], ['title', 'Original'], ['showcosts', 'true', 'bool'], ['docnumber', '20055'], ['xtconnect_endpoint', 'partner']] });
  const row = await finished(id);
  expect(row.batch_exitstatus ?? '').toBe('');
  expect(filesUnder(sftp.root)).toEqual(['PO-20055.pdf']);
  expectInOrder((await pdfText(path.join(sftp.root, 'PO-20055.pdf'))).pages.flat(), ['20055', 'Acme Supply Co.', 'BTRUCK1']);
  expect(row.batch_result!.delivered).toEqual([expect.objectContaining({ to: 'endpoint', endpoint: 'partner', remoteName: 'PO-20055.pdf' })]);
});

it('fails the job, naming batch_parameter, for a report the database does not have', async () => {
  await daemon(config(suite.db.url, { daemon: { maxAttempts: 3 } }));
  // (The shared fixtures hold an Invoice now; this name is in no table.)
  const id = await submitReport({ report: 'CommercialInvoice' });
  const row = await finished(id);
  expect(row.batch_exitstatus).toContain('batch_parameter names no report that can be run: no report named "CommercialInvoice" in report or xtbatch.xtconnect_report');
  const { rows } = await suite.db.pool.query<{ batch_attempts: number }>(`SELECT batch_attempts FROM xtbatch.batch WHERE batch_id = $1`, [id]);
  expect(rows[0]!.batch_attempts).toBe(1); // not retried
});
