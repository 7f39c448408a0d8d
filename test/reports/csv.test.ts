import fs from 'node:fs';
import path from 'node:path';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { tempDir } from '../support/tempDirs';
import { csvField, csvLine, parseDelimiter, tableFromRows, writeCsv, type TableStream } from '../../src/reports/csv';
import { parseDefinition } from '../../src/reports/openrpt';
import { DatabaseReportData, FETCH_ROWS } from '../../src/reports/query';

/** An in-memory table: what writeCsv sees from a query, without a database. */
function table(columns: string[], rows: unknown[][]): TableStream {
  let i = 0;
  let closed = false;
  return {
    columns: () => columns,
    next: async () => (closed ? null : rows[i++] ?? null),
    close: async () => {
      closed = true;
    },
  };
}

async function csvOf(t: TableStream, delimiter = ',', header = true): Promise<{ text: string; rows: number; bytes: number }> {
  const file = path.join(tempDir('xtc-csv-'), 'out.csv');
  const out = fs.createWriteStream(file);
  const r = await writeCsv(t, out, { delimiter, header });
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
  return { text: fs.readFileSync(file, 'utf8'), ...r };
}

describe('CSV fields (RFC 4180)', () => {
  it('leaves plain values alone and quotes a field holding the delimiter, a quote, CR or LF', () => {
    expect(csvField('plain', ',')).toBe('plain');
    expect(csvField('a,b', ',')).toBe('"a,b"');
    expect(csvField('a,b', ';')).toBe('a,b');
    expect(csvField('a;b', ';')).toBe('"a;b"');
    expect(csvField('a\tb', '\t')).toBe('"a\tb"');
    expect(csvField('a|b', '|')).toBe('"a|b"');
    expect(csvField('say "hi"', ',')).toBe('"say ""hi"""');
    expect(csvField('"', ',')).toBe('""""');
    expect(csvField('line1\nline2', ',')).toBe('"line1\nline2"');
    expect(csvField('line1\r\nline2', ',')).toBe('"line1\r\nline2"');
    expect(csvField('cr\ronly', ',')).toBe('"cr\ronly"');
  });

  it('quotes leading and trailing blanks so a reader that trims keeps them', () => {
    expect(csvField(' padded', ',')).toBe('" padded"');
    expect(csvField('padded ', ',')).toBe('"padded "');
    expect(csvField('in side', ',')).toBe('in side');
  });

  it('writes NULL as an empty field, dates as ISO, numbers as text, binary as hex, unicode as is', () => {
    expect(csvField(null, ',')).toBe('');
    expect(csvField(undefined, ',')).toBe('');
    expect(csvField(new Date('2026-07-01T12:30:00Z'), ',')).toBe('2026-07-01T12:30:00.000Z');
    expect(csvField(12.5, ',')).toBe('12.5');
    expect(csvField(0, ',')).toBe('0');
    expect(csvField(Buffer.from([0xde, 0xad]), ',')).toBe('\\xdead');
    expect(csvField('Zoë – 東京 🚚', ',')).toBe('Zoë – 東京 🚚');
    expect(csvLine(['a', null, 'c'], ',')).toBe('a,,c\r\n');
    expect(csvLine(['', ''], ';')).toBe(';\r\n');
  });

  it('knows the four delimiters by character and by name, and nothing else', () => {
    expect(parseDelimiter(',')).toBe(',');
    expect(parseDelimiter(';')).toBe(';');
    expect(parseDelimiter('semicolon')).toBe(';');
    expect(parseDelimiter('tab')).toBe('\t');
    expect(parseDelimiter('TAB')).toBe('\t');
    expect(parseDelimiter('\t')).toBe('\t');
    expect(parseDelimiter('\\t')).toBe('\t');
    expect(parseDelimiter('|')).toBe('|');
    expect(parseDelimiter('pipe')).toBe('|');
    expect(parseDelimiter(':')).toBeNull();
    expect(parseDelimiter('')).toBeNull();
  });
});

