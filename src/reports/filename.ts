import { JobInputError } from '../errors';
import type { MetaValue } from './metasql';

export type OutputFormat = 'pdf' | 'csv';

/** `</name>`: xTuple's EDI token syntax (ediform file names, subjects, bodies). */
const TOKEN = /<\/([A-Za-z_][A-Za-z0-9_]*)>/g;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

export interface FileNameInput {
  batchId: number;
  reportName: string;
  /** batch_filename as the job row holds it; null or blank means "the report's name". */
  pattern: string | null;
  /** The job's report parameters, for `</param>` tokens and for docnumber/doctype/docid. */
  params: ReadonlyMap<string, MetaValue>;
  format: OutputFormat;
}

function text(v: MetaValue | undefined): string | null {
  if (v === undefined || v === null) return null;
  if (Array.isArray(v)) return v.length ? text(v[0]) : null;
  if (v instanceof Date) return v.toISOString().slice(0, 10);
  const s = String(v).trim();
  return s === '' ? null : s;
}

function lookup(params: ReadonlyMap<string, MetaValue>, name: string): string | null {
  if (params.has(name)) return text(params.get(name));
  for (const [k, v] of params) if (k.toLowerCase() === name.toLowerCase()) return text(v);
  return null;
}

/**
 * What the three EDI tokens mean for a report job, which has no document of its own: the parameter of that name
 * when the job has one; otherwise `</doctype>` is the report's name and `</docid>` the first parameter whose name
 * ends in `_id` (invchead_id, cmhead_id, pohead_id: the document the report prints). `</docnumber>` has no
 * fallback: a number that is not the document's would be worse than an error.
 */
function tokenValue(input: FileNameInput, token: string): string | null {
  const direct = lookup(input.params, token);
  if (direct !== null) return direct;
  switch (token.toLowerCase()) {
    case 'doctype':
      return input.reportName;
    case 'docid':
      for (const [k, v] of input.params) if (/_id$/i.test(k) && text(v) !== null) return text(v);
      return null;
    default:
      return null;
  }
}

/** Refuses anything but one plain file name: it is joined to folders on this machine and on remote servers. */
export function checkPlainFileName(batchId: number, field: string, name: string): string {
  const problem = name.trim() === '' ? 'is empty'
    : name.includes('/') || name.includes('\\') ? 'contains a folder separator (/ or \\)'
      : name.includes('..') ? 'contains ".."'
        : CONTROL.test(name) ? 'contains a control character'
          : Buffer.byteLength(name) > 255 ? 'is longer than 255 bytes'
            : null;
  if (problem) {
    throw new JobInputError(batchId, field, `gives the file name ${JSON.stringify(name)}, which ${problem}: ` +
      'it must be a plain file name such as Invoice-</docnumber>.pdf (the folder is chosen by the delivery settings)');
  }
  return name;
}

/**
 * The output file's name: batch_filename with its `</token>`s replaced, or "<report>.pdf|.csv". When the job
 * asks for CSV and the name ends in .pdf (xTuple's submitReportToBatch defaults to "<report>.pdf"), the
 * extension becomes .csv, so the file says what it holds.
 */
export function outputFileName(input: FileNameInput): string {
  const ext = `.${input.format}`;
  const pattern = input.pattern?.trim() || `${input.reportName}${ext}`;
  const name = pattern.replace(TOKEN, (_, token: string) => {
    const v = tokenValue(input, token);
    if (v === null) {
      const known = [...input.params.keys()];
      throw new JobInputError(input.batchId, 'batch_filename', `uses the token </${token}>, but the job has no parameter "${token}" ` +
        `(its parameters: ${known.length ? known.join(', ') : 'none'}); add the parameter or take the token out of the name`);
    }
    return v;
  });
  const fixed = input.format === 'csv' && /\.pdf$/i.test(name) ? name.slice(0, -4) + ext : name;
  return checkPlainFileName(input.batchId, 'batch_filename', fixed);
}

/** CSV when xtconnect_format says so, or (with no xtconnect_format) when batch_filename ends in .csv. */
export function outputFormat(batchId: number, formatParam: string | null | undefined, pattern: string | null): OutputFormat {
  const f = formatParam?.trim().toLowerCase();
  if (f) {
    if (f !== 'pdf' && f !== 'csv') {
      throw new JobInputError(batchId, 'parameter "xtconnect_format"', `is "${formatParam}" but must be pdf or csv`);
    }
    return f;
  }
  return pattern && /\.csv\s*$/i.test(pattern) ? 'csv' : 'pdf';
}
