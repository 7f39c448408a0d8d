import { createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { finished } from 'node:stream/promises';
import type { Writable } from 'node:stream';
import type { Pool } from '../db/pool';
import { PermanentError } from '../errors';
import type { Logger } from '../log';
import { writeCsv, type CsvOptions } from './csv';
import type { OutputFormat } from './filename';
import type { MetaParams } from './metasql';
import { renderPdf, type ReportDefinition } from './openrpt';
import { FontLibrary, type ReportFontFile } from './openrpt/fonts';
import { DatabaseReportData } from './query';

export interface RenderRequest {
  pool: Pool;
  def: ReportDefinition;
  params: MetaParams;
  format: OutputFormat;
  /** CSV only: which query, and how. */
  csv?: CsvOptions & { query: string | null };
  queryTimeoutSeconds: number;
  /** An administrator's fonts (reports.fonts): for faces, and fallbacks for characters DejaVu lacks (CJK, …). */
  fonts?: readonly ReportFontFile[];
  signal?: AbortSignal;
  log?: Logger;
}

/** One library per configured list: its font chains are worked out once, not per report. */
const libraries = new WeakMap<readonly ReportFontFile[], FontLibrary>();
const BUILT_IN = new FontLibrary();

function libraryFor(fonts: readonly ReportFontFile[] | undefined): FontLibrary {
  if (!fonts || fonts.length === 0) return BUILT_IN;
  let lib = libraries.get(fonts);
  if (!lib) {
    lib = new FontLibrary(fonts);
    libraries.set(fonts, lib);
  }
  return lib;
}

export interface RenderOutcome {
  file: string;
  bytes: number;
  pages?: number;
  rows?: number;
  /** CSV: the query whose rows the file holds. */
  query?: string;
}

/**
 * The query a CSV export takes when the job names none: the key query of the report's first detail section
 * (the rows the report is about), else its first query.
 */
export function defaultCsvQuery(def: ReportDefinition): string | null {
  for (const s of def.sections) {
    if (s.keyQuery && def.queries.some((d) => d.name === s.keyQuery)) return s.keyQuery;
  }
  return def.queries[0]?.name ?? null;
}

async function renderInto(req: RenderRequest, out: Writable): Promise<Omit<RenderOutcome, 'file' | 'bytes'>> {
  const data = await DatabaseReportData.open({
    pool: req.pool, def: req.def, params: req.params, queryTimeoutSeconds: req.queryTimeoutSeconds, signal: req.signal, log: req.log,
  });
  try {
    if (req.format === 'pdf') {
      const { pages } = await renderPdf(req.def, data, out, {
        parameters: req.params, reportDate: data.reportDate, reportTime: data.reportTime, fonts: libraryFor(req.fonts),
      });
      return { pages };
    }
    const query = req.csv?.query ?? defaultCsvQuery(req.def);
    if (!query) throw new PermanentError(`report "${req.def.name}" has no query to export as CSV`);
    const table = await data.openTable(query);
    if (!table) {
      throw new PermanentError(`report "${req.def.name}" has no query named "${query}" (it has ${req.def.queries.map((q) => q.name).join(', ') || 'none'})`);
    }
    const { rows } = await writeCsv(table, out, { delimiter: req.csv?.delimiter ?? ',', header: req.csv?.header ?? true });
    return { rows, query };
  } finally {
    await data.close();
  }
}

/**
 * Renders into `target` the safe way: a temporary file beside it, written, flushed to disk (fsync) and renamed,
 * so whoever picks the file up (the mailer, an upload, a person) never sees half a report, and a crash leaves
 * no file under the final name.
 */
export async function renderToFile(req: RenderRequest, target: string): Promise<RenderOutcome> {
  const dir = path.dirname(target);
  await fs.mkdir(dir, { recursive: true });
  const tmp = path.join(dir, `.${path.basename(target)}.${process.pid}.tmp`);
  let renamed = false;
  try {
    // An ordinary file stream, closed when it ends: the PDF writer waits for 'close' before it returns.
    const out = createWriteStream(tmp, { mode: 0o640 });
    let result: Omit<RenderOutcome, 'file' | 'bytes'>;
    try {
      result = await renderInto(req, out);
    } finally {
      if (!out.writableEnded) out.end();
      await finished(out).catch(() => undefined);
    }
    if (out.errored) throw out.errored;
    // fsync works on the file, whichever descriptor asks: the data is on disk before the name appears.
    const fh = await fs.open(tmp, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fs.rename(tmp, target);
    renamed = true;
    const { size } = await fs.stat(target);
    return { file: target, bytes: size, ...result };
  } finally {
    if (!renamed) await fs.rm(tmp, { force: true });
  }
}
