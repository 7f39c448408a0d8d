import { JobInputError } from '../../src/errors';
import { checkPlainFileName, outputFileName, outputFormat } from '../../src/reports/filename';
import { parseListValue, reportParams } from '../../src/reports/params';
import type { MetaValue } from '../../src/reports/metasql';

const p = (o: Record<string, MetaValue>) => new Map(Object.entries(o));

function inputError(fn: () => unknown): JobInputError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(JobInputError);
    return err as JobInputError;
  }
  throw new Error('expected a JobInputError');
}

describe('the output file name', () => {
  const base = { batchId: 7, reportName: 'Invoice', format: 'pdf' as const };

  it('is the report name plus the format when batch_filename is empty', () => {
    expect(outputFileName({ ...base, pattern: null, params: p({}) })).toBe('Invoice.pdf');
    expect(outputFileName({ ...base, pattern: '  ', params: p({}), format: 'csv' })).toBe('Invoice.csv');
  });

  it('replaces </docnumber>, </doctype>, </docid> and any </param> naming a job parameter', () => {
    const params = p({ invchead_id: 42, docnumber: '60096', cust: 'TTOYS' });
    expect(outputFileName({ ...base, pattern: '</doctype>-</docnumber>-</docid>-</cust>.pdf', params })).toBe('Invoice-60096-42-TTOYS.pdf');
    // A parameter of the token's name wins over the fallback.
    expect(outputFileName({ ...base, pattern: '</doctype>.pdf', params: p({ doctype: 'INV' }) })).toBe('INV.pdf');
    // Parameter names are matched exactly first, then regardless of case.
    expect(outputFileName({ ...base, pattern: '</CUST>.pdf', params })).toBe('TTOYS.pdf');
  });

  it('fails naming batch_filename for a token the job has no value for', () => {
    const err = inputError(() => outputFileName({ ...base, pattern: 'IN</docnumber>.pdf', params: p({ invchead_id: 1 }) }));
    expect(err.field).toBe('batch_filename');
    expect(err.message).toBe('job 7: batch_filename uses the token </docnumber>, but the job has no parameter "docnumber" ' +
      '(its parameters: invchead_id); add the parameter or take the token out of the name');
    expect(inputError(() => outputFileName({ ...base, pattern: '</docid>.pdf', params: p({}) })).message).toMatch(/token <\/docid>/);
  });

  it('turns a .pdf name into .csv when CSV is asked for', () => {
    expect(outputFileName({ ...base, pattern: 'Invoice.pdf', params: p({}), format: 'csv' })).toBe('Invoice.csv');
    expect(outputFileName({ ...base, pattern: 'export.txt', params: p({}), format: 'csv' })).toBe('export.txt');
  });

  it('refuses folders, "..", control characters and empty names, also when they come from a parameter', () => {
    for (const bad of ['../etc/passwd', 'a/b.pdf', 'a\\b.pdf', '..', 'x..pdf', 'tab\there.pdf', 'nl\n.pdf', '\u007f.pdf', 'x'.repeat(256)]) {
      const err = inputError(() => outputFileName({ ...base, pattern: bad, params: p({}) }));
      expect(err.field).toBe('batch_filename');
      expect(err.message).toMatch(/must be a plain file name/);
    }
    const viaParam = inputError(() => outputFileName({ ...base, pattern: '</docnumber>.pdf', params: p({ docnumber: '../../x' }) }));
    expect(viaParam.message).toContain('"../../x.pdf"');
    expect(checkPlainFileName(1, 'f', 'Rechnung Nr. 5 (Kopie) – Zoë.pdf')).toBe('Rechnung Nr. 5 (Kopie) – Zoë.pdf');
  });
});

describe('the output format', () => {
  it('is PDF unless the name ends in .csv or xtconnect_format says csv', () => {
    expect(outputFormat(1, null, 'Invoice.pdf')).toBe('pdf');
    expect(outputFormat(1, null, null)).toBe('pdf');
    expect(outputFormat(1, null, 'export.CSV')).toBe('csv');
    expect(outputFormat(1, 'csv', 'Invoice.pdf')).toBe('csv');
    expect(outputFormat(1, 'PDF', 'x.csv')).toBe('pdf');
  });

  it('refuses any other xtconnect_format', () => {
    const err = inputError(() => outputFormat(3, 'xlsx', null));
    expect(err.field).toBe('parameter "xtconnect_format"');
    expect(err.message).toBe('job 3: parameter "xtconnect_format" is "xlsx" but must be pdf or csv');
  });
});

describe('report parameters from batchparam rows', () => {
  const row = (name: string, value: string | null, type = 'QString', order = 1) => ({ name, value, type, order });

  it('converts scalars by their Qt type and keeps delivery options apart', () => {
    const r = reportParams(5, [
      row('invchead_id', '42', 'int'), row('title', 'Original'), row('showcosts', 'true', 'bool'), row('asOf', '2026-06-30', 'QDate'),
      row('xtconnect_endpoint', 'acme'), row('XTCONNECT_Format', 'csv'),
    ]);
    expect([...r.report]).toEqual([['invchead_id', 42], ['title', 'Original'], ['showcosts', true], ['asOf', '2026-06-30']]);
    expect([...r.delivery]).toEqual([['endpoint', 'acme'], ['format', 'csv']]);
  });

  it('parses xTuple list parameters ("type":"value",...) into typed arrays', () => {
    const r = reportParams(5, [
      row('ids', '"int":"1","int":"22", "int":"333"', 'QVariantList'),
      row('codes', '"QString":"A, B","QString":"say \\"hi\\""', 'QStringList'),
      row('empty', '', 'list'),
      row('plain', 'x, y,z', 'QStringList'),
    ]);
    expect(r.report.get('ids')).toEqual([1, 22, 333]);
    expect(r.report.get('codes')).toEqual(['A, B', 'say "hi"']);
    expect(r.report.get('empty')).toEqual([]);
    expect(r.report.get('plain')).toEqual(['x', 'y', 'z']);
  });

  it('fails naming the parameter for a malformed list or a bad element', () => {
    const unclosed = inputError(() => parseListValue(9, 'ids', '"int":"1'));
    expect(unclosed.field).toBe('parameter "ids"');
    expect(unclosed.message).toMatch(/a quote is not closed/);
    expect(inputError(() => parseListValue(9, 'ids', '"int":"1" "int":"2"')).message).toMatch(/a comma is missing/);
    expect(inputError(() => parseListValue(9, 'ids', '"int":"one"')).message).toBe(
      'job 9: parameter "ids" has type int but its value "one" is not a whole number');
  });
});