describe('writeCsv', () => {
  it('writes a header and CRLF-ended lines, and counts rows and bytes', async () => {
    const r = await csvOf(table(['code', 'name', 'note'], [['A1', 'Zoë', null], ['B2', 'say "hi"', 'x,y']]));
    expect(r.text).toBe('code,name,note\r\nA1,Zoë,\r\nB2,"say ""hi""","x,y"\r\n');
    expect(r.rows).toBe(2);
    expect(r.bytes).toBe(Buffer.byteLength(r.text));
  });

  it('leaves the header out when asked, and uses ; and tab', async () => {
    expect((await csvOf(table(['a', 'b'], [['1', '2;3']]), ';', false)).text).toBe('1;"2;3"\r\n');
    expect((await csvOf(table(['a', 'b'], [['1', '2,3']]), '\t', true)).text).toBe('a\tb\r\n1\t2,3\r\n');
  });

  it('writes only the header for an empty result, and nothing at all without one', async () => {
    expect((await csvOf(table(['a', 'b'], []))).text).toBe('a,b\r\n');
    expect((await csvOf(table(['a', 'b'], []), ',', false)).text).toBe('');
  });

  it('takes the columns from the first row of an object stream', async () => {
    const rows = [{ x: 1, y: 'one' }, { x: 2, y: 'two' }];
    let i = 0;
    const t = tableFromRows({ next: async () => rows[i++] ?? null, close: async () => undefined });
    expect((await csvOf(t)).text).toBe('x,y\r\n1,one\r\n2,two\r\n');
  });

  it('closes the table when writing fails', async () => {
    let closed = false;
    const t: TableStream = { columns: () => ['a'], next: async () => ['1'], close: async () => { closed = true; } };
    const file = path.join(tempDir('xtc-csv-'), 'gone', 'out.csv'); // its folder does not exist
    const out = fs.createWriteStream(file);
    out.on('error', () => undefined);
    await expect(writeCsv(t, out, { delimiter: ',', header: true })).rejects.toThrow(/ENOENT/);
    expect(closed).toBe(true);
  });
});

describe('CSV from the database', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db.drop();
  });

  const def = (sql: string) => parseDefinition(
    `<report><name>CsvTest</name><querysource><name>detail</name><sql>${sql.replace(/&/g, '&amp;').replace(/</g, '&lt;')}</sql></querysource></report>`,
    'CsvTest',
  );

  it('keeps numeric digits, dates, NULL, booleans, bytea and duplicate column names as the database has them', async () => {
    const data = await DatabaseReportData.open({
      pool: db.pool, params: new Map(), queryTimeoutSeconds: 30,
      def: def(`SELECT 12.50::numeric AS amount, 12345678901234567890.123456789::numeric AS big, NULL::text AS nothing,
                       DATE '2026-07-01' AS d, TIMESTAMP '2026-07-01 08:30:00' AS ts, true AS yes, '\\xdead'::bytea AS bin,
                       'Zoë, "quoted"' AS name, 1 AS dup, 2 AS dup`),
    });
    try {
      const t = (await data.openTable('detail'))!;
      const r = await csvOf(t);
      expect(r.text).toBe('amount,big,nothing,d,ts,yes,bin,name,dup,dup\r\n' +
        '12.50,12345678901234567890.123456789,,2026-07-01,2026-07-01 08:30:00,true,\\xdead,"Zoë, ""quoted""",1,2\r\n');
    } finally {
      await data.close();
    }
  });

  it('streams a result larger than one FETCH, in order, with every row once', async () => {
    const n = FETCH_ROWS * 3 + 7;
    const data = await DatabaseReportData.open({
      pool: db.pool, params: new Map([['n', n]]), queryTimeoutSeconds: 30,
      def: def(`SELECT g AS line, 'row ' || g AS label FROM generate_series(1, <? value("n") ?>) g ORDER BY g`),
    });
    try {
      const r = await csvOf((await data.openTable('detail'))!, ';');
      const lines = r.text.split('\r\n');
      expect(lines[0]).toBe('line;label');
      expect(r.rows).toBe(n);
      expect(lines.slice(1, -1)).toEqual(Array.from({ length: n }, (_, i) => `${i + 1};row ${i + 1}`));
      expect(lines[lines.length - 1]).toBe('');
    } finally {
      await data.close();
    }
  });
});
