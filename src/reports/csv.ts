import type { Writable } from 'node:stream';
import type { RowStream } from './openrpt';

/** The delimiters an EDI partner asks for; anything else is most likely a typing mistake. */
export const CSV_DELIMITERS: Readonly<Record<string, string>> = {
  ',': ',', comma: ',',
  ';': ';', semicolon: ';',
  '\t': '\t', '\\t': '\t', tab: '\t',
  '|': '|', pipe: '|',
};

/** `;`, `tab`, `comma`, ... → the character, or null when it is not one of the four. */
export function parseDelimiter(spec: string): string | null {
  return CSV_DELIMITERS[spec] ?? CSV_DELIMITERS[spec.trim().toLowerCase()] ?? null;
}

export interface CsvOptions {
  delimiter: string;
  header: boolean;
}

/** Rows as value lists in column order: keeps duplicate column names, which an object per row cannot. */
export interface TableStream {
  /** Column names; known once the first next() has returned (even when it returned null). */
  columns(): readonly string[];
  next(): Promise<readonly unknown[] | null>;
  close(): Promise<void>;
}

/** A RowStream of objects (memoryData, tests) as a TableStream: the first row's keys are the columns. */
export function tableFromRows(rows: RowStream, columns: readonly string[] = []): TableStream {
  let cols = columns;
  return {
    columns: () => cols,
    async next() {
      const r = await rows.next();
      if (!r) return null;
      if (!cols.length) cols = Object.keys(r);
      return cols.map((c) => r[c]);
    },
    close: () => rows.close(),
  };
}

/**
 * One value as CSV text. Dates are ISO 8601; binary is PostgreSQL's hex form (\x...); NULL is an empty field.
 * Numbers are the database's own text when they come from a query (numeric keeps every digit).
 */
export function csvText(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v;
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? '' : v.toISOString();
  if (Buffer.isBuffer(v)) return `\\x${v.toString('hex')}`;
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

/**
 * RFC 4180: a field holding the delimiter, a quote, CR or LF is quoted, with quotes doubled. Leading or
 * trailing blanks are quoted too: spreadsheet imports trim unquoted fields, and a padded code must stay padded.
 */
export function csvField(v: unknown, delimiter: string): string {
  const s = csvText(v);
  if (s === '') return s;
  const needs = s.includes(delimiter) || s.includes('"') || s.includes('\r') || s.includes('\n') ||
    /^\s|\s$/.test(s);
  return needs ? `"${s.replace(/"/g, '""')}"` : s;
}

export function csvLine(values: readonly unknown[], delimiter: string): string {
  let line = '';
  for (let i = 0; i < values.length; i++) line += (i ? delimiter : '') + csvField(values[i], delimiter);
  return line + '\r\n';
}

function write(out: Writable, chunk: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    out.once('error', onError);
    const ok = out.write(chunk, (err) => {
      if (err) reject(err);
    });
    const done = (): void => {
      out.off('error', onError);
      resolve();
    };
    if (ok) done();
    else out.once('drain', done);
  });
}

/** How much text is gathered before one write: big enough to be cheap, small enough to keep memory flat. */
const CHUNK = 64 * 1024;

/**
 * Streams a table to `out` as CSV (CRLF line ends, UTF-8, no byte order mark) and returns rows and bytes
 * written. The caller ends `out`; the table is closed here, also on error.
 */
export async function writeCsv(table: TableStream, out: Writable, opts: CsvOptions): Promise<{ rows: number; bytes: number }> {
  let rows = 0;
  let bytes = 0;
  let pending = '';
  const flush = async (): Promise<void> => {
    if (!pending) return;
    bytes += Buffer.byteLength(pending);
    const chunk = pending;
    pending = '';
    await write(out, chunk);
  };
  try {
    let row = await table.next();
    if (opts.header && table.columns().length) pending += csvLine(table.columns(), opts.delimiter);
    while (row) {
      pending += csvLine(row, opts.delimiter);
      rows++;
      if (pending.length >= CHUNK) await flush();
      row = await table.next();
    }
    await flush();
  } finally {
    await table.close();
  }
  return { rows, bytes };
}
